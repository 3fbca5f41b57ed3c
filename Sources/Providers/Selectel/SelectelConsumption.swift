import AsyncHTTPClient
import CostModel
import Foundation
import Ingest
import NIOCore
import SourceKit

/// Consumption statistics in pieces that fit the body limit. The rows of a 3,000-server account
/// for a day and a half (every object, metric and hour) are ~120 MB of JSON. Hourly rows
/// since yesterday are asked for in one request and daily rows of the history in another, and
/// a window whose answer is over `ProviderClient.maxBodyBytes` is asked for again in two
/// halves, down to one hour or one day; the size that fitted is what the next syncs ask for,
/// so a large account pays for the refused answer once, not every sync.
extension SelectelSource {
    /// One request: `period_group_type` and a span of Moscow wall-clock time, both ends included.
    struct StatisticsWindow: Sendable, Hashable {
        enum Grouping: String, Sendable { case hour, day }
        var grouping: Grouping
        var start: Date
        var end: Date

        /// Whole hours or days it spans (a part counts as one).
        func units(_ calendar: Calendar) -> Int {
            switch grouping {
            case .hour: Int(((end.timeIntervalSince(start) + 1) / 3600).rounded(.up))
            case .day: (calendar.dateComponents([.day], from: start, to: end).day ?? 0) + 1
            }
        }

        /// The two halves, split at a whole hour or day; nil for one hour or day.
        func halves(_ calendar: Calendar) -> (StatisticsWindow, StatisticsWindow)? {
            let units = units(calendar)
            guard units > 1 else { return nil }
            let middle = switch grouping {
            case .hour: start.addingTimeInterval(Double(units / 2) * 3600)
            case .day: calendar.date(byAdding: .day, value: units / 2, to: start) ?? start.addingTimeInterval(Double(units / 2) * 86_400)
            }
            guard middle > start, middle <= end else { return nil }
            return (StatisticsWindow(grouping: grouping, start: start, end: middle.addingTimeInterval(-1)),
                    StatisticsWindow(grouping: grouping, start: middle, end: end))
        }

        /// `start…end` in pieces of at most `span` units.
        static func covering(_ grouping: Grouping, from start: Date, to end: Date, span: Int, _ calendar: Calendar) -> [StatisticsWindow] {
            var windows: [StatisticsWindow] = []
            var cursor = start
            while cursor <= end {
                let next = switch grouping {
                case .hour: cursor.addingTimeInterval(Double(span) * 3600)
                case .day: calendar.date(byAdding: .day, value: span, to: cursor) ?? .distantFuture
                }
                windows.append(StatisticsWindow(grouping: grouping, start: cursor, end: min(next.addingTimeInterval(-1), end)))
                cursor = next
            }
            return windows
        }
    }

    /// Window sizes (hours for hourly rows, days for daily ones) that last fitted the body limit.
    struct StatisticsSpans: Sendable {
        /// The whole window in one request, as for any account that fits.
        static let whole = 1 << 16
        var hours = whole
        var days = whole

        /// After a sync: half the smallest window refused as too large (its halves fitted, or a
        /// smaller one would have been refused), or twice the size when every answer was under
        /// a quarter of the limit (twice as much still fits), up to the whole window.
        mutating func adapt(_ grouping: StatisticsWindow.Grouping, smallestRefused: Int?, largestBody: Int, limit: Int) {
            let current = grouping == .hour ? hours : days
            let next = if let smallestRefused { max(1, smallestRefused / 2) } else if largestBody < limit / 4 { min(Self.whole, current * 2) } else { current }
            if grouping == .hour { hours = next } else { days = next }
        }
    }

    /// The `group_type` asked for. `project_object_region_metric` is not among the documented
    /// values (project, object, metric, project_metric, region_metric) but is what the API
    /// answers today; should it be refused with a 400, the documented `object` is asked for
    /// from then on, and that is reported once rather than failing the sync.
    struct StatisticsGrouping: Sendable {
        static let detailed = "project_object_region_metric"
        static let documented = "object"
        var groupType = detailed
        private var unreported: SyncFailure?

