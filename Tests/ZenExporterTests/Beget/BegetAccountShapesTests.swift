import CostModel
import Foundation
@testable import SourceKit
import Testing
@testable import ZenExporter

/// Beget as real accounts answer: two passwords (the legacy interface's API password and the
/// account password of `/v1/auth`, per beget.com/ru/api/rules and LTD-Beget/openapi-auth-go),
/// two-factor sign-in, empty lists without their arrays, RFC 3339 creation times.
@Suite("Beget accounts as they answer", .serialized)
struct BegetAccountShapesTests {
    static let now = ISO8601DateFormatter().date(from: "2026-11-20T09:00:00Z")!
    var window: CollectionWindow { CollectionWindow(now: Self.now, historyDays: 90, reporting: ReportingConfig()) }

    /// The source as a configuration file makes it.
    func source(_ fake: BegetFake, passwords: String, environment: [String: String]) throws -> any Source {
        let config = try ConfigLoader.parse("""
        sources:
          - {name: beget, type: beget, login_env: BEGET_LOGIN, \(passwords), base_url: "\(fake.baseURL)", retries: 0, timeout: 10s}
        """, file: "t.yaml", environment: environment.merging(["BEGET_LOGIN": BegetFake.login]) { given, _ in given })
        return try #require(config.sources.first).makeSource()
    }

    @Test("api_password goes to the legacy interface and password to /v1/auth: both halves of the account are read")
    func twoPasswords() async throws {
        let fake = try BegetFake(.init(twoPasswords: true))
        try await fake.start()
        let source = try source(fake, passwords: "password_env: BEGET_PASSWORD, api_password_env: BEGET_API_PASSWORD",
                                environment: ["BEGET_PASSWORD": BegetFake.accountPassword, "BEGET_API_PASSWORD": BegetFake.password])
        let snapshot = try await source.collect(window)
        await fake.stop()
        #expect(snapshot.endpointFailures.map(\.endpoint) == [])
        // The plan (legacy) and the three VPS and two cloud services (/v1) are all priced.
        #expect(snapshot.billing.count == 6)
        #expect(snapshot.accounts.first?.balance == Money(Decimal(string: "1339.57")!, .rub))
    }

    @Test("without api_password the one password is sent to both interfaces")
    func onePasswordForBoth() async throws {
        let fake = try BegetFake()
        try await fake.start()
        let source = try source(fake, passwords: "password_env: BEGET_PASSWORD", environment: ["BEGET_PASSWORD": BegetFake.password])
        let snapshot = try await source.collect(window)
        await fake.stop()
        #expect(snapshot.endpointFailures.isEmpty)
        #expect(snapshot.billing.count == 6)
    }

    @Test("CODE_REQUIRED from /v1/auth fails auth with an error that says two-factor sign-in is on and what to do")
    func twoFactor() async throws {
        let fake = try BegetFake(.init(codeRequired: true))
        try await fake.start()
        let source = try source(fake, passwords: "password_env: BEGET_PASSWORD", environment: ["BEGET_PASSWORD": BegetFake.password])
        let snapshot = try await source.collect(window)
        await fake.stop()
        let failure = try #require(snapshot.endpointFailures.first { $0.endpoint == "auth" })
        #expect(failure.message.contains("two-factor"), "\(failure.message)")
        #expect(failure.message.contains("CODE_REQUIRED"), "\(failure.message)")
        #expect(!failure.message.contains(BegetFake.password))
    }

    @Test("an account without VPS or cloud services ({\"total_count\": 0}) syncs without a failure")
    func absentArraysAreEmpty() async throws {
        let fake = try BegetFake(.init(noServices: true))
        try await fake.start()
        let source = try source(fake, passwords: "password_env: BEGET_PASSWORD", environment: ["BEGET_PASSWORD": BegetFake.password])
        let snapshot = try await source.collect(window)
        await fake.stop()
        #expect(snapshot.endpointFailures.map { "\($0.endpoint) \($0.reason)" } == [])
        #expect(snapshot.inventory.filter { $0.resourceType == "server" || $0.resourceType == "database" || $0.resourceType == "bucket" }.isEmpty)
        #expect(snapshot.billing.map(\.resourceName) == ["hosting (Blog)"])
    }

    @Test("date_create in RFC 3339 is read as that instant, not replaced by now")
    func rfc3339CreationTime() async throws {
        let page = #"{"vps": [{"id": "v-1", "display_name": "Offset", "status": "RUNNING", "date_create": "2025-09-01T10:11:12+03:00","#
            + #" "configuration": {"price_day": 1.0}}, {"id": "v-2", "display_name": "Zulu", "status": "STOPPED","#
            + #" "date_create": "2025-10-11T08:00:00.250Z", "configuration": {"price_day": 2.0}}, {"id": "v-3", "display_name": "Spaced","#
            + #" "status": "RUNNING", "date_create": "2025-10-12 08:00:00Z", "configuration": {"price_day": 3.0}}], "total_count": 3}"#
        let fake = try BegetFake(.init(vpsPage: page))
        try await fake.start()
        let source = try source(fake, passwords: "password_env: BEGET_PASSWORD", environment: ["BEGET_PASSWORD": BegetFake.password])
        let snapshot = try await source.collect(window)
        await fake.stop()
        let created = Dictionary(uniqueKeysWithValues: snapshot.inventory.filter { $0.resourceType == "server" }.map { ($0.name, $0.createdAt) })
        // 10:11:12 at UTC+3 is 07:11:12 UTC.
        #expect(created["Offset"] == ISO8601DateFormatter().date(from: "2025-09-01T07:11:12Z"))
        #expect(created["Zulu"] == ISO8601DateFormatter().date(from: "2025-10-11T08:00:00Z").map { $0.addingTimeInterval(0.25) })
        // RFC 3339 allows a space between date and time.
        #expect(created["Spaced"] == ISO8601DateFormatter().date(from: "2025-10-12T08:00:00Z"))
    }

    @Test("the old form yyyy-MM-dd HH:mm:ss is still read as Moscow time")
    func moscowCreationTime() async throws {
        let fake = try BegetFake()
        try await fake.start()
        let source = try source(fake, passwords: "password_env: BEGET_PASSWORD", environment: ["BEGET_PASSWORD": BegetFake.password])
        let snapshot = try await source.collect(window)
        await fake.stop()
        // vps-page-0.json: "2025-09-01 10:11:12" in Moscow (UTC+3).
        #expect(snapshot.inventory.first { $0.name == "Objective Perrin" }?.createdAt == ISO8601DateFormatter().date(from: "2025-09-01T07:11:12Z"))
    }
}
