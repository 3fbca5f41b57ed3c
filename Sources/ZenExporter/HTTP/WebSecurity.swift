import Crypto
import Foundation
import HummingbirdBcrypt
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SourceKit
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The web config as it is on disk now. Like exporter-toolkit, which reads the file on every
/// request, edits take effect without a restart: every request and every new connection stats
/// the file and re-reads it when its inode, size or modification time changed. A file that
/// became invalid fails closed (500 to every request, TLS handshakes refused) until it is fixed.
final class WebSecurity: Sendable {
    let path: String
    /// Whether the listener speaks TLS; decided at start from the file as it was then.
    let servesTLS: Bool
    private let logger: Logger
    private let state: Mutex<State>

    private struct State {
        var signature: FileSignature?
        var config: Result<WebConfig, ConfigErrors>
        var tls: LoadedTLS?
        /// SHA-256 of (user, hash, password) → whether bcrypt accepted it, so a scrape every
        /// few seconds costs one bcrypt, not one per scrape (exporter-toolkit caches the same way).
        var verified: [SHA256Digest: Bool] = [:]
    }

    /// A built TLS context and the files it was built from.
    struct LoadedTLS: Sendable {
        var settings: WebConfig.TLS
        var files: [FileSignature?]
        var context: NIOSSLContext
        /// RequestClientCert and RequireAnyClientCert ask for a certificate without checking it.
        var acceptAnyCertificate: Bool
    }

    /// Loads the file; a bad file, certificate or key is an error naming the file and the key.
    init(path: String, logger: Logger) throws(ConfigErrors) {
        self.path = path
        self.logger = logger
        let signature = FileSignature(path)
        let config = try WebConfig.load(path: path)
        servesTLS = config.tls != nil
        var loaded: LoadedTLS?
        if let tls = config.tls { loaded = try Self.makeTLS(tls, file: path) }
        state = Mutex(State(signature: signature, config: .success(config), tls: loaded))
    }

    /// The current config, re-read if the file changed since the last look.
    func current() -> Result<WebConfig, ConfigErrors> {
        let signature = FileSignature(path)
        return state.withLock { state in
            if signature == nil || signature != state.signature {
                state.signature = signature
                state.config = Result { () throws(ConfigErrors) in try WebConfig.load(path: path) }
                state.verified = [:]
                switch state.config {
                case let .success(config):
                    logger.info("web config reloaded", metadata: ["file": "\(path)", "tls": "\(config.tls != nil)", "users": "\(config.basicAuthUsers.count)"])
                    if (config.tls != nil) != servesTLS {
                        logger.warning("the web config turns TLS \(servesTLS ? "off" : "on"); that takes a restart, the listener keeps \(servesTLS ? "TLS" : "plain HTTP")",
                                       metadata: ["file": "\(path)"])
                    }
                case let .failure(error):
                    logger.error("web config is invalid; every request is refused with 500 until it is fixed", metadata: ["error": "\(error)"])
                }
            }
            return state.config
        }
    }

    /// The TLS context for a new connection, rebuilt when the web config or the certificate,
    /// key or CA files changed. Throws (the connection is closed) while the config is invalid.
    func tlsContext() throws -> LoadedTLS {
        guard case let .success(config) = current() else { throw WebSecurityError.invalidConfig(path) }
        guard let settings = config.tls else { throw WebSecurityError.tlsRemoved(path) }
        let files = Self.files(of: settings).map(FileSignature.init)
        return try state.withLock { state in
            if let loaded = state.tls, loaded.settings == settings, loaded.files == files, !files.contains(nil) { return loaded }
            do {
                let loaded = try Self.makeTLS(settings, file: path)
                state.tls = loaded
                logger.info("TLS certificate, key and client CAs (re)loaded", metadata: ["file": "\(path)"])
                return loaded
            } catch {
                logger.error("cannot load TLS files; new connections are refused", metadata: ["error": "\(error)"])
                throw error
            }
        }
    }

    private static func files(of tls: WebConfig.TLS) -> [String] { [tls.certFile, tls.keyFile] + (tls.clientCAFile.map { [$0] } ?? []) }

