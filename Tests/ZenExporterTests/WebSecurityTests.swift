import Foundation
import Testing
@testable import ZenExporter

/// The real daemon behind an exporter-toolkit web config: TLS from certificates `openssl` makes
/// in the test, basic auth with hashes crypt(3) makes, checked with curl, openssl s_client and
/// a real Prometheus, all on 127.0.0.1.
@Suite("Web security: TLS, basic auth and headers from the web config", .serialized, .timeLimit(.minutes(4)))
struct WebSecurityTests {
    static let user = "prometheus"
    static let password = "correct horse battery staple"

    /// The daemon on the demo estate with `web/web.yml`; certificates live in `web/pki`,
    /// named relative to the web config as exporter-toolkit resolves them.
    struct Secured {
        let daemon: Daemon
        let pki: TestPKI
        let webConfig: URL
        let scheme: String
        var base: String { "\(scheme)://127.0.0.1:\(daemon.port)" }
        var caFile: String { pki.path("ca.crt") }

        func write(_ text: String) throws { try text.write(to: webConfig, atomically: true, encoding: .utf8) }
    }

    static func tlsSection(clientAuth: String = "NoClientCert") -> String {
        """
        tls_server_config:
          cert_file: pki/server.crt
          key_file: pki/server.key
          client_auth_type: \(clientAuth)
        \(clientAuth.contains("Verify") ? "  client_ca_file: pki/ca.crt" : "")
          min_version: TLS12
        """
    }

    static func usersSection(_ hash: String) -> String { "basic_auth_users:\n  \(user): \(hash)\n" }

    static func start(webConfig: (TestPKI) throws -> String, readyWith credentials: [String] = [], clientCertificate: Bool = false) async throws -> Secured {
        let daemon = try Daemon(config: DaemonTests.demoConfig)
        let web = daemon.directory.appendingPathComponent("web")
        let pki = try TestPKI(in: web.appendingPathComponent("pki"))
        let text = try webConfig(pki)
        let secured = Secured(daemon: daemon, pki: pki, webConfig: web.appendingPathComponent("web.yml"),
                              scheme: text.contains("tls_server_config") ? "https" : "http")
        try secured.write(text)
        try daemon.start(["serve", "--web.config.file", secured.webConfig.path])
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let certificate = clientCertificate ? ["--cert", pki.path("client.crt"), "--key", pki.path("client.key")] : []
            if try curl(["--cacert", secured.caFile] + credentials + certificate + ["\(secured.base)/-/ready"]).code == 200 { return secured }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw DaemonError.notReady(daemon.logText)
    }

    static func authenticated(_ password: String = password) -> [String] { ["-u", "\(user):\(password)"] }