        mutating func fallBack(after refusal: SyncFailure) {
            guard groupType == Self.detailed else { return }
            groupType = Self.documented
            unreported = SyncFailure(endpoint: "consumption", reason: "group_type",
                                     message: "consumption: \(Self.detailed) refused (\(refusal.message.prefix(200))); asking by \(Self.documented) from now on")
        }

        /// The fallback, the first time it is asked for after it happened.
        mutating func takeUnreported() -> SyncFailure? {
            defer { unreported = nil }
            return unreported
        }
    }

    /// How many statistics requests are in flight at once: two overlap one answer's transfer
    /// with another's parsing, on two cores.
    static let statisticsConcurrency = 2

    /// Hourly rows from yesterday's start give the run rate (the latest billed hour) and the
    /// last two days' costs; daily rows before that give the history.
    func consumption(into snapshot: inout SourceSnapshot, window: CollectionWindow, currency: Currency) async throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = Self.moscow
        let today = calendar.startOfDay(for: window.now)
        let yesterday = calendar.date(byAdding: .day, value: -1, to: today) ?? today.addingTimeInterval(-86_400)
        let spans = state.spans.withLock { $0 }
        var windows = StatisticsWindow.covering(.hour, from: yesterday, to: window.now, span: spans.hours, calendar)
        if window.historyDays > 1, let first = calendar.date(byAdding: .day, value: -window.historyDays, to: today) {
            // Up to the end of the day before yesterday.
            windows += StatisticsWindow.covering(.day, from: first, to: yesterday.addingTimeInterval(-1), span: spans.days, calendar)
        }
        let fetched = try await statistics(windows, calendar: calendar)

        var tally = ConsumptionTally()
        // Hourly windows first, then daily ones, each in time order: the order of today's rows.
        for result in fetched.tallies.sorted(by: { ($0.window.grouping == .hour ? 0 : 1, $0.window.start) < ($1.window.grouping == .hour ? 0 : 1, $1.window.start) }) {
            tally.merge(result.tally)
        }
        state.spans.withLock { spans in
            for grouping in [StatisticsWindow.Grouping.hour, .day] {
                let refused = fetched.refused.filter { $0.grouping == grouping }.map { $0.units(calendar) }.min()
                let largest = fetched.tallies.filter { $0.window.grouping == grouping }.map(\.bytes).max() ?? 0
                spans.adapt(grouping, smallestRefused: refused, largestBody: largest, limit: http.maxBodyBytes)
            }
        }

