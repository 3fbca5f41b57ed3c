import AsyncHTTPClient
import CostModel
import Foundation
import SourceKit
import Storage

/// The exchange rates: the configured static ones, or the Central Bank of Russia's daily
/// rates, fetched on a schedule and kept in the database per day they are published for
/// (each day's cost is valued at its own day's rate, `FXHistory`), and left as they were
/// (with their age showing) when the bank cannot be reached.
actor FXRates {
    private let config: FXConfig
    private let reporting: Currency
    private let store: Store
    private let http: ProviderClient
    /// Days of publications kept (`storage.retention_days`), besides the one in force before them.
    private let retentionDays: Int
    private(set) var history: FXHistory
    private(set) var fetchedAt: Date?
    private(set) var lastError: String?

    init(config: FXConfig, reporting: Currency, store: Store, retentionDays: Int = 400) {
        self.config = config
        self.reporting = reporting
        self.store = store
        self.retentionDays = retentionDays
        http = ProviderClient(timeout: .seconds(30), retries: 2, source: "cbr")
        history = FXHistory(reporting: reporting, fixed: config.rates)
    }

    /// Loads the stored publications and when the bank last answered (after a restart,
    /// before the bank answers again).
    func restore() async {
        guard config.source == .cbr else { return }
        if let publications = try? await store.fxPublications() {
            for (day, rates) in publications { history.publish(rates, on: day) }
        }
        if let saved = try? await store.fxRates() { fetchedAt = saved.fetchedAt }
    }

    /// Fetches the bank's rates; on failure keeps the previous ones and returns the error.
    @discardableResult
    func refresh(now: Date) async -> SyncFailure? {
        guard config.source == .cbr else { return nil }
        do {
            let response = try await http.send(HTTPClientRequest(url: config.url), endpoint: "cbr")
            let body = Data(response.body.readableBytesView)
            let rates = try Self.parseCBR(body)
            guard reporting == .rub else {
                throw SyncFailure(endpoint: "cbr", reason: "config", message: "CBR rates are in roubles; reporting.currency is \(reporting)")
            }
            // The date the bank set the rates for; without one, the day of the fetch in Moscow.
            let day = Self.publicationDay(body) ?? LocalDay(now, in: Self.moscow)
            history.publish(rates, on: day)
            fetchedAt = now
            lastError = nil
            try? await store.saveFXRates(rates, day: day, fetchedAt: now, keepFrom: day.adding(days: -retentionDays))
            return nil
        } catch {
            let failure = error as? SyncFailure ?? SyncFailure(endpoint: "cbr", reason: "error", message: "\(error)")
            lastError = failure.message
            return failure
        }
    }

    static let moscow = TimeZone(identifier: "Europe/Moscow") ?? .current

    /// `<ValCurs Date="20.11.2026" …>`: the day the rates are set for (the bank publishes the
    /// next working day's rates in the afternoon); nil when the attribute is missing or odd.
    static func publicationDay(_ data: Data) -> LocalDay? {
        let text = String(decoding: data.prefix(4096), as: UTF8.self)
        guard let tag = text.range(of: "<ValCurs"), let attribute = text.range(of: "Date=\"", range: tag.upperBound..<text.endIndex),
              let end = text[attribute.upperBound...].firstIndex(of: "\"") else { return nil }
        let parts = text[attribute.upperBound..<end].split(separator: ".").compactMap { Int($0) }
        guard parts.count == 3, (1...31).contains(parts[0]), (1...12).contains(parts[1]), (1900...9999).contains(parts[2]) else { return nil }
        return LocalDay(year: parts[2], month: parts[1], day: parts[0])
    }

    /// `<Valute><CharCode>USD</CharCode><Nominal>1</Nominal><Value>81,5000</Value></Valute>`:
    /// roubles per `Nominal` units, with a decimal comma. The file is windows-1251; the fields
    /// read here are ASCII.
    static func parseCBR(_ data: Data) throws -> [Currency: Decimal] {
        let text = String(decoding: data, as: UTF8.self)
        var rates: [Currency: Decimal] = [:]
        for block in text.components(separatedBy: "<Valute").dropFirst() {
            func element(_ name: String) -> String? {
                guard let start = block.range(of: "<\(name)>"), let end = block.range(of: "</\(name)>", range: start.upperBound..<block.endIndex) else { return nil }
                return String(block[start.upperBound..<end.lowerBound]).trimmingCharacters(in: .whitespaces)
            }
            guard let code = element("CharCode"), code.count == 3,
                  let nominal = element("Nominal").flatMap({ Decimal.exact($0) }), nominal > 0,
                  let value = element("Value").flatMap({ Decimal.exact($0.replacingOccurrences(of: ",", with: ".")) }) else { continue }
            rates[Currency(code)] = value / nominal
        }
        guard !rates.isEmpty else {
            throw SyncFailure(endpoint: "cbr", reason: "bad_xml", message: "cbr: no <Valute> with CharCode, Nominal and Value")
        }
        return rates
    }
}
