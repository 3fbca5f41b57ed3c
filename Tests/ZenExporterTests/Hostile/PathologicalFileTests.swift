import CostModel
@testable import FocusFormat
import Foundation
@testable import Ingest
import Testing
@testable import ZenExporter

/// FOCUS files built to hurt: each is read in bounded memory and ends as counted bad rows or a
/// named error with the file and line, never a crash.
@Suite("Pathological FOCUS files", .serialized)
struct PathologicalFileTests {
    static let header = "BilledCost,BillingCurrency,ChargePeriodStart,ChargeCategory,ServiceCategory,ServiceName,ProviderName,SubAccountId,ResourceId\n"
    static func row(_ cost: String, _ id: String) -> String { "\(cost),USD,2026-11-19T00:00:00Z,Usage,Compute,EC2,AWS,acct,\(id)\n" }

    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pathological-\(UUID().uuidString)")

    func write(_ name: String, _ text: String) throws -> String {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func read(_ path: String) throws -> FocusExport { try FocusExport.read(path: path, timeZone: TimeZone(identifier: "UTC") ?? .current) }

    @Test("two million blank lines between rows: both rows read, no stack overflow")
    func millionsOfBlankLines() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try write("blank.csv", Self.header + Self.row("1.25", "a") + String(repeating: "\n", count: 2_000_000) + Self.row("2.50", "b"))
        let file = try read(path)
        #expect(file.badRowCount == 0)
        #expect(file.billedByCurrency == ["USD": Decimal(string: "3.75")!])
    }

    @Test("an unterminated quote is one bad row naming file:line; the rows before it count")
    func unterminatedQuote() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try write("quote.csv", Self.header + Self.row("1.25", "a") + "2.00,USD,\"never closed\n" + String(repeating: Self.row("9", "z"), count: 100))
        let file = try read(path)
        #expect(file.badRowCount == 1)
        #expect(file.badRows.map(\.description) == ["quote.csv:3: quoted field not closed before the end of the file"])
        #expect(file.billedByCurrency == ["USD": Decimal(string: "1.25")!])
    }

    @Test("a 6 MB field is a bad row at its line ('record over 4 MiB'), not 6 MB held per field")
    func multiMegabyteField() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let huge = String(repeating: "x", count: 6 * 1024 * 1024)
        let path = try write("huge.csv", Self.header + Self.row("1.25", "a") + Self.row("1.00", huge))
        let file = try read(path)
        #expect(file.badRowCount == 1)
        #expect(file.badRows.first?.description == "huge.csv:3: record over 4 MiB")
        #expect(file.billedByCurrency == ["USD": Decimal(string: "1.25")!])
    }

    @Test("the record cap also stops an unterminated quote over a large file early, naming the line it opened on")
    func unterminatedQuoteCapped() throws {
        var reader = CSVReader(MemoryChunks(bytes: Array(("a,b\n1,\"" + String(repeating: "y,\n", count: 3 * 1024 * 1024)).utf8), size: 64 * 1024),
                               file: "big.csv")
        #expect(try reader.next()?.fields == ["a", "b"])
        let error = #expect(throws: CSVError.self) { _ = try reader.next() }
        #expect(error?.description == "big.csv:2: record over 4 MiB (a quote not closed?)")
    }

    @Test("a truncated gzip export is a bad row naming the file and the line it stops at")
    func truncatedGzip() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        var text = Self.header
        for index in 0..<20_000 { text += Self.row("0.01", "r-\(index % 97)-\(index)") }
        let plain = try write("cut.csv", text)
        #expect(try runTool("sh", ["-c", "gzip -c '\(plain)' > '\(plain).full.gz' && head -c $(( $(stat -c %s '\(plain).full.gz') / 2 )) '\(plain).full.gz' > '\(directory.path)/cut.csv.gz'"]).status == 0)
        let file = try read(directory.appendingPathComponent("cut.csv.gz").path)
        #expect(file.badRowCount == 1)
        let bad = try #require(file.badRows.first)
        #expect(bad.file == "cut.csv.gz")
        #expect(bad.reason == "truncated gzip data (the stream ends inside a member)")
        #expect(bad.line > 1 && bad.line < 20_002)
        #expect(file.rows > 1000 && file.rows < 20_000)  // what came before the cut is read
    }

    @Test("a gzip bomb (100 MB of newlines in ~100 KB) fails past the inflation ratio, as a bad row naming the file")
    func gzipBomb() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try write("seed.txt", "")
        let bomb = directory.appendingPathComponent("bomb.csv.gz").path
        let script = "{ printf '\(Self.header.replacingOccurrences(of: "\n", with: "\\n"))'; head -c 100000000 /dev/zero | tr '\\0' '\\n'; } | gzip -9 > '\(bomb)'"
        #expect(try runTool("sh", ["-c", script]).status == 0)
        let compressed = try #require(try FileManager.default.attributesOfItem(atPath: bomb)[.size] as? Int)
        #expect(compressed < 200_000)
        let file = try read(bomb)
        #expect(file.badRowCount == 1)
        let bad = try #require(file.badRows.first)
        #expect(bad.file == "bomb.csv.gz")
        #expect(bad.reason.hasPrefix("gzip data inflates over 200 times its size"))
    }
}