        snapshot.dailyCosts = tally.days.map { key, day in
            DailyCost(day: key.day, provider: provider, resourceID: key.resourceID, service: day.service, category: day.category,
                      account: settings.accountID, cost: Money(day.kopecks.decimal / 100, currency))
        }.sorted { ($0.day, $0.resourceID) < ($1.day, $1.resourceID) }
        for (id, hour) in tally.latest.sorted(by: { $0.key < $1.key }) {
            let row = hour.row
            let service = Self.service(of: row.objectType ?? "", providerKey: row.providerKey ?? "")
            let entry = Taxonomy.lookup(provider: provider, service: service)
            if entry == nil { snapshot.unclassifiedLineItems += 1 }
            let parent = row.parentID.flatMap { $0.isEmpty || $0 == row.projectID ? nil : $0 }
            snapshot.billing.append(BillingLineItem(
                provider: provider, resourceID: id, resourceName: row.objectName ?? id, resourceType: entry?.resourceType ?? "other",
                service: service, category: entry?.category ?? .other, region: Self.region(ofZone: row.metricRegion ?? ""),
                account: settings.accountID, rate: Rate(Money(hour.kopecks.decimal / 100, currency), per: .hourly), parentID: parent,
                project: row.projectID ?? ""))
        }
    }

    struct FetchedWindow: Sendable {
        var window: StatisticsWindow
        var tally: ConsumptionTally
        var bytes: Int
    }

    /// Every window read (halved while too large), at most `statisticsConcurrency` at a time;
    /// any other failure fails the lot.
    private func statistics(_ windows: [StatisticsWindow], calendar: Calendar) async throws
        -> (tallies: [FetchedWindow], refused: [StatisticsWindow]) {
        enum Outcome: Sendable {
            case read(FetchedWindow)
            case tooLarge(StatisticsWindow, SyncFailure)
        }
        return try await withThrowingTaskGroup(of: Outcome.self) { group in
            var pending = windows
            var inFlight = 0
            var read: [FetchedWindow] = []
            var refused: [StatisticsWindow] = []
            while !pending.isEmpty || inFlight > 0 {
                while inFlight < Self.statisticsConcurrency, !pending.isEmpty {
                    let window = pending.removeFirst()
                    inFlight += 1
                    group.addTask {
                        do {
                            return .read(try await statistics(window))
                        } catch let failure as SyncFailure where failure.isBodyTooLarge {
                            return .tooLarge(window, failure)
                        }
                    }
                }
                guard let outcome = try await group.next() else { break }
                inFlight -= 1
                switch outcome {
                case let .read(fetched):
                    read.append(fetched)
                case let .tooLarge(window, failure):
                    // One hour (or day) over the limit: nothing smaller to ask for.
                    guard let (first, second) = window.halves(calendar) else { throw failure }
                    refused.append(window)
                    pending.insert(contentsOf: [first, second], at: 0)
                }
            }
            return (read, refused)
        }
    }

    /// One window's rows, tallied as they are read, off the cooperative pool (a 64 MiB body
    /// holds a slow core for about a second).
    private func statistics(_ window: StatisticsWindow) async throws -> FetchedWindow {
        let keys = Self.providerKeys.map { "provider_keys=\($0)" }.joined(separator: "&")
        func path(_ groupType: String) -> String {
            "/v1/cloud_billing/statistic/consumption?\(keys)&start=\(naive(window.start))&end=\(naive(window.end))&locale=en"
                + "&group_type=\(groupType)&period_group_type=\(window.grouping.rawValue)"
        }
        let groupType = state.grouping.withLock { $0.groupType }
        let body: ByteBuffer
        do {
            body = try await get(path(groupType), endpoint: "consumption").body
        } catch let refusal as SyncFailure where refusal.reason == "http_400" && groupType == StatisticsGrouping.detailed {
            state.grouping.withLock { $0.fallBack(after: refusal) }
            body = try await get(path(StatisticsGrouping.documented), endpoint: "consumption").body
        }
        let hourly = window.grouping == .hour
        let tally = try await offCooperativePool { isCancelled in
            var tally = ConsumptionTally()
            let status: String?
            do {
                status = try body.withUnsafeReadableBytes { bytes in
                    try Selectel.ConsumptionReader.read(bytes, isCancelled: isCancelled) { row in tally.add(row, hourly: hourly) }
                }
            } catch let malformed as Selectel.ConsumptionReader.Malformed {
                throw SyncFailure(endpoint: "consumption", reason: malformed.badValue ? SyncFailure.badValue : "bad_json",
                                  message: "consumption: \(malformed)", failsTheSync: malformed.badValue)
            }
            guard status == nil || status == "success" else {
                throw SyncFailure(endpoint: "consumption", reason: "refused", message: "consumption: status \(status ?? "")")
            }
            if let failure = tally.unreadPeriodFailure { throw failure }
            return tally
        }
        return FetchedWindow(window: window, tally: tally, bytes: body.readableBytes)
    }
}

