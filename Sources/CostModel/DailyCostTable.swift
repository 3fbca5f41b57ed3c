import Foundation

/// Daily costs per resource, stored by column: each row is a day, a line (one resource ×
/// service × currency, with its provider, account and category) and an amount in
/// micro-units. A month of a 100,000-resource FOCUS export is three million rows; as
/// `DailyCost` values that is over 300 MB, here it is 16 bytes a row.
public struct DailyCostTable: Sendable, Equatable {
    /// What one resource is billed for in one service and currency.
    public struct Line: Hashable, Sendable {
        public var resourceID: String
        public var service: String
        public var currency: Currency
        public var provider: String
        public var account: String
        public var category: CostCategory

        public init(resourceID: String, service: String, currency: Currency, provider: String, account: String, category: CostCategory) {
            self.resourceID = resourceID
            self.service = service
            self.currency = currency
            self.provider = provider
            self.account = account
            self.category = category
        }
    }

    /// A line is identified by resource, service and currency; provider, account and
    /// category are the first seen for it.
    private struct LineKey: Hashable {
        var resourceID: String
        var service: String
        var currency: Currency
    }

    public private(set) var lines: [Line] = []
    /// Lines by key, built on the first `intern` after `appendLine`: a reader that already
    /// knows its lines are new (the FOCUS reader keys them by interned bytes) never pays for
    /// hashing their strings.
    private var lineIndex: [LineKey: Int32] = [:]
    private var indexedLines = 0
    /// Row columns: day (`LocalDay.ordinal`), index into `lines`, amount in micro-units.
    public private(set) var dayOrdinals: [Int32] = []
    public private(set) var lineOfRow: [Int32] = []
    public private(set) var micros: [Int64] = []

    public init() {}

    public init(_ costs: some Sequence<DailyCost>) {
        self.init()
        for cost in costs { append(cost) }
    }

    public var count: Int { micros.count }
    public var isEmpty: Bool { micros.isEmpty }

    /// The index of `line`, adding it when new.
    public mutating func intern(_ line: Line) -> Int32 {
        indexAppendedLines()
        let key = LineKey(resourceID: line.resourceID, service: line.service, currency: line.currency)
        if let index = lineIndex[key] { return index }
        let index = Int32(lines.count)
        lines.append(line)
        lineIndex[key] = index
        indexedLines = lines.count
        return index
    }

    /// Adds `line`, which the caller knows is not here yet (no line has its resource, service
    /// and currency), and returns its index.
    public mutating func appendLine(_ line: Line) -> Int32 {
        lines.append(line)
        return Int32(lines.count - 1)
    }

    private mutating func indexAppendedLines() {
        guard indexedLines < lines.count else { return }
        for index in indexedLines..<lines.count {
            let line = lines[index]
            let key = LineKey(resourceID: line.resourceID, service: line.service, currency: line.currency)
            if lineIndex[key] == nil { lineIndex[key] = Int32(index) }
        }
        indexedLines = lines.count
    }

    /// Equal content: the same lines and rows, however the lines were added.
    public static func == (left: DailyCostTable, right: DailyCostTable) -> Bool {
        left.lines == right.lines && left.dayOrdinals == right.dayOrdinals && left.lineOfRow == right.lineOfRow && left.micros == right.micros
    }

    public mutating func append(day: Int32, line: Int32, micros amount: Int64) {
        dayOrdinals.append(day)
        lineOfRow.append(line)
        micros.append(amount)
    }

    public mutating func append(_ cost: DailyCost) {
        let line = intern(Line(resourceID: cost.resourceID, service: cost.service, currency: cost.currency, provider: cost.provider,
                               account: cost.account, category: cost.category))
        append(day: Int32(cost.day.ordinal), line: line, micros: cost.micros)
    }

    public mutating func reserveCapacity(_ rows: Int) {
        dayOrdinals.reserveCapacity(rows)
        lineOfRow.reserveCapacity(rows)
        micros.reserveCapacity(rows)
    }

    /// First and last day of the rows, nil when there are none.
    public var dayRange: (first: LocalDay, last: LocalDay)? {
        guard let low = dayOrdinals.min(), let high = dayOrdinals.max() else { return nil }
        return (LocalDay(ordinal: Int(low)), LocalDay(ordinal: Int(high)))
    }

    /// Row `index` as a `DailyCost`.
    public subscript(index: Int) -> DailyCost {
        let line = lines[Int(lineOfRow[index])]
        return DailyCost(day: LocalDay(ordinal: Int(dayOrdinals[index])), provider: line.provider, resourceID: line.resourceID,
                         service: line.service, category: line.category, account: line.account, micros: micros[index], currency: line.currency)
    }

    public var rows: [DailyCost] { (0..<count).map { self[$0] } }

    /// Sums the rows per day and scope. `labels` gives a resource's tenant and team; it is
    /// asked once per line, not per row.
    public func scopeDays(labels: (_ resourceID: String) -> (tenant: String, team: String)) -> [LocalDay: ScopeHistory.Day] {
        // Per day, sums by scope index first: hashing a small integer is cheaper than a key of seven strings.
        var scopeIndex: [ScopeKey: Int] = [:]
        let lineScope = lines.map { line in
            let placed = labels(line.resourceID)
            let key = ScopeKey(provider: line.provider, account: line.account, service: line.service, category: line.category,
                               tenant: placed.tenant, team: placed.team, currency: line.currency)
            if let index = scopeIndex[key] { return index }
            let index = scopeIndex.count
            scopeIndex[key] = index
            return index
        }
        let scopes = scopeIndex.sorted { $0.value < $1.value }.map(\.key)
        // One array of sums per day; rows mostly come day by day, so the day's slot is
        // looked up only when the day changes.
        var slotOfDay: [Int32: Int] = [:]
        var days: [Int32] = []
        var sums: [[Int64]] = []
        var lastDay = Int32.min, slot = 0
        for row in 0..<count {
            let day = dayOrdinals[row]
            if day != lastDay {
                if let known = slotOfDay[day] {
                    slot = known
                } else {
                    slot = sums.count
                    slotOfDay[day] = slot
                    days.append(day)
                    sums.append([Int64](repeating: 0, count: scopes.count))
                }
                lastDay = day
            }
            sums[slot][lineScope[Int(lineOfRow[row])]] &+= micros[row]
        }
        var result: [LocalDay: ScopeHistory.Day] = [:]
        for (slot, day) in days.enumerated() {
            // Sized once: grown from empty, its resizes were a fifth of this function.
            var scoped = ScopeHistory.Day(minimumCapacity: sums[slot].count { $0 != 0 })
            for (index, amount) in sums[slot].enumerated() where amount != 0 { scoped[scopes[index]] = amount }
            result[LocalDay(ordinal: Int(day))] = scoped
        }
        return result
    }
}
