import CostModel
import Foundation
import Hummingbird
import Logging
import NIOCore
@testable import Storage
import Synchronization
import Testing
@testable import ZenExporter

/// The Prometheus usage source against a fake of `GET /api/v1/query` on 127.0.0.1 serving
/// the documented response shapes (a vector, an error), as node_exporter series would answer.
@Suite("Usage sources: Prometheus")
struct PrometheusUsageTests {
    /// PromQL the fake received, and whether it should fail.
    final class Fake: Sendable {
        let server: LoopbackServer
        let queries = Mutex<[String]>([])
        let failing = Mutex(false)

        init() throws { server = try LoopbackServer() }

        func start() async throws {
            let router = Router()
            router.get("/api/v1/query") { request, _ -> Response in
                let query = request.uri.queryParameters.get("query") ?? ""
                self.queries.withLock { $0.append(query) }
                if self.failing.withLock({ $0 }) {
                    return Self.json(#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#, status: .badRequest)
                }
                switch query {
                case #"sum by (tenant) (node_filesystem_size_bytes{mountpoint="/srv"} - node_filesystem_avail_bytes{mountpoint="/srv"})"#:
                    return Self.json("""
                    {"status":"success","data":{"resultType":"vector","result":[
                      {"metric":{"tenant":"t-1"},"value":[1795300000.5,"1500000000"]},
                      {"metric":{"tenant":"t-2"},"value":[1795300000.5,"500000000"]},
                      {"metric":{},"value":[1795300000.5,"250000000"]}]}}
                    """)
                case #"sum(node_filesystem_size_bytes{mountpoint="/srv"}) + 0"#:
                    return Self.json(#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795300000.5,"10000000000"]}]}}"#)
                default:
                    return Self.json(#"{"status":"success","data":{"resultType":"vector","result":[]}}"#)
                }
            }
            try await server.start(router)
        }

        static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
            Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }

    func config(_ url: String) throws -> ExporterConfig {
        try ConfigLoader.parse("""
        sources: [{name: demo, type: demo}]
        usage:
          - name: node
            type: prometheus
            url: \(url)
            queries:
              used_bytes: 'sum by (tenant) (node_filesystem_size_bytes{mountpoint="/srv"} - node_filesystem_avail_bytes{mountpoint="/srv"})'
              size_bytes: 'sum(node_filesystem_size_bytes{mountpoint="/srv"}) + 0'
        capacity:
          - {scope: srv, dimension: storage_bytes, used_from: usage/node/used_bytes, total_from: usage/node/size_bytes}
        """, file: "t.yaml", environment: [:])
    }

    @Test("series become tenant values and capacity: used 2.25 GB of 10 GB, headroom 0.775; PromQL arrives intact")
    func vectorToCapacity() async throws {
        let fake = try Fake()
        try await fake.start()
        defer { Task { await fake.server.stop() } }
        let engine = SyncEngine(config: try config(fake.server.baseURL), store: try Store(), logger: Logger(label: "test"))
        await engine.syncAllOnce()
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        #expect(metrics.value("infrazen_tenant_usage", ["tenant": "t-1", "dimension": "used_bytes"]) == 1_500_000_000)
        #expect(metrics.value("infrazen_tenant_usage", ["tenant": "t-2", "dimension": "used_bytes"]) == 500_000_000)
        #expect(metrics.value("infrazen_capacity_used", ["scope": "srv", "dimension": "storage_bytes"]) == 2_250_000_000)
        #expect(metrics.value("infrazen_capacity_size", ["scope": "srv", "dimension": "storage_bytes"]) == 10_000_000_000)
        #expect(metrics.value("infrazen_capacity_headroom_ratio", ["scope": "srv", "dimension": "storage_bytes"]) == 0.775)
        #expect(fake.queries.withLock { $0 }.contains(#"sum(node_filesystem_size_bytes{mountpoint="/srv"}) + 0"#))
    }

    @Test("a query Prometheus rejects keeps the last good values and is counted with reason query")
    func rejectedQueryKeepsValues() async throws {
        let fake = try Fake()
        try await fake.start()
        defer { Task { await fake.server.stop() } }
        let engine = SyncEngine(config: try config(fake.server.baseURL), store: try Store(), logger: Logger(label: "test"))
        await engine.syncAllOnce()
        fake.failing.withLock { $0 = true }
        await engine.usage.pollAllOnce()
        let metrics = ParsedExposition(String(buffer: engine.estate.exposition.rendered.body))
        #expect(metrics.value("infrazen_usage_query_up", ["usage": "node", "dimension": "used_bytes"]) == 0)
        #expect(metrics.value("infrazen_usage_query_errors_total", ["usage": "node", "dimension": "used_bytes", "reason": "query"]) == 1)
        #expect(metrics.value("infrazen_capacity_used", ["scope": "srv", "dimension": "storage_bytes"]) == 2_250_000_000)
    }

    @Test("an unreachable Prometheus is counted as a failed query, not a crash")
    func unreachable() async throws {
        let port = try freePort()
        let engine = SyncEngine(config: try config("http://127.0.0.1:\(port)"), store: try Store(), logger: Logger(label: "test"))
        await engine.usage.pollAllOnce()
        let status = try #require(await engine.estate.usageStatus(of: UsageReference(usage: "node", dimension: "used_bytes")))
        #expect(status.up == false && !status.hasData)
        #expect(status.errors.values.reduce(0, +) == 1)
    }
}
