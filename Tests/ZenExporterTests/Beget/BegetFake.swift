import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A Beget API on 127.0.0.1 serving the documented shapes from Tests/Fixtures/beget, with
/// switches for the failures a connector must survive.
final class BegetFake: Sendable {
    struct Behaviour: Sendable {
        var refuseDomains = false
        var rateLimitVPSOnce = false
        var malformedCloud = false
        var failCloud500 = false
        /// The `result` of `user/getAccountInfo` instead of the fixture's.
        var accountInfo: String?
        /// As on an account with the API password switched on: the legacy interface takes only
        /// the API password, `/v1/auth` only the account password.
        var twoPasswords = false
        /// `/v1/auth` answers `CODE_REQUIRED`, as for an account with two-factor sign-in.
        var codeRequired = false
        /// An account without VPS or cloud services: both lists answer `{"total_count": 0}`,
        /// the empty arrays left out.
        var noServices = false
        /// The body of the first VPS page instead of the fixture's.
        var vpsPage: String?
    }

    static let login = "fixture-user"
    static let password = "fixture-api-password"
    /// The account (control panel) password, when it differs from the API password.
    static let accountPassword = "fixture-account-password"
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Fixtures/beget")

    let server: LoopbackServer
    let behaviour: Mutex<Behaviour>
    let requests = Mutex<[String]>([])

    init(_ behaviour: Behaviour = Behaviour()) throws {
        server = try LoopbackServer()
        self.behaviour = Mutex(behaviour)
    }

    var baseURL: String { server.baseURL }

    func start() async throws { try await server.start(router()) }

    func stop() async { await server.stop() }

    private func fixture(_ name: String) -> Response {
        let data = (try? Data(contentsOf: Self.fixtures.appendingPathComponent(name))) ?? Data()
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    private func json(_ text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/api/:section/:method") { request, context -> Response in
            let form = String(buffer: try await request.body.collect(upTo: 1 << 16))
            let path = "\(context.parameters.get("section") ?? "")/\(context.parameters.get("method") ?? "")"
            self.requests.withLock { $0.append("POST /api/\(path)") }
            guard form.contains("login=\(Self.login)"), form.contains("passwd=\(Self.password)&") else {
                return self.json(#"{"status": "error", "error_code": "AUTH_ERROR", "error_text": "Authorization failed"}"#)
            }
            switch path {
            case "user/getAccountInfo":
                if let result = self.behaviour.withLock(\.accountInfo) {
                    return self.json(#"{"status": "success", "answer": {"status": "success", "result": "# + result + "}}")
                }
                return self.fixture("account-info.json")
            case "domain/getList": return self.fixture(self.behaviour.withLock(\.refuseDomains) ? "domains-refused.json" : "domains.json")
            default: return self.json(#"{"status": "error", "error_text": "No such method"}"#)
            }
        }
        router.post("/v1/auth") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
            self.requests.withLock { $0.append("POST /v1/auth") }
            let behaviour = self.behaviour.withLock { $0 }
            let accepted = behaviour.twoPasswords ? Self.accountPassword : Self.password
            guard body.contains("\"\(accepted)\"") else { return self.json(#"{"error": "INCORRECT_CREDENTIALS"}"#) }
            if behaviour.codeRequired { return self.json(#"{"error": "CODE_REQUIRED"}"#) }
            return self.fixture("auth.json")
        }
        router.get("/v1/vps/server/list") { request, _ -> Response in
            let offset = request.uri.queryParameters.get("offset") ?? "0"
            self.requests.withLock { $0.append("GET /v1/vps/server/list?offset=\(offset)") }
            guard request.headers[.authorization]?.hasPrefix("Bearer eyJ") == true else { return self.json("{}", status: .unauthorized) }
            let limited = self.behaviour.withLock { behaviour in
                defer { behaviour.rateLimitVPSOnce = false }
                return behaviour.rateLimitVPSOnce
            }
            if limited {
                var headers = HTTPFields()
                if let retryAfter = HTTPFields.Element.Name("Retry-After") { headers[retryAfter] = "1" }
                return self.json(#"{"error": "slow down"}"#, status: .tooManyRequests, headers: headers)
            }
            let behaviour = self.behaviour.withLock { $0 }
            if behaviour.noServices { return self.json(#"{"total_count": 0}"#) }
            if offset == "0", let page = behaviour.vpsPage { return self.json(page) }
            return self.fixture("vps-page-\(offset).json")
        }
        router.get("/v1/cloud") { _, _ -> Response in
            self.requests.withLock { $0.append("GET /v1/cloud") }
            let behaviour = self.behaviour.withLock { $0 }
            if behaviour.failCloud500 { return self.json(#"{"error": "boom"}"#, status: .internalServerError) }
            if behaviour.noServices { return self.json(#"{"total_count": 0}"#) }
            if behaviour.malformedCloud { return self.json(#"{"service": [{"id": "x", "type": "MYSQL8", "price_day": "twenty"}]}"#) }
            return self.fixture("cloud.json")
        }
        router.get("/v1/vps/statistic/:statistic/:id") { _, context -> Response in
            let statistic = context.parameters.get("statistic") ?? ""
            self.requests.withLock { $0.append("GET /v1/vps/statistic/\(statistic)") }
            return self.fixture("\(statistic).json")
        }
        return router
    }
}
