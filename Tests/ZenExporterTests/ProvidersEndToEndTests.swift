import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real binary with one Selectel and one Beget source pointed at the loopback fakes.
@Suite("Selectel and Beget through the daemon", .serialized)
struct ProvidersEndToEndTests {
    func waitFor(_ daemon: Daemon, timeout: Double = 30, _ condition: (ParsedExposition) -> Bool) async throws -> ParsedExposition {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let text = try? await daemon.metrics() {
                let parsed = ParsedExposition(text)
                if condition(parsed) { return parsed }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw DaemonError.notReady(daemon.logText)
    }

    @Test("per-resource and total figures in /metrics; a fake going away leaves the figures and sets up to 0, then 1 again")
    func bothProviders() async throws {
        let selectel = try SelectelFake()
        let beget = try BegetFake()
        try await selectel.start()
        try await beget.start()
        let daemon = try Daemon(config: """
        storage: {path: ./data/infrazen.db}
        sources:
          - {name: sel, type: selectel, token_env: SEL_TOKEN, username_env: SEL_USER, password_env: SEL_PASSWORD, account_id: "200001",
             project_id: 7f1c2a9be0d34c21a8b6f0e2d4c5b6a7, base_url: "\(selectel.baseURL)", interval: 2s, jitter: 0, retries: 0, timeout: 20s}
          - {name: beget, type: beget, login_env: BEGET_LOGIN, password_env: BEGET_PASSWORD, base_url: "\(beget.baseURL)",
             interval: 1h, retries: 0, timeout: 20s}
        """)
        try daemon.start(environment: ["SEL_TOKEN": SelectelFake.staticToken, "SEL_USER": "finops-exporter",
                                       "SEL_PASSWORD": SelectelFake.servicePassword,
                                       "BEGET_LOGIN": BegetFake.login, "BEGET_PASSWORD": BegetFake.password])
        try await daemon.waitUntilReady()
        let first = try await waitFor(daemon) { $0.values("infrazen_source_up").count == 2 && $0.sum("infrazen_source_up") == 2 }
        // 5695.20 (Selectel) + 4108.80 (Beget).
        #expect(abs(first.sum("infrazen_infrastructure_cost_monthly") - 9804.00) < 0.005)
        #expect(first.value("infrazen_resource_cost_per_hour", ["source": "sel", "resource_name": "web-1"]) == 2.64)
        #expect(first.value("infrazen_resource_cost_per_hour", ["source": "beget", "resource_name": "Calm Turing"]) == 0.40541667)  // 9.73 / 24

        await selectel.stop()
        let down = try await waitFor(daemon) { $0.value("infrazen_source_up", ["source": "sel"]) == 0 }
        #expect(abs(down.sum("infrazen_infrastructure_cost_monthly") - 9804.00) < 0.005)
        #expect(down.value("infrazen_source_up", ["source": "beget"]) == 1)

        try await selectel.start()
        let back = try await waitFor(daemon) { $0.value("infrazen_source_up", ["source": "sel"]) == 1 }
        #expect(abs(back.sum("infrazen_infrastructure_cost_monthly") - 9804.00) < 0.005)
        _ = daemon.stop()
        await selectel.stop()
        await beget.stop()
        for secret in [SelectelFake.staticToken, SelectelFake.servicePassword, BegetFake.password] {
            #expect(!daemon.logText.contains(secret), "the log holds a secret")
        }
    }
}
