import CostModel
import Foundation
import Ingest
import Yams

/// What a private or public OpenStack cloud charges, from a file the operator keeps: a price per
/// flavour (or per vCPU and GB of RAM, as VK Cloud prices), per volume type and GB, per floating
/// IP, load balancer and share type and GB, each by the hour or by the month, in one currency,
/// from an effective date. `type: openstack` has no bill to read; this list is its cost
/// (docs/providers/openstack.md has both formats).
package struct PriceList: Sendable, Equatable {
    /// What one price is for.
    enum Unit: String, Sendable, CaseIterable {
        case hour, month
        case gbHour = "gb_hour", gbMonth = "gb_month"

        var perGB: Bool { self == .gbHour || self == .gbMonth }
    }

    struct Price: Sendable, Equatable {
        var amount: Decimal
        var unit: Unit

        /// The rate of one resource: a per-GB price times its size; a monthly price spread over
        /// `hoursPerMonth` hours (kept as a monthly rate, so that it stays exact).
        func rate(gigabytes: Int, currency: Currency, hoursPerMonth: Decimal) -> Rate {
            let amount = unit.perGB ? amount * Decimal(gigabytes) : amount
            let hours: Decimal = unit == .hour || unit == .gbHour ? 1 : hoursPerMonth
            return Rate(amount: amount, currency: currency, periodHours: hours)
        }
    }

    /// The kinds of row a price list has.
    enum Kind: String, Sendable, CaseIterable {
        case flavor, volumeType = "volume_type", floatingIP = "floating_ip", loadBalancer = "load_balancer", shareType = "share_type"
        /// Component prices: one vCPU, one GB of RAM.
        case vcpu, ramGB = "ram_gb"
        /// The YAML section of a kind.
        var section: String {
            switch self {
            case .flavor: "flavors"
            case .volumeType: "volume_types"
            case .floatingIP: "floating_ip"
            case .loadBalancer: "load_balancer"
            case .shareType: "share_types"
            case .vcpu: "vcpu"
            case .ramGB: "ram_gb"
            }
        }
        /// Kinds priced per resource by a name (a flavour, a type); the others have one price.
        var named: Bool { self == .flavor || self == .volumeType || self == .shareType }
        /// Units a price of this kind may be in.
        var units: [Unit] { self == .volumeType || self == .shareType ? [.gbHour, .gbMonth] : [.hour, .month] }
    }

    var currency: Currency
    /// The first day the prices hold (in the reporting time zone): hours before it are not priced.
    var effective: LocalDay
    var hoursPerMonth: Decimal = 720
    /// Whether a stopped (SHUTOFF, SHELVED…) server still pays its flavour's price. Most public
    /// clouds bill only the disks of a stopped server; a private cloud may charge the reservation.
    var stoppedServersBilled = false
    /// Kind → name → price; the single-price kinds use the name "".
    var prices: [Kind: [String: Price]] = [:]

    func price(_ kind: Kind, _ name: String = "") -> Price? { prices[kind]?[kind.named ? name : ""] }

    /// A flavour's price: its own by name, else its vCPUs and RAM (Nova gives both; RAM in MB)
    /// at the component prices.
    func flavorPrice(_ name: String, vcpus: Int?, ramMB: Int?) -> Price? {
        if let named = price(.flavor, name) { return named }
        guard let vcpus, let ramMB, let cpu = price(.vcpu), let ram = price(.ramGB), cpu.unit == ram.unit else { return nil }
        return Price(amount: cpu.amount * Decimal(vcpus) + ram.amount * Decimal(ramMB) / 1024, unit: cpu.unit)
    }

    /// VK Cloud's outdated volume type names, which its API still returns, and their current
    /// ones (computing/iaas/concepts/about in vk-cs/docs-public): one price covers both.
    static let volumeTypeAliases = ["dp1": "ceph-hdd", "ms1": "ceph-hdd", "dp1-ssd": "ceph-ssd", "ko1-ssd": "ceph-ssd",
                                    "dp1-high-iops": "high-iops", "ko1-high-iops": "high-iops"]

    /// A volume type's price per GB: its own, else its current name's.
    func volumeTypePrice(_ name: String) -> Price? {
        price(.volumeType, name) ?? Self.volumeTypeAliases[name].flatMap { price(.volumeType, $0) }
    }

    /// Component prices come as a pair in one unit: a flavour is priced from both at once.
    private func checkedComponents(file: String) throws -> PriceList {
        let cpu = price(.vcpu), ram = price(.ramGB)
        if (cpu == nil) != (ram == nil) {
            throw Failure(description: "\(file): vcpu and ram_gb go together (a flavour is priced from both)")
        }
        if let cpu, let ram, cpu.unit != ram.unit {
            throw Failure(description: "\(file): vcpu and ram_gb must be in the same unit (\(cpu.unit.rawValue) and \(ram.unit.rawValue))")
        }
        return self
    }

    // MARK: Reading

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// A `.csv` file, or else YAML.
    static func load(path: String) throws -> PriceList {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw Failure(description: "\(path): cannot read the price list")
        }
        let name = URL(fileURLWithPath: path).lastPathComponent
        return path.lowercased().hasSuffix(".csv") ? try csv(text, file: name) : try yaml(text, file: name)
    }

    /// ```yaml
    /// currency: RUB
    /// effective: 2026-11-01
    /// flavors: {STD3-2-4: {hour: 2.50}, STD3-4-8: {month: 3600}}
    /// volume_types: {ceph-ssd: {gb_hour: 0.01}}
    /// floating_ip: {month: 180}
    /// ```
    static func yaml(_ text: String, file: String) throws -> PriceList {
        func fail(_ node: Node?, _ message: String) -> Failure {
            Failure(description: "\(file):\(node?.mark?.line ?? 1): \(message)")
        }
        guard let root = try Yams.compose(yaml: text), case let .mapping(top) = root else {
            throw Failure(description: "\(file):1: expected a mapping (currency, effective, flavors, volume_types, …)")
        }
        var list = PriceList(currency: .rub, effective: LocalDay(year: 1970, month: 1, day: 1))
        var currency: Currency?, effective: LocalDay?
        let known = ["currency", "effective", "hours_per_month", "stopped_servers_billed", "source"] + Kind.allCases.map(\.section)
        for (keyNode, value) in top {
            let key = keyNode.scalar?.string ?? ""
            switch key {
            case "currency": currency = try code(value.scalar?.string ?? "", at: value, fail)
            case "effective":
                guard let day = LocalDay(value.scalar?.string ?? "") else { throw fail(value, "effective: expected a date (YYYY-MM-DD)") }
                effective = day
            case "hours_per_month":
                guard let hours = Decimal.exact(value.scalar?.string ?? ""), hours > 0 else { throw fail(value, "hours_per_month: expected a positive number") }
                list.hoursPerMonth = hours
            case "stopped_servers_billed":
                guard let flag = value.scalar.flatMap(Bool.construct(from:)) else { throw fail(value, "stopped_servers_billed: expected true or false") }
                list.stoppedServersBilled = flag
            case "source": break
            default:
                guard let kind = Kind.allCases.first(where: { $0.section == key }) else {
                    throw fail(keyNode, "unknown key \(key) (known: \(known.joined(separator: ", ")))")
                }
                if kind.named {
                    guard case let .mapping(names) = value else { throw fail(value, "\(key): expected a mapping of names to prices") }
                    for (nameNode, priceNode) in names {
                        let name = nameNode.scalar?.string ?? ""
                        list.prices[kind, default: [:]][name] = try price(priceNode, kind: kind, path: "\(key).\(name)", fail)
                    }
                } else {
                    list.prices[kind, default: [:]][""] = try price(value, kind: kind, path: key, fail)
                }
            }
        }
        guard let currency, let effective else { throw Failure(description: "\(file):1: currency and effective are required") }
        list.currency = currency
        list.effective = effective
        return try list.checkedComponents(file: file)
    }

    private static func price(_ node: Node, kind: Kind, path: String, _ fail: (Node?, String) -> Failure) throws -> Price {
        let units = kind.units.map(\.rawValue).joined(separator: " or ")
        guard case let .mapping(entries) = node, entries.count == 1, let entry = entries.first,
              let unit = Unit(rawValue: entry.key.scalar?.string ?? ""), kind.units.contains(unit) else {
            throw fail(node, "\(path): expected one price, as {\(units): AMOUNT}")
        }
        let amountNode = entry.value
        guard let amount = Decimal.exact(amountNode.scalar?.string ?? ""), amount >= 0 else {
            throw fail(amountNode, "\(path): \(amountNode.scalar?.string ?? "") is not a price")
        }
        return Price(amount: amount, unit: unit)
    }

    private static func code(_ text: String, at node: Node?, _ fail: (Node?, String) -> Failure) throws -> Currency {
        guard text.count == 3, text.allSatisfy(\.isLetter) else { throw fail(node, "currency: expected an ISO 4217 code such as RUB") }
        return Currency(text)
    }

    /// `kind,name,price,unit,currency,effective`, one price a row; every row in one currency and
    /// from one date. `kind` is flavor, volume_type, floating_ip, load_balancer, share_type, vcpu
    /// or ram_gb.
    static func csv(_ text: String, file: String) throws -> PriceList {
        var reader = CSVReader(MemoryChunks(bytes: Array(text.utf8), size: max(1, text.utf8.count)), file: file)
        guard let header = try reader.next()?.fields.map({ $0.trimmingCharacters(in: .whitespaces) }) else {
            throw Failure(description: "\(file):1: empty price list")
        }
        let columns = ["kind", "name", "price", "unit", "currency", "effective"]
        let index = Dictionary(header.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let missing = columns.filter { index[$0] == nil }
        guard missing.isEmpty else { throw Failure(description: "\(file):1: missing columns \(missing.joined(separator: ", "))") }
        var list: PriceList?
        while let record = try reader.next() {
            let line = record.line, fields = record.fields
            func field(_ name: String) -> String {
                index[name].flatMap { $0 < fields.count ? fields[$0].trimmingCharacters(in: .whitespaces) : nil } ?? ""
            }
            if fields.allSatisfy(\.isEmpty) { continue }
            let fail = { (message: String) in Failure(description: "\(file):\(line): \(message)") }
            guard let kind = Kind(rawValue: field("kind")) else {
                throw fail("kind \"\(field("kind"))\" is not one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let unit = Unit(rawValue: field("unit")), kind.units.contains(unit) else {
                throw fail("unit \"\(field("unit"))\" for \(kind.rawValue): expected \(kind.units.map(\.rawValue).joined(separator: " or "))")
            }
            guard let amount = Decimal.exact(field("price")), amount >= 0 else { throw fail("\"\(field("price"))\" is not a price") }
            guard let effective = LocalDay(field("effective")) else { throw fail("effective \"\(field("effective"))\" is not a date (YYYY-MM-DD)") }
            let currency = try code(field("currency"), at: nil) { _, message in fail(message) }
            if let list, list.currency != currency || list.effective != effective {
                throw fail("every row must have the currency and effective date of the first (\(list.currency.code), \(list.effective))")
            }
            var updated = list ?? PriceList(currency: currency, effective: effective)
            updated.prices[kind, default: [:]][kind.named ? field("name") : ""] = Price(amount: amount, unit: unit)
            list = updated
        }
        guard let list else { throw Failure(description: "\(file):2: no prices") }
        return try list.checkedComponents(file: file)
    }
}