    @Test("a real Prometheus scrapes over TLS with basic auth: up == 1")
    func prometheusScrapesOverTLSWithBasicAuth() async throws {
        let hash = try bcryptHash(Self.password)
        let secured = try await Self.start(webConfig: { _ in Self.tlsSection() + "\n" + Self.usersSection(hash) }, readyWith: Self.authenticated())
        let prometheus = try BackgroundTool("prometheus", [
            "--config.file={dir}/prometheus.yml", "--storage.tsdb.path={dir}/data", "--web.listen-address=127.0.0.1:{port}",
        ])
        let passwordFile = try prometheus.write("password", Self.password)
        _ = try prometheus.write("prometheus.yml", """
        global: { scrape_interval: 1s, evaluation_interval: 1s }
        scrape_configs:
          - job_name: zen-exporter
            scheme: https
            tls_config: { ca_file: "\(secured.caFile)" }
            basic_auth: { username: \(Self.user), password_file: "\(passwordFile)" }
            static_configs: [{ targets: ["127.0.0.1:\(secured.daemon.port)"] }]
        """)
        try prometheus.start()
        try await prometheus.waitUntilReady("/-/ready")
        var up: String?
        let deadline = Date().addingTimeInterval(60)
        while up != "1" && Date() < deadline {
            let series = try await MonitoringStackTests.instantQuery(prometheus, "up{job=\"zen-exporter\"}")
            up = ((series.first as? [String: Any])?["value"] as? [Any])?.last as? String
            if up != "1" { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(up == "1", "Prometheus:\n\(prometheus.logText)")
        // And the scraped figures are the demo's: 117,150 ₽ a month.
        let total = try await MonitoringStackTests.instantQuery(prometheus, "sum(infrazen_infrastructure_cost_monthly{currency=\"RUB\"})")
        let value = ((total.first as? [String: Any])?["value"] as? [Any])?.last as? String
        #expect(value.flatMap(Double.init).map { abs($0 - 117_150) < 0.01 } == true, "\(String(describing: value))")
    }

    @Test("no credentials: 401 with WWW-Authenticate: Basic and no metrics")
    func missingCredentialsAre401WithChallenge() async throws {
        let hash = try bcryptHash(Self.password)
        let secured = try await Self.start(webConfig: { _ in Self.tlsSection() + "\n" + Self.usersSection(hash) }, readyWith: Self.authenticated())
        let answer = try curl(["--cacert", secured.caFile, "\(secured.base)/metrics"])
        #expect(answer.code == 401)
        #expect(answer.output.lowercased().contains("www-authenticate: basic"), "\(answer.output)")
        #expect(!answer.output.contains("infrazen_"))
    }

    @Test("a wrong password or an unknown user: 401")
    func wrongCredentialsAre401() async throws {
        let hash = try bcryptHash(Self.password)
        let secured = try await Self.start(webConfig: { _ in Self.tlsSection() + "\n" + Self.usersSection(hash) }, readyWith: Self.authenticated())
        let wrongPassword = try curl(["--cacert", secured.caFile] + Self.authenticated("wrong") + ["\(secured.base)/metrics"])
        #expect(wrongPassword.code == 401)
        let unknownUser = try curl(["--cacert", secured.caFile, "-u", "someone:\(Self.password)", "\(secured.base)/metrics"])
        #expect(unknownUser.code == 401)
        #expect(!secured.daemon.logText.contains(Self.password), "a password reached the log")
    }

    @Test("plain HTTP to the TLS port gets no metrics")
    func plainHTTPToTLSPortGetsNoMetrics() async throws {
        let secured = try await Self.start(webConfig: { _ in Self.tlsSection() })
        let plain = try curl(["http://127.0.0.1:\(secured.daemon.port)/metrics"])
        #expect(plain.code != 200)
        #expect(!plain.output.contains("infrazen_"))
        // The TLS side still serves them.
        let tls = try curl(["--cacert", secured.caFile, "\(secured.base)/metrics"])
        #expect(tls.code == 200 && tls.output.contains("infrazen_infrastructure_cost_monthly"))
    }

    @Test("RequireAndVerifyClientCert: a client without a certificate is refused")
    func clientWithoutCertificateIsRefused() async throws {
        let secured = try await Self.start(webConfig: { _ in Self.tlsSection(clientAuth: "RequireAndVerifyClientCert") },
                                           clientCertificate: true)
        let refused = try curl(["--cacert", secured.caFile, "\(secured.base)/metrics"])
        #expect(refused.code == 0 && refused.status != 0)
        #expect(!refused.output.contains("infrazen_"))
    }

    @Test("RequireAndVerifyClientCert: a client with a certificate from the CA is served")
    func clientWithCertificateIsServed() async throws {
        let secured = try await Self.start(webConfig: { _ in Self.tlsSection(clientAuth: "RequireAndVerifyClientCert") },
                                           clientCertificate: true)
        let served = try curl(["--cacert", secured.caFile, "--cert", secured.pki.path("client.crt"), "--key", secured.pki.path("client.key"),
                               "\(secured.base)/metrics"])
        #expect(served.code == 200 && served.output.contains("infrazen_infrastructure_cost_monthly"))
    }

    @Test("an edited basic_auth_users takes effect without a restart")
    func editedUsersTakeEffectWithoutRestart() async throws {
        let hash = try bcryptHash(Self.password)
        let secured = try await Self.start(webConfig: { _ in Self.tlsSection() + "\n" + Self.usersSection(hash) }, readyWith: Self.authenticated())
        let newPassword = "a different passphrase"
        try secured.write(Self.tlsSection() + "\n" + Self.usersSection(try bcryptHash(newPassword)))
        let old = try curl(["--cacert", secured.caFile] + Self.authenticated() + ["\(secured.base)/metrics"])
        #expect(old.code == 401)
        let new = try curl(["--cacert", secured.caFile] + Self.authenticated(newPassword) + ["\(secured.base)/metrics"])
        #expect(new.code == 200)
    }

    @Test("a web config edited into an invalid one answers 500 to every request until it is fixed")
    func invalidEditFailsClosed() async throws {
        let hash = try bcryptHash(Self.password)
        let good = Self.usersSection(hash)
        let secured = try await Self.start(webConfig: { _ in good }, readyWith: Self.authenticated())
        try secured.write(good + "basic_auth_user: {}\n")
        let broken = try curl(Self.authenticated() + ["\(secured.base)/metrics"])
        #expect(broken.code == 500)
        #expect(!broken.output.contains("infrazen_"))
        #expect(secured.daemon.logText.contains("basic_auth_user: unknown key"))
        try secured.write(good)
        let fixed = try curl(Self.authenticated() + ["\(secured.base)/metrics"])
        #expect(fixed.code == 200)
    }

    @Test("a web config edited into an invalid one refuses new TLS connections until it is fixed")
    func invalidEditRefusesTLS() async throws {
        let secured = try await Self.start(webConfig: { _ in Self.tlsSection() })
        try secured.write(Self.tlsSection() + "\nbasic_auth_user: {}\n")
        let broken = try curl(["--cacert", secured.caFile, "\(secured.base)/metrics"])
        #expect(broken.code == 0 && !broken.output.contains("infrazen_"))
        try secured.write(Self.tlsSection())
        let fixed = try curl(["--cacert", secured.caFile, "\(secured.base)/metrics"])
        #expect(fixed.code == 200)
    }

    @Test("http_server_config.headers are sent, on 401s too")
    func configuredHeadersAreSent() async throws {
        let hash = try bcryptHash(Self.password)
        let secured = try await Self.start(webConfig: { _ in
            Self.tlsSection() + "\n" + Self.usersSection(hash) + """
            http_server_config:
              headers:
                X-Frame-Options: deny
                Strict-Transport-Security: max-age=31536000
            """
        }, readyWith: Self.authenticated())
        for credentials in [[], Self.authenticated()] {
            let answer = try curl(["--cacert", secured.caFile] + credentials + ["\(secured.base)/metrics"])
            let headers = answer.output.lowercased()
            #expect(headers.contains("x-frame-options: deny"), "\(answer.code)")
            #expect(headers.contains("strict-transport-security: max-age=31536000"), "\(answer.code)")
        }
    }

    @Test("a renewed server certificate is served on the next connection without a restart")
    func renewedCertificateIsServedWithoutRestart() async throws {
        let secured = try await Self.start(webConfig: { _ in Self.tlsSection() })
        #expect(try TestPKI.servedSerial(port: secured.daemon.port, caFile: secured.caFile) == "serial=1001")
        try secured.pki.renewServer(serial: "0x1002")
        #expect(try TestPKI.servedSerial(port: secured.daemon.port, caFile: secured.caFile) == "serial=1002")
    }

    @Test("a bad web config stops the start with the file, line and key")
    func badWebConfigStopsStart() throws {
        let daemon = try Daemon(config: DaemonTests.demoConfig)
        let web = daemon.directory.appendingPathComponent("web.yml")
        try "tls_server_config:\n  cert_fil: server.crt\n  key_file: server.key\n".write(to: web, atomically: true, encoding: .utf8)
        let run = try daemon.run(["serve", "--web.config.file", web.path, "--listen", "127.0.0.1:\(daemon.port)"], timeout: 30)
        #expect(run.status == 2)
        #expect(run.output.contains("\(web.path):2:3: tls_server_config.cert_fil: unknown key"), "\(run.output)")
        #expect(run.output.contains("tls_server_config.cert_file: required key is missing"), "\(run.output)")
    }

    @Test("a missing certificate file stops the start, naming cert_file")
    func missingCertificateStopsStart() throws {
        let daemon = try Daemon(config: DaemonTests.demoConfig + "\nweb: {config_file: web.yml}\n")
        try "tls_server_config: {cert_file: nowhere.crt, key_file: nowhere.key}\n"
            .write(to: daemon.directory.appendingPathComponent("web.yml"), atomically: true, encoding: .utf8)
        let run = try daemon.run(["check-config", "--config", "exporter.yaml"], timeout: 30)
        #expect(run.status == 2)
        #expect(run.output.contains("web.yml:0:0: tls_server_config.cert_file: cannot load \(daemon.directory.path)/nowhere.crt"), "\(run.output)")
    }

    @Test("a partial request held open is closed after web.idle_timeout")
    func slowPartialRequestIsClosedAfterIdleTimeout() async throws {
        let daemon = try Daemon(config: DaemonTests.demoConfig + "\nweb: {idle_timeout: 1s}\n")
        try daemon.start()
        try await daemon.waitUntilReady()
        // Half a request head, then silence: the server should hang up, well before 10 s.
        let held = try runTool("python3", ["-c", """
            import socket, sys, time
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            s.sendall(b"GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n")
            s.settimeout(10)
            start = time.monotonic()
            try:
                data = s.recv(1)
                print("closed" if data == b"" else "data", round(time.monotonic() - start, 1))
            except socket.timeout:
                print("open", 10)
            """, String(daemon.port)])
        let words = held.output.split(separator: " ")
        #expect(words.first == "closed", "\(held.output)")
        #expect(words.last.flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }.map { $0 < 5 } == true, "\(held.output)")
        _ = daemon.stop()
    }
}

extension WebSecurityTests {
    @Test("past web.max_connections a new connection waits, and is served once one closes")
    func connectionsPastTheCapWait() async throws {
        let daemon = try Daemon(config: DaemonTests.demoConfig + "\nweb: {max_connections: 16}\n")
        try daemon.start()
        try await daemon.waitUntilReady()
        // 16 idle connections take every slot; a scrape then waits (curl gives up after 2 s);
        // once they close, the next scrape is served.
        let held = try runTool("python3", ["-c", """
            import socket, subprocess, sys, time
            port = int(sys.argv[1])
            held = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
            time.sleep(0.5)
            waiting = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2",
                                      "http://127.0.0.1:%d/-/healthy" % port], capture_output=True, text=True).stdout
            for s in held: s.close()
            time.sleep(0.5)
            served = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                                     "http://127.0.0.1:%d/-/healthy" % port], capture_output=True, text=True).stdout
            print(waiting, served)
            """, String(daemon.port)])
        #expect(held.output.trimmingCharacters(in: .whitespacesAndNewlines) == "000 200", "\(held.output)")
        _ = daemon.stop()
    }
}

/// Parsing the web config, strictly, as exporter-toolkit does.
@Suite("Web config file")
struct WebConfigTests {
    func issues(_ yaml: String) -> [String] {
        do {
            _ = try WebConfig.parse(yaml, file: "/etc/web.yml")
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    @Test("node_exporter's example web config loads, with paths relative to the file")
    func exampleLoads() throws {
        let config = try WebConfig.parse("""
            tls_server_config:
              cert_file: server.crt
              key_file: /keys/server.key
              client_auth_type: VerifyClientCertIfGiven
              client_ca_file: ca.crt
              min_version: TLS13
            basic_auth_users:
              alice: $2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze
            http_server_config:
              http2: false
              headers:
                X-Content-Type-Options: nosniff
            """, file: "/etc/zen/web.yml")
        #expect(config.tls == WebConfig.TLS(certFile: "/etc/zen/server.crt", keyFile: "/keys/server.key", clientAuth: .verifyClientCertIfGiven,
                                            clientCAFile: "/etc/zen/ca.crt", minVersion: .tls13))
        #expect(config.basicAuthUsers == ["alice": "$2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze"])
        #expect(config.headers.map { "\($0.name): \($0.value)" } == ["X-Content-Type-Options: nosniff"])
    }

    @Test("deploy/web-config.yml loads once its placeholder hash is replaced, and not before")
    func shippedExample() throws {
        let shipped = try String(contentsOf: DocsTests.root.appendingPathComponent("deploy/web-config.yml"), encoding: .utf8)
        let placeholder = issues(shipped)
        #expect(placeholder.count == 1 && placeholder[0].contains("basic_auth_users.prometheus: expected a bcrypt hash"), "\(placeholder)")
        let hash = "$2y$10$" + String(repeating: "a", count: 53)
        let config = try WebConfig.parse(shipped.replacingOccurrences(of: "REPLACE-WITH-A-BCRYPT-HASH", with: hash), file: "/etc/zen-exporter/web-config.yml")
        #expect(config.tls?.certFile == "/etc/zen-exporter/tls/server.crt")
        #expect(config.basicAuthUsers == ["prometheus": hash])
        #expect(config.headers.count == 3)
    }

    @Test("exporter.yaml's web keys: config_file, max_connections, idle_timeout, checked")
    func exporterWebKeys() throws {
        let config = try ConfigLoader.parse("web: {config_file: /etc/web.yml, max_connections: 100, idle_timeout: 5s}\nsources: [{name: demo, type: demo}]\n",
                                            file: "x.yaml", environment: [:])
        #expect(config.web.configFile == "/etc/web.yml" && config.web.maxConnections == 100 && config.web.idleTimeout == .seconds(5))
        do {
            _ = try ConfigLoader.parse("web: {max_connections: 1, tls: true}\nsources: [{name: demo, type: demo}]\n", file: "x.yaml", environment: [:])
            Issue.record("expected errors")
        } catch {
            let found = error.issues.map(\.description)
            #expect(found.contains { $0.hasPrefix("x.yaml:1:24: web.max_connections: 1 is out of range") }, "\(found)")
            #expect(found.contains { $0.hasPrefix("x.yaml:1:27: web.tls: unknown key") }, "\(found)")
        }
    }

    @Test("an empty web config is valid: no TLS, no auth")
    func emptyIsValid() throws {
        #expect(try WebConfig.parse("", file: "web.yml") == WebConfig())
    }

    @Test("an unknown key is an error at its line and column")
    func unknownKey() {
        #expect(issues("basic_auth_users: {}\ntls_config: {}\n") == [
            "/etc/web.yml:2:1: tls_config: unknown key (known here: basic_auth_users, http_server_config, tls_server_config)",
        ])
    }

