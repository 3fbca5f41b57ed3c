import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// Selectel's billing API, Keystone and two regions of OpenStack on 127.0.0.1, serving the
/// documented shapes from Tests/Fixtures/selectel.
final class SelectelFake: Sendable {
    struct Behaviour: Sendable {
        /// The first token issued is refused by Nova once, as an expired one would be.
        var expireFirstToken = false
        var failRegion9Nova = true
        /// The body of `/v3/balances` instead of the fixture's; `balancesDown` answers 503.
        var balances: String?
        var balancesDown = false
        /// The catalog lists ru-1's Gnocchi on plain http:// to 0.0.0.0 (this fake all the same,
        /// but not a loopback name): the token must not go there.
        var insecureMetricCatalog = false
        /// Gnocchi's CPU means, instead of the fixture's.
        var cpuMeasures: [Double]?
    }

    static let staticToken = "fixture-static-token"
    static let servicePassword = "fixture-service-password"
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Fixtures/selectel")

    let server: LoopbackServer
    let behaviour: Mutex<Behaviour>
    let requests = Mutex<[String]>([])
    private let tokensIssued = Mutex(0)
    private let refusedOnce = Mutex(false)

    init(_ behaviour: Behaviour = Behaviour()) throws {
        server = try LoopbackServer()
        self.behaviour = Mutex(behaviour)
    }

    var baseURL: String { server.baseURL }
    func count(_ prefix: String) -> Int { requests.withLock { $0.filter { $0.hasPrefix(prefix) }.count } }

    func start() async throws { try await server.start(router()) }

    func stop() async { await server.stop() }

    private func fixture(_ name: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        let text = ((try? String(contentsOf: Self.fixtures.appendingPathComponent(name), encoding: .utf8)) ?? "")
            .replacingOccurrences(of: "BASE", with: baseURL)
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private func tokenValid(_ request: Request) -> Bool {
        guard let token = request.headers[HTTPFields.Element.Name("X-Auth-Token")!], token.hasPrefix("token-") else { return false }
        if token == "token-1", behaviour.withLock(\.expireFirstToken) {
            return refusedOnce.withLock { refused in defer { refused = true }; return refused }
        }
        return true
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/identity/v3/auth/tokens") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
            self.requests.withLock { $0.append("POST identity") }
            guard body.contains(Self.servicePassword), body.contains("7f1c2a9be0d34c21a8b6f0e2d4c5b6a7") else {
                return self.plain(.unauthorized, #"{"error": {"code": 401, "title": "Unauthorized"}}"#)
            }
            let number = self.tokensIssued.withLock { count in count += 1; return count }
            var headers = HTTPFields()
            headers[HTTPFields.Element.Name("X-Subject-Token")!] = "token-\(number)"
            var token = self.fixture("token.json", status: .created, headers: headers)
            if self.behaviour.withLock(\.insecureMetricCatalog) {
                let text = ((try? String(contentsOf: Self.fixtures.appendingPathComponent("token.json"), encoding: .utf8)) ?? "")
                    .replacingOccurrences(of: "BASE/ru-1/metric", with: self.baseURL.replacingOccurrences(of: "127.0.0.1", with: "0.0.0.0") + "/ru-1/metric")
                    .replacingOccurrences(of: "BASE", with: self.baseURL)
                token.body = .init(byteBuffer: ByteBuffer(string: text))
            }
            return token
        }
        router.get("/v3/balances") { request, _ -> Response in
            self.requests.withLock { $0.append("GET balances") }
            guard request.headers[HTTPFields.Element.Name("X-Token")!] == Self.staticToken else { return self.plain(.unauthorized, "{}") }
            let behaviour = self.behaviour.withLock { $0 }
            if behaviour.balancesDown { return self.plain(.serviceUnavailable, "{}") }
            if let body = behaviour.balances { return self.plain(.ok, body) }
            return self.fixture("balances.json")
        }
        router.get("/v1/cloud_billing/statistic/consumption") { request, _ -> Response in
            let period = request.uri.queryParameters.get("period_group_type") ?? ""
            self.requests.withLock { $0.append("GET consumption \(period) \(request.uri.queryParameters.get("start") ?? "")") }
            guard request.headers[HTTPFields.Element.Name("X-Token")!] == Self.staticToken else { return self.plain(.unauthorized, "{}") }
            return self.fixture("consumption-\(period).json")
        }
        router.get("/:region/compute/v2.1/servers/detail") { request, context -> Response in
            let region = context.parameters.get("region") ?? ""
            self.requests.withLock { $0.append("GET nova \(region)") }
            guard self.tokenValid(request) else { return self.plain(.unauthorized, #"{"error": {"code": 401}}"#) }
            if region == "ru-9", self.behaviour.withLock(\.failRegion9Nova) { return self.plain(.internalServerError, #"{"computeFault": {"code": 500}}"#) }
            if region != "ru-1" { return self.plain(.ok, #"{"servers": []}"#) }
            return self.fixture(request.uri.queryParameters.get("marker") == nil ? "servers-page-1.json" : "servers-page-2.json")
        }
        router.get("/:region/volume/v3/:project/volumes/detail") { request, context -> Response in
            guard self.tokenValid(request) else { return self.plain(.unauthorized, "{}") }
            return context.parameters.get("region") == "ru-1" ? self.fixture("volumes.json") : self.plain(.ok, #"{"volumes": []}"#)
        }
        router.get("/:region/network/v2.0/ports") { request, context -> Response in
            guard self.tokenValid(request) else { return self.plain(.unauthorized, "{}") }
            return context.parameters.get("region") == "ru-1" ? self.fixture("ports.json") : self.plain(.ok, #"{"ports": []}"#)
        }
        router.post("/:region/metric/v1/aggregates") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
            self.requests.withLock { $0.append("POST gnocchi") }
            guard self.tokenValid(request) else { return self.plain(.unauthorized, "{}") }
            if !body.contains("memory.usage"), let means = self.behaviour.withLock(\.cpuMeasures) {
                let points = means.map { #"["2026-11-20T08:50:00+00:00", 300.0, \#($0)]"# }.joined(separator: ", ")
                return self.plain(.ok, #"{"measures": {"aggregated": [\#(points)]}}"#)
            }
            return self.fixture(body.contains("memory.usage") ? "gnocchi-memory.json" : "gnocchi-cpu.json")
        }
        return router
    }
}
