import CostModel
import Foundation
import GRDB
import Logging
@testable import Storage
import Testing
@testable import ZenExporter

@Suite("Packed cost lines")
struct CostLineSetTests {
    static func entry(_ id: Int64, _ resource: String, service: String = "Cloud Servers", currency: Currency = .rub,
                      account: String = "1", category: CostCategory = .compute) -> CostLineSet.Entry {
        CostLineSet.Entry(id: id, line: DailyCostTable.Line(resourceID: resource, service: service, currency: currency,
                                                             provider: "selectel", account: account, category: category))
    }

    @Test("every line comes back as it was, with its ID: gaps between IDs, the largest ID, empty and non-ASCII strings")
    func roundTrip() throws {
        let entries = [
            Self.entry(1, "vm-1"),
            Self.entry(2, "vm-1", service: "Network", currency: Currency("USD")),
            Self.entry(900, "", service: "", account: "", category: .other),
            Self.entry(901, "ведро-3", service: "Хранилище 🪣", category: .storage),
            Self.entry(Int64.max, String(repeating: "x", count: 300)),
        ]
        #expect(try CostLineSet.unpack(CostLineSet.pack(entries)) == entries)
        #expect(try CostLineSet.unpack(CostLineSet.pack([])) == [])
    }

    @Test("a repeated service, currency, provider, account and category is stored once")
    func sharedStringsStoredOnce() throws {
        let entries = (1...1000).map { Self.entry(Int64($0), "vm-\($0)") }
        let packed = CostLineSet.pack(entries)
        // An ID step (1 byte), the resource ID (1 + 5–8 bytes) and five one-byte indices: under
        // 16 bytes a line, where "Cloud Servers", "RUB", "selectel", "1" and "compute" alone are 29.
        #expect(packed.count < 16 * 1000)
        #expect(try CostLineSet.unpack(packed) == entries)
    }

    @Test("a cut or altered blob is refused with where it broke, never read past its end")
    func corruptIsNamed() throws {
        let packed = CostLineSet.pack([Self.entry(7, "vm-1"), Self.entry(9, "vm-2")])
        for length in 0..<packed.count {
            #expect(throws: PackedBytes.Corrupt.self) { try CostLineSet.unpack(packed.prefix(length)) }
        }
        var future = packed
        future[future.startIndex] = 2
        #expect { try CostLineSet.unpack(future) } throws: { "\($0)" == "packed cost lines: version 2, not 1 at byte 0" }
        #expect { try CostLineSet.unpack(packed + Data([0])) } throws: { "\($0)".hasSuffix("1 bytes after the last line at byte \(packed.count)") }
        // Layout by hand: version 1; 5 shared strings ("Cloud Servers", "RUB", "selectel", "1",
        // "compute"); 2 lines; the first line's ID step (7) sits after 1 + 1 + 14 + 4 + 9 + 2 + 8 + 1 bytes.
        let stepOffset = 1 + 1 + 14 + 4 + 9 + 2 + 8 + 1
        #expect(packed[packed.startIndex + stepOffset] == 7)
        var repeated = packed
        repeated[repeated.startIndex + stepOffset] = 0
        #expect { try CostLineSet.unpack(repeated) } throws: { "\($0)" == "packed cost lines: line ID step 0 after 0 at byte \(stepOffset)" }
    }

    @Test("a v7 database's cost lines are packed per source with their IDs, and its per-resource days still find them")
    func migrationFromV7() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zen-lines-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("infrazen.db").path
        let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
        let first = LocalDay(year: 2026, month: 8, day: 1)
        let before: [DailyCost]
        do {
            let store = try Store(path: path)
            var engine = SyncEngine(config: try ConfigLoader.parse("sources:\n  - {name: demo, type: demo}\n", file: "t.yaml", environment: [:]),
                                    store: store, logger: Logger(label: "t"))
            engine.clock = { now }
            #expect(await engine.syncAllOnce() == [])
            before = try await store.dailyCosts(source: "demo", from: first)
            try store.close()
        }
        // The v7 layout by hand: the demo's lines as rows, with their IDs, between the rows of
        // another source; no packed sets; v8 not yet applied.
        let old = try DatabaseQueue(path: path)
        let demoLines = try await old.read { try Store.storedLines($0, source: "demo") }
        try await old.write { db in
            try db.execute(sql: """
                CREATE TABLE cost_lines (id INTEGER PRIMARY KEY, source TEXT NOT NULL, resource_id TEXT NOT NULL, service TEXT NOT NULL,
                    currency TEXT NOT NULL, provider TEXT NOT NULL, account TEXT NOT NULL, category TEXT NOT NULL);
                CREATE INDEX cost_lines_by_source ON cost_lines (source);
                DROP TABLE cost_line_sets;
                DELETE FROM grdb_migrations WHERE identifier LIKE 'v8:%';
                """)
            for entry in demoLines {
                let line = entry.line
                try db.execute(sql: "INSERT INTO cost_lines VALUES (?, 'demo', ?, ?, ?, ?, ?, ?)", arguments: [
                    entry.id * 2, line.resourceID, line.service, line.currency.code, line.provider, line.account, line.category.rawValue])
                try db.execute(sql: "INSERT INTO cost_lines VALUES (?, 'other', ?, 'S', 'USD', 'aws', 'a', 'storage')", arguments: [
                    entry.id * 2 + 1, "other-\(entry.id)"])
            }
            // The per-resource days refer to the demo's lines by their new IDs (doubled).
            for day in try Row.fetchAll(db, sql: "SELECT day, lines FROM resource_daily WHERE source = 'demo'") {
                try db.execute(sql: "UPDATE resource_daily SET lines = ? WHERE source = 'demo' AND day = ?",
                               arguments: [ResourceDay.pack(ResourceDay.unpack(day[1]).map { $0 * 2 }), day[0] as Int])
            }
        }
        try old.close()

        let store = try Store(path: path)
        defer { try? store.close() }
        #expect(try await store.dailyCosts(source: "demo", from: first) == before)
        #expect(!before.isEmpty)
        let migrated = try DatabaseQueue(path: path)
        defer { try? migrated.close() }
        try await migrated.read { db in
            #expect(try !db.tableExists("cost_lines"))
            #expect(try Store.storedLines(db, source: "demo").map(\.id) == demoLines.map { $0.id * 2 })
            #expect(try Store.storedLines(db, source: "demo").map(\.line) == demoLines.map(\.line))
            let other = try Store.storedLines(db, source: "other")
            #expect(other.map(\.id) == demoLines.map { $0.id * 2 + 1 })
            #expect(other.first?.line == DailyCostTable.Line(resourceID: "other-\(demoLines[0].id)", service: "S", currency: Currency("USD"),
                                                             provider: "aws", account: "a", category: .storage))
        }
    }
}