    @Test("a user whose hash is not bcrypt is an error that does not echo the value")
    func plainPasswordIsRejected() {
        let found = issues("basic_auth_users:\n  alice: hunter2\n")
        #expect(found.count == 1 && found[0].hasPrefix("/etc/web.yml:2:10: basic_auth_users.alice: expected a bcrypt hash"), "\(found)")
        #expect(!found.joined().contains("hunter2"))
    }

    @Test("a verifying client_auth_type without client_ca_file is an error")
    func verifyingNeedsCA() {
        #expect(issues("tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAndVerifyClientCert}\n") == [
            "/etc/web.yml:1:66: tls_server_config.client_auth_type: RequireAndVerifyClientCert needs client_ca_file",
        ])
    }

    @Test("an unknown client_auth_type or min_version names the choices")
    func unknownChoices() {
        let found = issues("tls_server_config: {cert_file: a, key_file: b, client_auth_type: Required, min_version: TLS14}\n")
        #expect(found.count == 2)
        #expect(found.contains { $0.contains("client_auth_type: \"Required\" is not one of: NoClientCert, RequestClientCert") })
        #expect(found.contains { $0.contains("min_version: \"TLS14\" is not one of: TLS10, TLS11, TLS12, TLS13") })
    }

    @Test("a header outside exporter-toolkit's list, or a value outside its choices, is an error")
    func headersAreChecked() {
        let found = issues("http_server_config:\n  headers:\n    Server: zen\n    X-Frame-Options: allow\n")
        #expect(found.count == 2)
        #expect(found.contains { $0.hasPrefix("/etc/web.yml:3:5: http_server_config.headers.Server: header not allowed") })
        #expect(found.contains { $0.hasPrefix("/etc/web.yml:4:22: http_server_config.headers.X-Frame-Options: invalid value \"allow\"") })
    }

    @Test("Basic credentials are split at the first colon; anything else is no credentials")
    func basicCredentials() {
        let encoded = Data("alice:pa:ss".utf8).base64EncodedString()
        #expect(WebSecurity.basicCredentials("Basic \(encoded)").map { "\($0.user)|\($0.password)" } == "alice|pa:ss")
        #expect(WebSecurity.basicCredentials("Bearer \(encoded)") == nil)
        #expect(WebSecurity.basicCredentials("Basic !!!") == nil)
        #expect(WebSecurity.basicCredentials(nil) == nil)
    }
}
