import Foundation
import SourceKit
import Yams

/// The Prometheus exporter-toolkit web config (`--web.config.file`, the file node_exporter
/// takes): TLS, basic auth with bcrypt hashes and extra response headers. Read as strictly
/// as exporter-toolkit reads it: an unknown key is an error that names the file, line and key.
struct WebConfig: Sendable, Equatable {
    enum ClientAuth: String, Sendable, CaseIterable {
        case noClientCert = "NoClientCert"
        case requestClientCert = "RequestClientCert"
        case requireAnyClientCert = "RequireAnyClientCert"
        case verifyClientCertIfGiven = "VerifyClientCertIfGiven"
        case requireAndVerifyClientCert = "RequireAndVerifyClientCert"

        /// Whether a presented client certificate is checked against `client_ca_file`.
        var verifies: Bool { self == .verifyClientCertIfGiven || self == .requireAndVerifyClientCert }
    }

    enum TLSVersion: String, Sendable, CaseIterable { case tls10 = "TLS10", tls11 = "TLS11", tls12 = "TLS12", tls13 = "TLS13" }

    struct TLS: Sendable, Equatable {
        /// Absolute paths: relative ones are resolved against the web config file's directory.
        var certFile: String
        var keyFile: String
        var clientAuth = ClientAuth.noClientCert
        var clientCAFile: String?
        var minVersion = TLSVersion.tls12
    }

    var tls: TLS?
    /// User name → bcrypt hash (`$2a$`, `$2b$` or `$2y$`, as htpasswd -B writes).
    var basicAuthUsers: [String: String] = [:]
    /// Sent on every response, including 401s.
    var headers: [(name: String, value: String)] = []

    static func == (lhs: WebConfig, rhs: WebConfig) -> Bool {
        lhs.tls == rhs.tls && lhs.basicAuthUsers == rhs.basicAuthUsers
            && lhs.headers.map { "\($0.name): \($0.value)" } == rhs.headers.map { "\($0.name): \($0.value)" }
    }

    /// exporter-toolkit's list: only these headers may be set, some only to these values.
    static let allowedHeaders: [String: [String]?] = [
        "Strict-Transport-Security": nil,
        "X-Content-Type-Options": ["nosniff"],
        "X-Frame-Options": ["deny", "sameorigin"],
        "X-XSS-Protection": nil,
        "Content-Security-Policy": nil,
    ]

    static func load(path: String) throws(ConfigErrors) -> WebConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigErrors(issues: [ConfigIssue(file: path, line: 0, column: 0, key: "(file)", message: "cannot read the web config file")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigErrors(issues: [ConfigIssue(file: path, line: 0, column: 0, key: "(file)", message: "the web config file is not valid UTF-8")])
        }
        return try parse(text, file: path)
    }

