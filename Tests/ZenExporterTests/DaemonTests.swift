import Foundation
import GRDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real binary, started as a user starts it, on loopback.
@Suite("The daemon end to end", .serialized)
struct DaemonTests {
    static let demoConfig = """
    storage: {path: ./data/infrazen.db}
    sources:
      - {name: demo, type: demo, interval: 1h}
    """

    @Test("/metrics serves the demo estate; promtool check metrics finds nothing to say")
    func servesMetrics() async throws {
        let daemon = try Daemon(config: Self.demoConfig)
        try daemon.start()
        try await daemon.waitUntilReady()
        let text = try await daemon.metrics()
        let parsed = ParsedExposition(text)
        #expect(abs(parsed.sum("infrazen_infrastructure_cost_monthly", where: { $0["currency"] == "RUB" }) - 117_150) < 0.01)
        for name in ["infrazen_resource_cost_per_hour", "infrazen_resource_info", "infrazen_infrastructure_cost_monthly",
                     "infrazen_cost_month_to_date", "infrazen_build_info", "infrazen_source_up",
                     "infrazen_sync_last_success_timestamp_seconds", "infrazen_sync_duration_seconds", "infrazen_sync_resources",
                     "process_resident_memory_bytes", "process_cpu_seconds_total", "process_start_time_seconds", "process_open_fds"] {
            #expect(!parsed.values(name).isEmpty, "\(name) missing")
            #expect(parsed.helps[name] != nil, "\(name) has no HELP")
        }
        #expect(parsed.value("process_resident_memory_bytes", [:]).map { $0 > 1_000_000 } == true)
        let check = try runTool("promtool", ["check", "metrics"], stdin: Data(text.utf8))
        #expect(check.status == 0 && check.output.isEmpty, "promtool: \(check.output)")
        _ = daemon.stop()
    }

    @Test("gzip is served when asked for and decompresses to the plain exposition")
    func gzip() async throws {
        let daemon = try Daemon(config: Self.demoConfig)
        try daemon.start()
        try await daemon.waitUntilReady()
        // curl decodes the body itself; gunzip checks the CRC and length of the whole member.
        let compressed = try runTool("sh", ["-c", "curl -sf -H 'Accept-Encoding: gzip' http://127.0.0.1:\(daemon.port)/metrics | gunzip -t && echo intact"])
        #expect(compressed.output.contains("intact"), "\(compressed.output)")
        let decoded = try runTool("curl", ["-sf", "--compressed", "http://127.0.0.1:\(daemon.port)/metrics"])
        let plain = try await daemon.metrics()
        let strip = { (text: String) in text.split(separator: "\n").filter { !$0.hasPrefix("process_") }.joined(separator: "\n") }
        #expect(strip(decoded.output) == strip(plain))
        #expect(decoded.output.contains("process_open_fds"))
        _ = daemon.stop()
    }

    @Test("a large estate is served plain right after its sync and gzipped once its series are deflated; both decode to the same text")
    func gzipAfterLargeSync() async throws {
        // 20,000 resources × 1 day: the cost series alone are about 6 MB, past the 1 MiB from
        // which a sync publishes before deflating.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("zen-gzip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let csv = scratch.appendingPathComponent("focus.csv").path
        let generator = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/gen-focus.py").standardizedFileURL.path
        let generated = try runTool("python3", [generator, "20000", "1", csv, "--start", "2026-11-20"])
        #expect(generated.status == 0, "\(generated.output)")
        let daemon = try Daemon(config: """
            storage: {path: ./data/infrazen.db}
            metrics: {per_resource: true}
            sources:
              - {name: focus, type: focus, path: "\(csv)", interval: 1h}
            """)
        try daemon.start()
        try await daemon.waitUntilReady(timeout: 60)
        let plain = try await daemon.metrics()
        // Past the 1 MiB from which the series are deflated after the publish, not before.
        let costLines = plain.split(separator: "\n").filter { $0.hasPrefix("infrazen_resource_cost_per_hour{") }
        #expect(costLines.reduce(0) { $0 + $1.utf8.count } > 1 << 20)  // ExpositionWriter.deflateLaterFrom
        // Whichever form a scrape gets, it is whole; within 30 s it is gzip.
        var encoding = ""
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let headers = try runTool("sh", ["-c", "curl -sf -o /dev/null -D - -H 'Accept-Encoding: gzip' http://127.0.0.1:\(daemon.port)/metrics"])
            encoding = headers.output.lowercased().contains("content-encoding: gzip") ? "gzip" : "identity"
            if encoding == "gzip" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(encoding == "gzip")
        let compressed = try runTool("sh", ["-c", "curl -sf -H 'Accept-Encoding: gzip' http://127.0.0.1:\(daemon.port)/metrics | gunzip -t && echo intact"])
        #expect(compressed.output.contains("intact"), "\(compressed.output)")
        let decoded = try runTool("curl", ["-sf", "--compressed", "http://127.0.0.1:\(daemon.port)/metrics"])
        let strip = { (text: String) in text.split(separator: "\n").filter { !$0.hasPrefix("process_") && !$0.contains("sync_duration") }.joined(separator: "\n") }
        #expect(strip(decoded.output) == strip(try await daemon.metrics()))
        #expect(strip(decoded.output) == strip(plain))
        _ = daemon.stop()
    }

