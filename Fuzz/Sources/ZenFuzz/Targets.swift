import CostModel
@testable import FocusFormat
import Foundation
@testable import Ingest
@testable import ProviderBeget
@testable import ProviderCloudRu
@testable import ProviderOpenStack
@testable import ProviderSelectel
@testable import ProviderWarehouse
@testable import ProviderYandex
@testable import SourceKit
@testable import ZenExporter

typealias FuzzTarget = @Sendable (UnsafeRawBufferPointer) -> Void

/// Every fuzz target by name; each must never trap, whatever the bytes. Where a property holds
/// for every input (a parsed duration prints back to itself), the target checks it and traps
/// when it does not, so that libFuzzer reports it.
enum FuzzTargets {
    static let all: [String: FuzzTarget] = [
        "csv": csv,
        "gzip": gzip,
        "focus": focus,
        "micros": micros,
        "duration": duration,
        "config": config,
        "selectel-json": selectelJSON,
        "beget-json": begetJSON,
        "yandex-json": yandexJSON,
        "yandex-csv": yandexCSV,
        "cbr-xml": cbrXML,
        "price-list": priceList,
        "cloudru-json": cloudruJSON,
        "clickhouse-tsv": clickhouseTSV,
    ]

    /// The first byte picks the chunk size (1…256 bytes), so records and quotes straddle chunks.
    static func chunks(_ input: UnsafeRawBufferPointer) -> MemoryChunks {
        guard let first = input.first else { return MemoryChunks(bytes: [], size: 1) }
        return MemoryChunks(bytes: Array(input.dropFirst()), size: Int(first) + 1)
    }

    static func readAll<Source: ByteChunks>(_ reader: inout CSVReader<Source>) {
        while true {
            do {
                guard try reader.nextRecord() != nil else { return }
                for field in 0..<reader.fieldCount { _ = reader.string(field) }
            } catch {
                return
            }
        }
    }

    /// Every record with its line, and the error that ended the read (nil at the end).
    static func records<Source: ByteChunks>(_ reader: inout CSVReader<Source>) -> (records: [[String]], error: String?) {
        var all: [[String]] = []
        while true {
            do {
                guard let line = try reader.nextRecord() else { return (all, nil) }
                all.append(["\(line)"] + (0..<reader.fieldCount).map { reader.string($0) })
            } catch {
                return (all, "\(error)")
            }
        }
    }

    /// Differential: the chosen chunk size, one byte at a time (every record read byte by
    /// byte) and the input as one chunk (every record that can be read in place is) give the
    /// same records, lines and error.
    static func csv(_ input: UnsafeRawBufferPointer) {
        var chosen = CSVReader(chunks(input), file: "fuzz.csv")
        let bytes = Array(input.dropFirst())
        var byteByByte = CSVReader(MemoryChunks(bytes: bytes, size: 1), file: "fuzz.csv")
        var whole = CSVReader(MemoryChunks(bytes: bytes, size: max(1, bytes.count)), file: "fuzz.csv")
        let reference = records(&byteByByte)
        guard records(&chosen) == reference, records(&whole) == reference else {
            fatalError("CSV records differ between chunk sizes")
        }
    }

    static func gzip(_ input: UnsafeRawBufferPointer) {
        var reader = CSVReader(GzipChunks(chunks(input), file: "fuzz.csv.gz"), file: "fuzz.csv.gz")
        readAll(&reader)
    }

    /// A whole FOCUS file through the connector's reader (header, money, dates, tags).
    static func focus(_ input: UnsafeRawBufferPointer) {
        withTemporaryFile(input, suffix: ".csv") { path in
            _ = try? FocusExport.read(path: path, timeZone: TimeZone(identifier: "UTC") ?? .current).snapshot()
        }
    }

