import Foundation
@testable import Ingest
import Testing
@testable import ZenExporter

@Suite("RFC 4180 reader")
struct CSVReaderTests {
    func records(_ text: String, chunk: Int = 3) throws -> [(line: Int, fields: [String])] {
        var reader = CSVReader(MemoryChunks(bytes: Array(text.utf8), size: chunk))
        var all: [(Int, [String])] = []
        while let record = try reader.next() { all.append(record) }
        return all
    }

    /// A file Python's csv module writes from the `rows` (and `terminator`) that `generator`
    /// defines, and the records the same module reads back from it: the oracle.
    func pythonCSV(_ generator: String) throws -> (bytes: [UInt8], expected: [[String]]) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("csv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let csv = directory.appendingPathComponent("oracle.csv").path
        let json = directory.appendingPathComponent("oracle.json").path
        let script = """
        import csv, json, random
        terminator = '\\r\\n'
        \(generator)
        with open('\(csv)', 'w', newline='', encoding='utf-8') as f:
            csv.writer(f, lineterminator=terminator).writerows(rows)
        with open('\(csv)', newline='', encoding='utf-8') as f:
            json.dump(list(csv.reader(f)), open('\(json)', 'w'))
        """
        let result = try runTool("python3", ["-c", script])
        #expect(result.status == 0, "\(result.output)")
        let expected = try JSONDecoder().decode([[String]].self, from: Data(contentsOf: URL(fileURLWithPath: json)))
        return (try [UInt8](Data(contentsOf: URL(fileURLWithPath: csv))), expected)
    }

    @Test("commas, doubled quotes and line breaks inside quotes; CRLF; the line each record starts on")
    func quoting() throws {
        let parsed = try records("a,b,c\r\n\"x,1\",\"say \"\"hi\"\"\",\"two\nlines\"\r\nlast,,\n")
        #expect(parsed.map(\.fields) == [["a", "b", "c"], ["x,1", "say \"hi\"", "two\nlines"], ["last", "", ""]])
        #expect(parsed.map(\.line) == [1, 2, 4])
    }

    @Test("a BOM is skipped, a missing final newline is fine, blank lines are skipped")
    func edges() throws {
        let parsed = try records("\u{FEFF}h1,h2\n\n1,2", chunk: 2)
        #expect(parsed.map(\.fields) == [["h1", "h2"], ["1", "2"]])
        #expect(parsed.map(\.line) == [1, 3])
    }

    @Test("an unterminated quote is an error naming its line")
    func unterminated() {
        #expect(throws: CSVError.self) { try records("a\n\"open,field\n") }
    }

    @Test("agrees with Python's csv module on a generated file with every hard case, any chunk size")
    func pythonOracle() throws {
        let (bytes, expected) = try pythonCSV("""
        random.seed(11)
        alphabet = ['a', 'b', ',', '"', '\\n', ' ', 'é', '₽', '1', '\\r\\n']
        rows = [[''.join(random.choice(alphabet) for _ in range(random.randint(0, 6))) for _ in range(5)] for _ in range(300)]
        """)
        for chunk in [1, 7, 4096] {
            var reader = CSVReader(MemoryChunks(bytes: bytes, size: chunk))
            var got: [[String]] = []
            while let record = try reader.next() { got.append(record.fields) }
            // Python keeps \\r inside quoted fields; this reader drops CR as a line-end byte only outside quotes.
            #expect(got == expected, "chunk size \(chunk)")
        }
    }

    @Test("records read in place (whole in a large chunk) equal Python's csv module and the byte-by-byte read (chunks of one byte)")
    func inPlaceAgreesWithByteByByte() throws {
        // Fields of 0–40 characters, so that the scan meets separators at every offset of its
        // 64 bytes and of the eight-byte words past them; JSON tags with doubled quotes; now
        // and then a line break or a stray CR inside a field, which sends that record down the
        // byte-by-byte path. Chunks of 64 and 200 bytes end most records' scans short.
        let (bytes, expected) = try pythonCSV("""
        random.seed(5)
        plain = 'abcdefghij-_.:0123456789é₽ '
        def field():
            r = random.random()
            if r < 0.1:
                return json.dumps({'tenant': 't%d' % random.randint(1, 99), 'env': random.choice(['prod', 'dev'])})
            if r < 0.13:
                return random.choice(['a,b', 'x\\ny', 'say "hi"', ''])
            return ''.join(random.choice(plain) for _ in range(random.randint(0, 40)))
        rows = [[field() for _ in range(random.randint(1, 18))] for _ in range(3000)]
        terminator = random.choice(['\\n', '\\r\\n'])
        """)
        var readings: [Int: [(line: Int, fields: [String])]] = [:]
        for chunk in [1, 64, 97, 200, 1 << 20] {
            var reader = CSVReader(MemoryChunks(bytes: bytes, size: chunk))
            var got: [(line: Int, fields: [String])] = []
            while let record = try reader.next() { got.append(record) }
            readings[chunk] = got
            #expect(got.map(\.fields) == expected, "chunk size \(chunk)")
        }
        for chunk in [1, 64, 97, 200] { #expect(readings[chunk]?.map(\.line) == readings[1 << 20]?.map(\.line), "chunk size \(chunk)") }
    }

    @Test("gzip files, including concatenated members, inflate to the same records")
    func gzip() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let plain = (0..<20_000).map { "row\($0),\"quoted, \($0)\",\($0 % 7)" }.joined(separator: "\n") + "\n"
        try plain.write(to: directory.appendingPathComponent("a.csv"), atomically: true, encoding: .utf8)
        let script = "cd '\(directory.path)' && head -n 10000 a.csv | gzip > p1.gz && tail -n 10000 a.csv | gzip > p2.gz && cat p1.gz p2.gz > both.csv.gz"
        #expect(try runTool("sh", ["-c", script]).status == 0)
        var reader = CSVReader(GzipChunks(try FileChunks(path: directory.appendingPathComponent("both.csv.gz").path), file: "both.csv.gz"))
        var count = 0
        var last: [String] = []
        while let record = try reader.next() {
            count += 1
            last = record.fields
        }
        #expect(count == 20_000)
        #expect(last == ["row19999", "quoted, 19999", "\(19999 % 7)"])
    }
}

@Suite("RFC 4180 reader, hostile input")
struct CSVReaderHostileTests {
    @Test("a million blank lines between two records are skipped without exhausting the stack")
    func manyBlankLines() throws {
        let text = "a,b\n" + String(repeating: "\n", count: 1_000_000) + "c,d\n"
        var reader = CSVReader(MemoryChunks(bytes: Array(text.utf8), size: 64 * 1024))
        #expect(try reader.next()?.fields == ["a", "b"])
        let last = try reader.next()
        #expect(last?.fields == ["c", "d"])
        #expect(last?.line == 1_000_002)
        #expect(try reader.next() == nil)
    }
}
