import Foundation
@testable import ProviderBeget
@testable import ProviderOpenStack
@testable import ProviderSelectel
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

/// Every provider request carries a credential; a redirect must never carry it to another
/// origin. Origin A answers every request with a redirect to origin B (another port on
/// loopback, so another origin); B records every byte it is sent, and must be sent none.
@Suite("Credentials never follow a redirect", .serialized)
struct RedirectTests {
    static let window = CollectionWindow(now: ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z") ?? Date(), historyDays: 7,
                                         reporting: ReportingConfig())

    /// B, the other origin, and A redirecting there with `status`, path kept.
    static func origins(status: Int) throws -> (redirecting: RecordingOrigin, target: RecordingOrigin) {
        let target = try RecordingOrigin { _ in "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}" }
        let targetURL = target.baseURL
        let redirecting = try RecordingOrigin { head in
            let path = head.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
            return "HTTP/1.1 \(status) Moved\r\nLocation: \(targetURL)\(path)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        }
        return (redirecting, target)
    }

    /// The failures a collection reported: thrown, or per endpoint.
    static func failures(_ collect: () async throws -> SourceSnapshot) async -> [SyncFailure] {
        do {
            return try await collect().endpointFailures
        } catch let failure as SyncFailure {
            return [failure]
        } catch {
            return [SyncFailure(endpoint: "?", reason: "unexpected", message: "\(error)")]
        }
    }

    @Test("Selectel: the X-Token reaches the first origin only; a 302 or 307 elsewhere is a named redirect failure", arguments: [302, 307])
    func selectelTokenStaysHome(status: Int) async throws {
        let (redirecting, target) = try Self.origins(status: status)
        let settings = SelectelSource.Settings(token: Secret("sel-token-0123456789"), accountID: "200001", projectIDs: ["p1"], regions: [],
                                               apiURL: redirecting.baseURL, identityURL: "\(redirecting.baseURL)/identity/v3")
        let source = SelectelSource(settings: settings, http: ProviderClient(timeout: .seconds(5), retries: 0, source: "selectel"))
        let failures = await Self.failures { try await source.collect(Self.window) }
        await redirecting.stop()
        await target.stop()
        #expect(redirecting.text.contains("sel-token-0123456789"))  // it was sent, to A
        #expect(target.bytes.isEmpty)
        let redirect = try #require(failures.first { $0.reason == SyncFailure.redirect })
        #expect(redirect.message.hasPrefix("redirect to other origin refused: selectel "))
        #expect(redirect.message.contains("to http://127.0.0.1:\(target.port)"))
        #expect(!redirect.message.contains("sel-token"))
    }

    @Test("Selectel Keystone: the password body reaches the first origin only", arguments: [302, 307])
    func keystonePasswordStaysHome(status: Int) async throws {
        let (redirecting, target) = try Self.origins(status: status)
        let session = KeystoneSession(identityURL: "\(redirecting.baseURL)/identity/v3", username: Secret("finops"),
                                      password: Secret("keystone-password-42"), accountID: "200001", projectID: "p1",
                                      http: ProviderClient(timeout: .seconds(5), retries: 0, source: "selectel"))
        let failure = await #expect(throws: SyncFailure.self) { try await session.token() }
        await redirecting.stop()
        await target.stop()
        #expect(redirecting.text.contains("keystone-password-42"))
        #expect(target.bytes.isEmpty)
        #expect(failure?.reason == SyncFailure.redirect)
        #expect(failure?.message.hasPrefix("redirect to other origin refused: selectel identity POST http://127.0.0.1:\(redirecting.port)/identity/v3/auth/tokens answered \(status)") == true)
    }

    @Test("Beget: login and password (form and JSON bodies) reach the first origin only", arguments: [302, 307])
    func begetPasswordStaysHome(status: Int) async throws {
        let (redirecting, target) = try Self.origins(status: status)
        let source = BegetSource(settings: .init(login: Secret("beget-login"), password: Secret("beget-password-77"), baseURL: redirecting.baseURL,
                                                 account: "main"),
                                 http: ProviderClient(timeout: .seconds(5), retries: 0, source: "beget"))
        let failures = await Self.failures { try await source.collect(Self.window) }
        await redirecting.stop()
        await target.stop()
        #expect(redirecting.text.contains("beget-password-77"))
        #expect(target.bytes.isEmpty)
        let redirect = try #require(failures.first { $0.reason == SyncFailure.redirect })
        #expect(redirect.message.hasPrefix("redirect to other origin refused: beget "))
    }

    @Test("a redirect within the same origin is not followed either, and says so")
    func sameOriginNotFollowed() async throws {
        let origin = try RecordingOrigin { _ in "HTTP/1.1 301 Moved\r\nLocation: /elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" }
        let client = ProviderClient(timeout: .seconds(5), retries: 0, source: "selectel")
        let failure = await #expect(throws: SyncFailure.self) {
            _ = try await client.send(.init(url: "\(origin.baseURL)/v3/balances"), endpoint: "balances")
        }
        await origin.stop()
        #expect(failure?.reason == SyncFailure.redirect)
        #expect(failure?.message.hasPrefix("redirect within the same origin not followed") == true)
        #expect(origin.text.components(separatedBy: "GET ").count - 1 == 1)  // one request: the redirect was not taken
    }

    @Test("retries are one policy: with retries: 2 a Beget endpoint answering 503 is asked 3 times per sync, not 9")
    func retriesAreNotMultiplied() async throws {
        let origin = try RecordingOrigin { _ in "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("retries-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = try ConfigLoader.parse("""
            storage: {path: \(directory.path)/infrazen.db}
            sources:
              - {name: beget, type: beget, login_env: L, password_env: P, base_url: "\(origin.baseURL)", retries: 2, timeout: 30s}
            """, file: "t.yaml", environment: ["L": "login", "P": "beget-password"])
        var engine = SyncEngine(config: config, store: try Store(path: "\(directory.path)/infrazen.db"), logger: .init(label: "test"))
        engine.retryBase = .milliseconds(10)
        _ = await engine.syncAllOnce()
        await origin.stop()
        // Each request line names its path; every path the connector asked for, 3 times.
        let paths = origin.text.components(separatedBy: "\r\n").filter { $0.hasSuffix(" HTTP/1.1") }
            .map { $0.split(separator: " ")[1].split(separator: "?")[0] }
        let counts = Dictionary(grouping: paths, by: { $0 }).mapValues(\.count)
        #expect(!counts.isEmpty)
        #expect(counts.values.allSatisfy { $0 == 3 }, "\(counts)")
    }
}