    static func micros(_ input: UnsafeRawBufferPointer) {
        let bytes = input.bindMemory(to: UInt8.self)
        if let value = Micros.parse(bytes) {
            // What it prints must read back as the same amount.
            let printed = Micros.plainString(value)
            let again = Array(printed.utf8).withUnsafeBufferPointer { Micros.parse($0) }
            precondition(again == value, "Micros \(value) printed as \(printed) read back as \(String(describing: again))")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        if let decimal = Decimal.exact(text) {
            _ = Micros.from(decimal)
            _ = decimal.plainString
        }
        _ = Decimal.exactConfigNumber(text)
    }

    static func duration(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        guard case let .success(duration) = DurationParser.parse(text) else { return }
        // The printed form parses back to the same duration.
        let printed = duration.prometheusText
        guard case let .success(again) = DurationParser.parse(printed) else {
            preconditionFailure("\(text) parsed, printed as \(printed), which does not parse")
        }
        precondition(again == duration, "\(text) → \(printed) → \(again)")
    }

    static func config(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        _ = try? ConfigLoader.parse(text, file: "fuzz.yaml", environment: ["ZEN_FUZZ_SECRET": "s3cret"])
    }

    static func selectelJSON(_ input: UnsafeRawBufferPointer) {
        let data = Data(input)
        let decoder = JSONDecoder()
        _ = try? decoder.decode(Selectel.Balances.self, from: data)
        _ = try? decoder.decode(Selectel.TokenBody.self, from: data)
        _ = try? decoder.decode(Selectel.Servers.self, from: data)
        _ = try? decoder.decode(Selectel.Volumes.self, from: data)
        _ = try? decoder.decode(Selectel.Ports.self, from: data)
        _ = try? decoder.decode(Selectel.Aggregates.self, from: data)
        _ = try? decoder.decode(Selectel.Projects.self, from: data)
        // The hand-written consumption scanner, and the tally its rows go into.
        var tally = ConsumptionTally()
        _ = try? Selectel.ConsumptionReader.read(input) { row in tally.add(row, hourly: true) }
        for day in tally.days.values { _ = day.kopecks.decimal }
    }

    static func begetJSON(_ input: UnsafeRawBufferPointer) {
        let data = Data(input)
        let decoder = JSONDecoder()
        _ = try? decoder.decode(BegetLegacy.Envelope<BegetLegacy.AccountInfo>.self, from: data)
        _ = try? decoder.decode(BegetLegacy.Envelope<[BegetLegacy.Domain]>.self, from: data)
        _ = try? decoder.decode(BegetModern.Auth.self, from: data)
        _ = try? decoder.decode(BegetModern.VPSList.self, from: data)
        _ = try? decoder.decode(BegetModern.ServiceList.self, from: data)
        _ = try? decoder.decode(BegetModern.Statistic.self, from: data)
    }

    static func yandexJSON(_ input: UnsafeRawBufferPointer) {
        let data = Data(input)
        let decoder = JSONDecoder()
        _ = try? decoder.decode(YandexModels.Account.self, from: data)
        _ = try? decoder.decode(YandexModels.Page.self, from: data)
        _ = try? decoder.decode(YandexIAM.AuthorizedKey.self, from: data)
    }

    /// A `type: openstack` price list, as YAML and as CSV; a list that parses prices a volume of
    /// every type over an hour and a month.
    static func priceList(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        for parsed in [try? PriceList.yaml(text, file: "fuzz.yaml"), try? PriceList.csv(text, file: "fuzz.csv")] {
            guard let list = parsed else { continue }
            for (kind, prices) in list.prices {
                for price in prices.values {
                    let rate = price.rate(gigabytes: kind.named ? 100 : 0, currency: list.currency, hoursPerMonth: list.hoursPerMonth)
                    _ = rate.over(hours: 720)
                }
            }
        }
    }

    /// Cloud.ru consumption, compute pages and token answers; consumption rows through the
    /// billing that turns them into daily costs and rates.
    static func cloudruJSON(_ input: UnsafeRawBufferPointer) {
        let data = Data(input)
        let decoder = JSONDecoder()
        _ = try? decoder.decode(CloudRu.Token.self, from: data)
        _ = try? decoder.decode(CloudRu.Page<CloudRu.VM>.self, from: data)
        _ = try? decoder.decode(CloudRu.Page<CloudRu.FloatingIP>.self, from: data)
        _ = try? decoder.decode(OpenStack.FloatingIPs.self, from: data)
        _ = try? decoder.decode(OpenStack.Shares.self, from: data)
        _ = try? decoder.decode(OpenStack.LoadBalancers.self, from: data)
        guard let rows = (try? decoder.decode(CloudRu.Consumption.self, from: data))?.consumptions else { return }
        var snapshot = SourceSnapshot()
        for vat in [CloudRuSource.Settings.VAT.exclude, .include] {
            CloudRuBilling(provider: "cloudru", account: "fuzz", vat: vat)
                .fill(&snapshot, rows: rows, inventory: [])
        }
    }

    /// A Yandex billing export file (CSV with user labels).
    static func yandexCSV(_ input: UnsafeRawBufferPointer) {
        withTemporaryFile(input, suffix: ".csv") { path in
            _ = try? YandexExportFile.read(path: path)
        }
    }

    /// A `focus_sql` ClickHouse answer (TabSeparated): differential, the first byte picks the
    /// chunk size as for csv, and the rows must equal those of the whole body in one chunk.
    static func clickhouseTSV(_ input: UnsafeRawBufferPointer) {
        func rows(chunk: Int) -> (rows: [[String]], refused: Bool) {
            var lines = TabSeparatedLines()
            lines.maxLineBytes = 4096
            var all: [[String]] = []
            let bytes = Array(input.dropFirst())
            do {
                var start = 0
                while start < bytes.count {
                    let end = min(bytes.count, start + chunk)
                    try lines.feed(Array(bytes[start..<end]), { all.append($0) })
                    start = end
                }
                try lines.finish { all.append($0) }
                return (all, false)
            } catch {
                return (all, true)
            }
        }
        guard let first = input.first else { return }
        let chunked = rows(chunk: Int(first) + 1)
        let whole = rows(chunk: max(1, input.count))
        // The cap counts a line's bytes however they arrive, so even a refusal comes after the
        // same rows.
        if chunked.rows != whole.rows || chunked.refused != whole.refused { fatalError("TabSeparated rows depend on chunking") }
    }

    static func cbrXML(_ input: UnsafeRawBufferPointer) {
        if let rates = try? FXRates.parseCBR(Data(input)) {
            for rate in rates.values { _ = rate.plainString }
        }
    }

    private static let temporaryDirectory = FileManager.default.temporaryDirectory.path + "/zen-fuzz-\(getpid())"

    private static func withTemporaryFile(_ input: UnsafeRawBufferPointer, suffix: String, _ body: (String) -> Void) {
        try? FileManager.default.createDirectory(atPath: temporaryDirectory, withIntermediateDirectories: true)
        let path = "\(temporaryDirectory)/input\(suffix)"
        guard FileManager.default.createFile(atPath: path, contents: Data(input)) else { return }
        body(path)
    }
}