    static func makeTLS(_ tls: WebConfig.TLS, file: String) throws(ConfigErrors) -> LoadedTLS {
        func issue(_ key: String, _ path: String, _ error: any Error) -> ConfigErrors {
            ConfigErrors(issues: [ConfigIssue(file: file, line: 0, column: 0, key: "tls_server_config.\(key)", message: "cannot load \(path): \(error)")])
        }
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(tls.certFile) } catch { throw issue("cert_file", tls.certFile, error) }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: tls.keyFile, format: .pem) } catch { throw issue("key_file", tls.keyFile, error) }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = switch tls.minVersion {
        case .tls10: .tlsv1
        case .tls11: .tlsv11
        case .tls12: .tlsv12
        case .tls13: .tlsv13
        }
        if let caFile = tls.clientCAFile {
            do { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile)) } catch { throw issue("client_ca_file", caFile, error) }
        }
        configuration.certificateVerification = switch tls.clientAuth {
        case .noClientCert: .none
        case .requestClientCert, .verifyClientCertIfGiven: .optionalVerification
        case .requireAnyClientCert, .requireAndVerifyClientCert: .noHostnameVerification
        }
        do {
            let context = try NIOSSLContext(configuration: configuration)
            let acceptAny = tls.clientAuth == .requestClientCert || tls.clientAuth == .requireAnyClientCert
            return LoadedTLS(settings: tls, files: files(of: tls).map(FileSignature.init), context: context, acceptAnyCertificate: acceptAny)
        } catch {
            throw ConfigErrors(issues: [ConfigIssue(file: file, line: 0, column: 0, key: "tls_server_config",
                                                    message: "the certificate and key do not make a TLS context: \(error)")])
        }
    }

    // MARK: Basic auth

    /// A bcrypt hash of a random password, checked when the user is unknown so that a wrong
    /// user name takes as long as a wrong password.
    private static let decoyHash = Bcrypt.hash(UUID().uuidString, cost: 10)

    /// Whether an `Authorization: Basic …` header names a configured user with the right password.
    func authorize(_ header: String?, users: [String: String]) async -> Bool {
        guard let (user, password) = Self.basicCredentials(header) else { return false }
        let hash = users[user]
        var hasher = SHA256()
        for part in [user, hash ?? "", password] {
            hasher.update(data: Array(part.utf8))
            hasher.update(data: [0])
        }
        let key = hasher.finalize()
        if let known = state.withLock({ $0.verified[key] }) { return known && hash != nil }
        // bcrypt is slow by design: run it off the cooperative pool.
        let accepted = (try? await NIOThreadPool.singleton.runIfActive {
            let stored = hash ?? Self.decoyHash
            // $2y$ (htpasswd) is the same algorithm as $2b$, which is the name the C bcrypt knows.
            return Bcrypt.verify(password, hash: stored.hasPrefix("$2y$") ? "$2b$" + stored.dropFirst(4) : stored)
        }) ?? false
        state.withLock { state in
            if state.verified.count >= 1024 { state.verified.removeAll() }
            state.verified[key] = accepted
        }
        return accepted && hash != nil
    }

    static func basicCredentials(_ header: String?) -> (user: String, password: String)? {
        guard let header, header.count > 6, header.prefix(6).lowercased() == "basic " else { return nil }
        let encoded = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8),
              let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}

enum WebSecurityError: Error, CustomStringConvertible {
    case invalidConfig(String), tlsRemoved(String)

    var description: String {
        switch self {
        case let .invalidConfig(path): "the web config \(path) is invalid; refusing TLS connections until it is fixed"
        case let .tlsRemoved(path): "the web config \(path) no longer has tls_server_config; restart to serve plain HTTP"
        }
    }
}

/// What tells that a file changed: inode (an editor's rename), size and modification time.
struct FileSignature: Sendable, Equatable {
    var inode: UInt64
    var size: Int64
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int

    init?(_ path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modifiedSeconds = Int(info.st_mtim.tv_sec)
        modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
    }
}
