import Foundation
import Testing

/// A throwaway CA with a server certificate (localhost, 127.0.0.1) and a client certificate,
/// made by `openssl` in a directory of the test's.
struct TestPKI {
    let directory: URL

    init(in directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let made = try runTool("bash", ["-c", Self.script, "pki", directory.path])
        try #require(made.status == 0, "openssl: \(made.output)")
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Issues a new server certificate (same key) with the given serial, for renewal tests.
    func renewServer(serial: String) throws {
        let made = try runTool("bash", ["-c", "cd \"$1\" && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial \(serial) -out server.crt.new -days 2 -extfile server.ext 2>&1 && mv server.crt.new server.crt", "pki", directory.path])
        try #require(made.status == 0, "openssl: \(made.output)")
    }

    /// The serial of the certificate a TLS server presents, as `openssl s_client` sees it.
    static func servedSerial(port: Int, caFile: String) throws -> String {
        let shown = try runTool("bash", ["-c", "openssl s_client -connect 127.0.0.1:\(port) -CAfile \"$1\" </dev/null 2>/dev/null | openssl x509 -noout -serial", "s", caFile])
        return shown.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static let script = """
    set -e
    cd "$1"
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
    key ca.key
    openssl req -x509 -new -key ca.key -out ca.crt -days 2 -subj "/CN=zen-test-ca" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    key server.key
    openssl req -new -key server.key -out server.csr -subj "/CN=localhost"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial 0x1001 -out server.crt -days 2 -extfile server.ext 2>/dev/null
    key client.key
    openssl req -new -key client.key -out client.csr -subj "/CN=zen-test-client"
    printf 'extendedKeyUsage=clientAuth\\n' > client.ext
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -set_serial 0x2001 -out client.crt -days 2 -extfile client.ext 2>/dev/null
    """
}

/// A bcrypt hash in the `$2y$` form `htpasswd -B` writes, made by the C library's crypt(3)
/// (libxcrypt) through Python, independently of the daemon's bcrypt.
func bcryptHash(_ password: String) throws -> String {
    let made = try runTool("python3", ["-W", "ignore", "-c",
        "import crypt, sys; salt = crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024).replace('$2b$', '$2y$', 1); print(crypt.crypt(sys.argv[1], salt))",
        password])
    let hash = made.output.trimmingCharacters(in: .whitespacesAndNewlines)
    try #require(made.status == 0 && hash.hasPrefix("$2y$10$") && hash.count == 60, "crypt: \(made.output)")
    return hash
}

/// One `curl` request: its exit status, HTTP status (0 when no HTTP answer came) and output
/// (headers and body).
struct CurlResult {
    var status: Int32
    var code: Int
    var output: String
}

func curl(_ arguments: [String]) throws -> CurlResult {
    let result = try runTool("curl", ["-s", "-i", "--max-time", "10", "-w", "\n%{http_code}"] + arguments)
    let code = result.output.split(separator: "\n").last.flatMap { Int($0) } ?? 0
    return CurlResult(status: result.status, code: code, output: result.output)
}