    static func parse(_ text: String, file: String) throws(ConfigErrors) -> WebConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigErrors(issues: [ConfigIssue(file: file, line: 1, column: 1, key: "(yaml)", message: "malformed YAML: \(error)")])
        }
        // An empty file is a valid web config (no TLS, no auth), as in exporter-toolkit.
        guard let root, !root.isNull else { return WebConfig() }
        let reader = ConfigReader(file: file, environment: [:])
        var config = WebConfig()
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()
        if let top = reader.mapping(root, at: "", allowed: ["tls_server_config", "basic_auth_users", "http_server_config"]) {
            if let node = top["tls_server_config"], !node.isNull { config.tls = readTLS(node, reader, base: base) }
            if let node = top["basic_auth_users"], !node.isNull { config.basicAuthUsers = readUsers(node, reader) }
            if let node = top["http_server_config"], !node.isNull { config.headers = readHTTP(node, reader) }
        }
        guard reader.issues.isEmpty else { throw ConfigErrors(issues: reader.issues) }
        return config
    }

    private static func readTLS(_ node: Node, _ reader: ConfigReader, base: URL) -> TLS? {
        let path = "tls_server_config"
        guard let fields = reader.mapping(node, at: path, allowed: ["cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version"])
        else { return nil }
        let resolve = { (file: String) in file.hasPrefix("/") ? file : base.appendingPathComponent(file).standardizedFileURL.path }
        let cert = reader.required(fields, "cert_file").flatMap { _ in reader.string(fields, "cert_file") }
        let key = reader.required(fields, "key_file").flatMap { _ in reader.string(fields, "key_file") }
        var tls = TLS(certFile: resolve(cert ?? ""), keyFile: resolve(key ?? ""))
        if let name = reader.oneOf(fields, "client_auth_type", ClientAuth.allCases.map(\.rawValue)), let auth = ClientAuth(rawValue: name) {
            tls.clientAuth = auth
        }
        tls.clientCAFile = reader.string(fields, "client_ca_file").map(resolve)
        if let name = reader.oneOf(fields, "min_version", TLSVersion.allCases.map(\.rawValue)), let version = TLSVersion(rawValue: name) {
            tls.minVersion = version
        }
        if tls.clientAuth.verifies && tls.clientCAFile == nil {
            reader.fail(at: fields["client_auth_type"], fields.path("client_auth_type"), "\(tls.clientAuth.rawValue) needs client_ca_file")
        }
        if tls.clientAuth == .noClientCert && tls.clientCAFile != nil {
            reader.fail(at: fields["client_ca_file"], fields.path("client_ca_file"),
                        "client CAs are configured but client_auth_type is NoClientCert (use VerifyClientCertIfGiven or RequireAndVerifyClientCert)")
        }
        return cert == nil || key == nil ? nil : tls
    }

    private static func readUsers(_ node: Node, _ reader: ConfigReader) -> [String: String] {
        guard case let .mapping(mapping) = node else {
            reader.fail(at: node, "basic_auth_users", "expected a mapping of user: bcrypt hash, got \(node.kindName)")
            return [:]
        }
        var users: [String: String] = [:]
        for (keyNode, value) in mapping {
            guard let user = keyNode.scalar?.string, !user.isEmpty, !user.contains(":") else {
                reader.fail(at: keyNode, "basic_auth_users", "user names must be non-empty strings without a colon")
                continue
            }
            // The hash is not a secret in the sense of a password, but it is never echoed either.
            guard let hash = value.scalar?.string, isBcryptHash(hash) else {
                reader.fail(at: value, "basic_auth_users.\(user)", "expected a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters, as `htpasswd -nBC 10 \"\" | tr -d ':\\n'` prints)")
                continue
            }
            users[user] = hash
        }
        return users
    }

    private static func readHTTP(_ node: Node, _ reader: ConfigReader) -> [(name: String, value: String)] {
        // http2 is accepted for node_exporter files and has no effect: only HTTP/1.1 is served.
        guard let fields = reader.mapping(node, at: "http_server_config", allowed: ["headers", "http2"]) else { return [] }
        _ = reader.bool(fields, "http2")
        guard let headersNode = fields["headers"], !headersNode.isNull else { return [] }
        guard case let .mapping(mapping) = headersNode else {
            reader.fail(at: headersNode, fields.path("headers"), "expected a mapping of header: value, got \(headersNode.kindName)")
            return []
        }
        var headers: [(name: String, value: String)] = []
        for (keyNode, value) in mapping {
            let name = keyNode.scalar?.string ?? ""
            let path = "http_server_config.headers.\(name)"
            guard let allowed = allowedHeaders.first(where: { $0.key.lowercased() == name.lowercased() }) else {
                reader.fail(at: keyNode, path, "header not allowed (allowed: \(allowedHeaders.keys.sorted().joined(separator: ", ")))")
                continue
            }
            guard case let .scalar(scalar) = value, !scalar.string.isEmpty, !scalar.string.contains(where: \.isNewline) else {
                reader.fail(at: value, path, "expected a one-line string value")
                continue
            }
            if let values = allowed.value, !values.contains(scalar.string.lowercased()) {
                reader.fail(at: value, path, "invalid value \"\(scalar.string)\" (expected one of: \(values.joined(separator: ", ")))")
                continue
            }
            headers.append((allowed.key, scalar.string))
        }
        return headers
    }

    static func isBcryptHash(_ text: String) -> Bool {
        text.utf8.count == 60 && ["$2a$", "$2b$", "$2y$"].contains(String(text.prefix(4)))
    }
}