/// What consumption rows add up to: cost per day and object, and each object's cost in the
/// latest hour billed (the run rate). A row counts for its Moscow calendar date in any
/// reporting zone: Selectel bills in Moscow days (docs/providers/yandex.md, "Calendar days").
package struct ConsumptionTally: Sendable {
    struct Key: Hashable, Sendable {
        var day: LocalDay
        var resourceID: String
    }

    /// Kopecks summed exactly: whole ones as integers, anything else as a decimal.
    struct Kopecks: Sendable {
        var whole: Int64 = 0
        var other: Decimal = 0

        mutating func add(_ amount: Selectel.ConsumptionReader.Amount) {
            switch amount {
            case let .whole(kopecks):
                let (sum, overflow) = whole.addingReportingOverflow(kopecks)
                if overflow { other += Decimal(kopecks) } else { whole = sum }
            case let .decimal(value):
                other += value
            }
        }

        mutating func add(_ kopecks: Kopecks) {
            add(.whole(kopecks.whole))
            other += kopecks.other
        }

        var decimal: Decimal { other == 0 ? Decimal(whole) : Decimal(whole) + other }
    }

    struct Day: Sendable {
        var service: String
        var category: CostCategory
        var kopecks = Kopecks()
    }

    struct Latest: Sendable {
        var kopecks = Kopecks()
        /// The first row of the object in that hour: its name, type, parent and zone.
        var row: Selectel.ConsumptionReader.Row
    }

    private(set) var days: [Key: Day] = [:]
    /// The latest `period` among hourly rows, and each object's cost in it.
    private(set) var lastPeriod = ""
    private(set) var latest: [String: Latest] = [:]
    private var dayOfPeriod: [String: LocalDay?] = [:]
    /// The first billed row whose `period` is no time (its object and period): its cost has
    /// no day, so the window cannot be tallied whole.
    private(set) var unreadPeriod: (object: String, period: String)?

    mutating func add(_ row: Selectel.ConsumptionReader.Row, hourly: Bool) {
        let period = row.period ?? ""
        if hourly && period > lastPeriod {
            lastPeriod = period
            latest = [:]
        }
        guard row.hasObject, let id = row.objectID, !id.isEmpty, let value = row.value else { return }
        guard let day = day(of: period) else {
            if unreadPeriod == nil { unreadPeriod = (id, period) }
            return
        }
        days[Key(day: day, resourceID: id), default: Self.day(of: row)].kopecks.add(value)
        if hourly && period == lastPeriod {
            latest[id, default: Latest(row: row)].kopecks.add(value)
        }
    }

    /// The failure of a window with a billed row whose period is no time: the sync fails
    /// rather than land without that row's cost (as a bad amount does).
    var unreadPeriodFailure: SyncFailure? {
        unreadPeriod.map { unread in
            SyncFailure(endpoint: "consumption", reason: SyncFailure.badValue,
                        message: "consumption: object \(unread.object.prefix(80)): period \"\(unread.period.prefix(40))\" is not a Moscow time yyyy-MM-ddTHH:mm:ss",
                        failsTheSync: true)
        }
    }

    /// Adds a later window's tally (rows in the order they were billed).
    mutating func merge(_ other: ConsumptionTally) {
        for (key, day) in other.days {
            days[key, default: Day(service: day.service, category: day.category)].kopecks.add(day.kopecks)
        }
        if other.lastPeriod > lastPeriod {
            lastPeriod = other.lastPeriod
            latest = other.latest
        } else if other.lastPeriod == lastPeriod {
            for (id, hour) in other.latest { latest[id, default: Latest(row: hour.row)].kopecks.add(hour.kopecks) }
        }
    }

    private static func day(of row: Selectel.ConsumptionReader.Row) -> Day {
        let service = SelectelSource.service(of: row.objectType ?? "", providerKey: row.providerKey ?? "")
        return Day(service: service, category: Taxonomy.classify(provider: "selectel", service: service).category)
    }

    /// The Moscow calendar day of a Moscow wall-clock `period` (one parse per distinct period).
    private mutating func day(of period: String) -> LocalDay? {
        if let known = dayOfPeriod[period] { return known }
        let day = DateText.date(String(period.prefix(19)), patterns: ["yyyy-MM-dd'T'HH:mm:ss"], in: SelectelSource.moscow).map { LocalDay($0, in: SelectelSource.moscow) }
        dayOfPeriod[period] = day
        return day
    }
}