    @Test("the landing page and the health endpoints answer")
    func landingAndHealth() async throws {
        let daemon = try Daemon(config: Self.demoConfig)
        try daemon.start()
        try await daemon.waitUntilReady()
        let (page, status) = try await daemon.get("/")
        #expect(status == 200)
        let html = String(decoding: page, as: UTF8.self)
        #expect(html.contains("<td>demo</td>") && html.contains("/metrics"))
        #expect(try await daemon.get("/-/healthy").1 == 200)
        _ = daemon.stop()
    }

    @Test("SIGTERM stops it within 5 s; a restart serves the same totals from the restored snapshot")
    func sigtermAndRestart() async throws {
        let daemon = try Daemon(config: Self.demoConfig)
        try daemon.start()
        try await daemon.waitUntilReady()
        let before = ParsedExposition(try await daemon.metrics())
        let stopped = try #require(daemon.stop(signal: SIGTERM))
        #expect(stopped.seconds < 5)
        #expect(stopped.status == 0 && stopped.reason == .exit)
        #expect(daemon.logText.contains("database closed"))

        try daemon.start()
        try await daemon.waitUntilReady()
        let after = ParsedExposition(try await daemon.metrics())
        // Interval 1h: the restarted daemon has not synced; it serves what it restored.
        #expect(after.value("infrazen_sync_last_success_timestamp_seconds", ["source": "demo"])
            == before.value("infrazen_sync_last_success_timestamp_seconds", ["source": "demo"]))
        for name in ["infrazen_infrastructure_cost_monthly", "infrazen_cost_month_to_date", "infrazen_resource_cost_per_hour"] {
            #expect(after.sum(name) == before.sum(name), "\(name)")
        }
        #expect(daemon.stop(signal: SIGINT)?.status == 0)
    }

    @Test("kill -9 during a sync: the database is intact and the previous snapshot is served")
    func killDuringSync() async throws {
        let daemon = try Daemon(config: """
        storage: {path: ./data/infrazen.db}
        sources:
          - {name: demo, type: demo, scale: 100, interval: 1h}
        """)
        let first = try daemon.run(["sync", "--once"])
        #expect(first.status == 0, "\(first.output)")
        // Measure a whole sync, then kill later ones at points spread across it.
        let started = Date()
        #expect(try daemon.run(["sync", "--once"]).status == 0)
        let syncSeconds = Date().timeIntervalSince(started)
        for fraction in [0.5, 0.7, 0.85, 0.95] {
            try daemon.start(["sync", "--once"])
            usleep(UInt32(syncSeconds * fraction * 1_000_000))
            _ = daemon.stop(signal: SIGKILL)
        }
        let queue = try DatabaseQueue(path: daemon.databasePath)
        let (integrity, lastGood) = try await queue.read { db in
            (try String.fetchOne(db, sql: "PRAGMA integrity_check"),
             try Double.fetchOne(db, sql: "SELECT finished_at FROM sync_snapshots WHERE status = 'ok' ORDER BY id DESC LIMIT 1"))
        }
        try queue.close()
        #expect(integrity == "ok")

        try daemon.start()
        try await daemon.waitUntilReady()
        let served = ParsedExposition(try await daemon.metrics())
        #expect(abs(served.sum("infrazen_infrastructure_cost_monthly") - 100 * 117_150) < 1)
        #expect(served.value("infrazen_sync_last_success_timestamp_seconds", ["source": "demo"]) == lastGood.map { $0.rounded(.down) })
        _ = daemon.stop()
    }

    @Test("check-config prints every problem with file:line:column and exits 2; serve refuses to start")
    func badConfigExits2() async throws {
        let daemon = try Daemon(config: """
        reporting:
          currency: RUR
        sources:
          - name: demo
            type: demo
            interval: soon
        """)
        let check = try daemon.run(["check-config"])
        #expect(check.status == 2)
        #expect(check.output.contains("./exporter.yaml:2:13: reporting.currency: unknown currency \"RUR\""))
        #expect(check.output.contains("./exporter.yaml:6:15: sources[0].interval: invalid duration \"soon\""))
        let serve = try daemon.run(["serve", "--listen", "127.0.0.1:\(daemon.port)"], timeout: 30)
        #expect(serve.status == 2)
        #expect(serve.output.contains("reporting.currency"))
    }

    @Test("render prints one exposition and exits without touching the database")
    func render() throws {
        let daemon = try Daemon(config: Self.demoConfig)
        let result = try daemon.run(["render", "--at", "2026-11-20T09:00:00Z", "--log-level", "error"])
        #expect(result.status == 0)
        let parsed = ParsedExposition(result.output)
        #expect(parsed.sum("infrazen_infrastructure_cost_monthly") == 117_150)
        #expect(!FileManager.default.fileExists(atPath: daemon.databasePath))
    }

    @Test("a second daemon on the same database refuses to start, naming the first one's pid")
    func secondDaemonRefused() async throws {
        let daemon = try Daemon(config: Self.demoConfig)
        try daemon.start()
        try await daemon.waitUntilReady()
        let pid = try #require(daemon.process?.processIdentifier)
        let second = try daemon.run(["serve", "--listen", "127.0.0.1:\(try freePort())"], timeout: 30)
        #expect(second.status == 1)
        #expect(second.output.contains("is in use by another zen-exporter (pid \(pid))"), "\(second.output)")
        #expect(ParsedExposition(try await daemon.metrics()).value("infrazen_database_recovered", [:]) == 0)
        // The first one still serves.
        let parsed = ParsedExposition(try await daemon.metrics())
        #expect(abs(parsed.sum("infrazen_infrastructure_cost_monthly", where: { $0["currency"] == "RUB" }) - 117_150) < 0.01)
        _ = daemon.stop()
    }

    @Test("a database file that is not a database is moved aside; the daemon starts empty and refills")
    func corruptDatabaseMovedAside() async throws {
        let daemon = try Daemon(config: Self.demoConfig)
        try FileManager.default.createDirectory(atPath: daemon.directory.appendingPathComponent("data").path, withIntermediateDirectories: true)
        let garbage = Data((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) })
        try garbage.write(to: URL(fileURLWithPath: daemon.databasePath))
        try daemon.start()
        try await daemon.waitUntilReady()
        let parsed = ParsedExposition(try await daemon.metrics())
        #expect(abs(parsed.sum("infrazen_infrastructure_cost_monthly", where: { $0["currency"] == "RUB" }) - 117_150) < 0.01)
        let data = try FileManager.default.contentsOfDirectory(atPath: daemon.directory.appendingPathComponent("data").path)
        let aside = try #require(data.first { $0.hasPrefix("infrazen.db.corrupt-") && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") })
        // The bad bytes are kept, not lost.
        #expect(try Data(contentsOf: daemon.directory.appendingPathComponent("data/\(aside)")) == garbage)
        let log = try String(contentsOf: daemon.log, encoding: .utf8)
        #expect(log.contains("the database cannot be read; moved aside"))
        #expect(parsed.value("infrazen_database_recovered", [:]) == 1)
        _ = daemon.stop()
    }
}
