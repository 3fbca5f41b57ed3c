import AsyncHTTPClient
import CostModel
import Foundation

/// The exchange rates in force: the configured static ones, or the Central Bank of Russia's
/// daily rates, fetched on a schedule, kept in the database, and left as they were (with
/// their age showing) when the bank cannot be reached.
actor FXRates {
    private let config: FXConfig
    private let reporting: Currency
    private let store: Store
    private let http: ProviderClient
    private(set) var table: FXTable
    private(set) var fetchedAt: Date?
    private(set) var lastError: String?

    init(config: FXConfig, reporting: Currency, store: Store) {
        self.config = config
        self.reporting = reporting
        self.store = store
        http = ProviderClient(timeout: .seconds(30), retries: 2, source: "cbr")
        table = FXTable(reporting: reporting, rates: config.rates)
    }

    /// Loads the last good fetched rates (after a restart, before the bank answers).
    func restore() async {
        guard config.source == .cbr, let saved = try? await store.fxRates() else { return }
        table = FXTable(reporting: reporting, rates: config.rates.merging(saved.rates) { _, fetched in fetched })
        fetchedAt = saved.fetchedAt
    }

    /// Fetches the bank's rates; on failure keeps the previous ones and returns the error.
    @discardableResult
    func refresh(now: Date) async -> SyncFailure? {
        guard config.source == .cbr else { return nil }
        do {
            let response = try await http.send(HTTPClientRequest(url: config.url), endpoint: "cbr")
            let rates = try Self.parseCBR(Data(response.body.readableBytesView))
            guard reporting == .rub else {
                throw SyncFailure(endpoint: "cbr", reason: "config", message: "CBR rates are in roubles; reporting.currency is \(reporting)")
            }
            table = FXTable(reporting: reporting, rates: config.rates.merging(rates) { _, fetched in fetched })
            fetchedAt = now
            lastError = nil
            try? await store.saveFXRates(rates, fetchedAt: now)
            return nil
        } catch {
            let failure = error as? SyncFailure ?? SyncFailure(endpoint: "cbr", reason: "error", message: "\(error)")
            lastError = failure.message
            return failure
        }
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
