import Foundation
@testable import ProviderSelectel
@testable import SourceKit
import Testing
@testable import ZenExporter

/// Config that would leak a credential, read a huge file or overflow is refused where it stands.
@Suite("Config hardening")
struct ConfigHardeningTests {
    func issues(_ yaml: String, environment: [String: String] = [:]) -> [ConfigIssue] { configIssues(yaml, environment: environment) }

    func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("confhard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test("a plain http:// base_url to a non-loopback host is refused at its key and line:column")
    func plainHTTPRefused() throws {
        let found = issues("""
        sources:
          - name: sel
            type: selectel
            token_env: T
            base_url: http://api.selectel.ru
        """, environment: ["T": "x"])
        #expect(found.count == 1)
        #expect(found.first?.key == "sources[0].base_url")
        #expect(found.first.map { ($0.line, $0.column) }.map { $0 == (5, 15) } == true)
        #expect(found.first?.message.contains("clear text") == true)
    }

    @Test("every connector's credential URL is checked: Beget base_url, Yandex base_url, Selectel identity_url", arguments: [
        "{name: b, type: beget, login_env: T, password_env: T, base_url: \"http://10.0.0.5:8080\"}",
        "{name: s, type: selectel, token_env: T, identity_url: \"http://keystone.example/v3\"}",
        "{name: s, type: selectel, token_env: T, base_url: \"ftp://api.example\"}",
    ])
    func everyCredentialURL(source: String) throws {
        let found = issues("sources:\n  - \(source)\n", environment: ["T": "x"])
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.key.hasPrefix("sources[0].") == true)
    }

    @Test("http:// to loopback (127.0.0.0/8, ::1, localhost) stays allowed for fakes and local proxies", arguments: [
        "http://127.0.0.1:8080", "http://127.9.9.9", "http://localhost:9000", "http://[::1]:8443", "https://api.selectel.ru",
    ])
    func loopbackAllowed(url: String) throws {
        #expect(issues("sources:\n  - {name: s, type: selectel, token_env: T, base_url: \"\(url)\"}\n", environment: ["T": "x"]) == [])
    }

    @Test("a secret file over 64 KiB is refused at its key, and /dev/zero is not read whole")
    func secretFileCap() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let big = directory.appendingPathComponent("token").path
        FileManager.default.createFile(atPath: big, contents: Data(repeating: 0x61, count: 64 * 1024 + 1), attributes: [.posixPermissions: 0o600])
        for path in [big, "/dev/zero"] {
            let found = issues("sources:\n  - name: s\n    type: selectel\n    token_file: \(path)\n")
            #expect(found.count == 1)
            #expect(found.first?.key == "sources[0].token_file")
            #expect(found.first.map { ($0.line, $0.column) }.map { $0 == (4, 17) } == true)
            #expect(found.first?.message.contains("over 64 KiB") == true)
        }
        let exact = directory.appendingPathComponent("exact").path
        FileManager.default.createFile(atPath: exact, contents: Data(repeating: 0x61, count: 64 * 1024), attributes: [.posixPermissions: 0o600])
        let config = try ConfigLoader.parse("sources:\n  - {name: s, type: selectel, token_file: \(exact)}\n", file: "t.yaml", environment: [:])
        #expect((config.sources.first?.settings as? SelectelSource.Settings)?.token.value.count == 64 * 1024)
    }

    @Test("a secret file its group or others can read loads, with a warning at its key; mode 600 gives none")
    func secretFileModeWarning() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let open = directory.appendingPathComponent("open").path
        let closed = directory.appendingPathComponent("closed").path
        FileManager.default.createFile(atPath: open, contents: Data("tok\n".utf8), attributes: [.posixPermissions: 0o644])
        FileManager.default.createFile(atPath: closed, contents: Data("tok\n".utf8), attributes: [.posixPermissions: 0o600])
        let warned = try ConfigLoader.parse("sources:\n  - {name: s, type: selectel, token_file: \(open)}\n", file: "t.yaml", environment: [:])
        #expect(warned.warnings.count == 1)
        #expect(warned.warnings.first?.key == "sources[0].token_file")
        #expect(warned.warnings.first?.message.contains("mode 644") == true)
        #expect(warned.warnings.first?.message.contains("tok") == false)
        let quiet = try ConfigLoader.parse("sources:\n  - {name: s, type: selectel, token_file: \(closed)}\n", file: "t.yaml", environment: [:])
        #expect(quiet.warnings.isEmpty)
    }

    @Test("durations that overflow are config errors naming the key and line:column", arguments: [
        "9223372036854775807ms", "99999999999999999999s", "300000000000000w", "5000000000h1ms", "1000000000000000000000000ms",
    ])
    func overflowingDuration(text: String) throws {
        let found = issues("sources:\n  - name: d\n    type: demo\n    interval: \(text)\n")
        #expect(found.count == 1)
        #expect(found.first?.key == "sources[0].interval")
        #expect(found.first.map { ($0.line, $0.column) }.map { $0 == (4, 15) } == true)
    }

    @Test("the overflow checks: past 100 years is too long, the limit itself parses, and prints back")
    func durationLimits() {
        #expect(DurationParser.parse("9223372036854775807ms") == .failure(.overflow))
        #expect(DurationParser.parse("5218w") == .failure(.overflow))  // 100.07 years
        #expect(DurationParser.parse("36500d") == .success(.seconds(36_500 * 86_400)))
        #expect(DurationParser.parse("36500d").map(\.prometheusText) == .success("36500d"))
        #expect(Duration.seconds(Int64.max).prometheusText == "\(Int64.max)s")  // no trap printing an absurd one
    }
}
