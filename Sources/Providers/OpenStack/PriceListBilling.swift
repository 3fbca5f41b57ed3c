import CostModel
import Foundation
import Ingest
import SourceKit

/// The price-list billing side of an OpenStack inventory: each resource found is billed its
/// price over the hours it existed this month (since it was created, or since the month or the
/// price list began, whichever is later; after the first sync, over the days the sync asks for
/// again), split by day in the reporting time zone. A resource
/// with no price is counted as unpriced, never billed zero in silence.
struct PriceListBilling: Sendable {
    var provider: String
    var account: String
    var list: PriceList
    var now: Date
    var timeZone: TimeZone
    /// Days of history the sync asks for (`CollectionWindow.historyDays`).
    var historyDays: Int

    /// One priced resource: its line item (its rate now, nil for a stopped server that pays
    /// nothing) and the span it is billed for.
    struct Priced: Sendable {
        var item: BillingLineItem
        var billedNow: Bool
        var scope: InventoryScope
        var start: Date
        var end: Date
    }

    /// Services by resource type (the `openstack` taxonomy table).
    static let services = ["server": "Compute", "volume": "Block Storage", "ip": "Floating IPs", "load_balancer": "Load Balancers",
                           "file_storage": "File Storage"]

    /// Nova statuses of a server that is not running (its flavour is not billed unless the
    /// price list says `stopped_servers_billed: true`).
    static let stopped: Set<String> = ["SHUTOFF", "SHELVED", "SHELVED_OFFLOADED"]

    /// The first day this sync bills (and so replaces in the store): the 1st of the month at a
    /// first sync, the last `historyDays` days after that, as other sources re-fetch theirs.
    /// Days before it keep what earlier syncs billed: a resource deleted before a restart, which
    /// this process never saw, keeps its cost there. Yesterday is always in, so that the last
    /// hours of a month are billed by the first sync of the next.
    var firstDay: LocalDay {
        let today = LocalDay(now, in: timeZone)
        return max(today.adding(days: -1).firstOfMonth, today.adding(days: -(max(1, historyDays) - 1)))
    }

    /// The start of `firstDay`, in the reporting time zone.
    var windowStart: Date { firstDay.start(in: timeZone) }

    /// The priced resources and, for the rest, what had no price (resource type and the
    /// flavour or type looked for).
    func price(_ found: OpenStackInventory.Found) -> (priced: [Priced], unpriced: [UnpricedCount]) {
        var priced: [Priced] = []
        var unpriced: [UnpricedCount.Key: Int] = [:]
        let dates = ISO8601Dates()
        let from = max(windowStart, list.effective.start(in: timeZone))

        func add(_ type: String, _ id: String, _ name: String, _ scope: InventoryScope, created: String?, priceKey: String,
                 price: PriceList.Price?, gigabytes: Int = 0, billedUntil: Date? = nil) {
            guard let price else {
                unpriced[UnpricedCount.Key(resourceType: type, priceKey: priceKey), default: 0] += 1
                return
            }
            let service = Self.services[type] ?? type
            let entry = Taxonomy.classify(provider: "openstack", service: service)
            let created = created.flatMap { OpenStackInventory.cinderDate($0, dates) } ?? now
            let item = BillingLineItem(
                provider: provider, resourceID: id, resourceName: name, resourceType: type, service: service, category: entry.category,
                region: scope.region, account: account, rate: price.rate(gigabytes: gigabytes, currency: list.currency, hoursPerMonth: list.hoursPerMonth),
                project: scope.project)
            priced.append(Priced(item: item, billedNow: billedUntil == nil, scope: scope, start: max(created, from), end: min(billedUntil ?? now, now)))
        }

        for found in found.servers {
            let server = found.record
            let flavor = server.flavor?.original_name ?? server.flavor?.id ?? ""
            let stoppedFree = Self.stopped.contains(server.status ?? "") && !list.stoppedServersBilled
            // A stopped server paid until it stopped (`updated`, its last change of state).
            let stoppedAt = stoppedFree ? (server.updated.flatMap(dates.date) ?? .distantPast) : nil
            add("server", server.id, server.name ?? server.id, found.scope, created: server.created, priceKey: flavor,
                price: list.flavorPrice(flavor, vcpus: server.flavor?.vcpus, ramMB: server.flavor?.ram), billedUntil: stoppedAt)
        }
        for found in found.volumes {
            let volume = found.record
            let type = volume.volume_type ?? ""
            add("volume", volume.id, volume.name ?? volume.id, found.scope, created: volume.created_at, priceKey: type,
                price: list.volumeTypePrice(type), gigabytes: volume.size ?? 0)
        }
        for found in found.floatingIPs {
            let address = found.record
            add("ip", address.id, address.floating_ip_address ?? address.id, found.scope, created: address.created_at, priceKey: "",
                price: list.price(.floatingIP))
        }
        for found in found.externalPorts {
            let port = found.record
            add("ip", port.id, port.fixed_ips?.first?.ip_address ?? port.name ?? port.id, found.scope, created: port.created_at, priceKey: "",
                price: list.price(.floatingIP))
        }
        for found in found.loadBalancers {
            let balancer = found.record
            add("load_balancer", balancer.id, balancer.name ?? balancer.id, found.scope, created: balancer.created_at, priceKey: "",
                price: list.price(.loadBalancer))
        }
        for found in found.shares {
            let share = found.record
            let type = share.share_type_name ?? ""
            add("file_storage", share.id, share.name ?? share.id, found.scope, created: share.created_at, priceKey: type,
                price: list.price(.shareType, type), gigabytes: share.size ?? 0)
        }
        return (priced, unpriced.map { UnpricedCount(resourceType: $0.key.resourceType, priceKey: $0.key.priceKey, count: $0.value) }
            .sorted { ($0.resourceType, $0.priceKey) < ($1.resourceType, $1.priceKey) })
    }

    /// Each resource's cost per day: its rate over the seconds of that day it was billed.
    func dailyCosts(_ priced: [Priced]) -> [DailyCost] {
        var costs: [DailyCost] = []
        for resource in priced where resource.end > resource.start {
            var day = LocalDay(resource.start, in: timeZone)
            while day.start(in: timeZone) < resource.end {
                let next = day.adding(days: 1)
                let from = max(resource.start, day.start(in: timeZone)), to = min(resource.end, next.start(in: timeZone))
                // Whole seconds: exact in Decimal, and far finer than any price list.
                let seconds = Decimal(Int64(to.timeIntervalSince(from).rounded()))
                let rate = resource.item.rate
                let amount = rate.amount * seconds / (rate.periodHours * 3600)
                costs.append(DailyCost(day: day, provider: provider, resourceID: resource.item.resourceID, service: resource.item.service,
                                       category: resource.item.category, account: account, cost: Money(amount, rate.currency)))
                day = next
            }
        }
        return costs.sorted { ($0.day, $0.resourceID) < ($1.day, $1.resourceID) }
    }
}
