import AsyncHTTPClient
import Crypto
import Foundation
import Ingest
import NIOCore
import SourceKit
import _CryptoExtras

/// IAM tokens from a service-account authorised key: a PS256 JWT exchanged at the IAM
/// endpoint, cached until ten minutes before it expires (tokens live at most 12 h; the
/// JWT at most one).
package actor YandexIAM {
    struct AuthorizedKey: Decodable {
        var id: String
        var service_account_id: String
        var private_key: String
    }

    static let audience = "https://iam.api.cloud.yandex.net/iam/v1/tokens"
    private let key: AuthorizedKey
    private let signingKey: _RSA.Signing.PrivateKey
    private let url: String
    private let http: ProviderClient
    private var token: (value: String, expires: Date)?

    init(keyJSON: String, url: String, http: ProviderClient) throws {
        do {
            key = try JSONDecoder().decode(AuthorizedKey.self, from: Data(keyJSON.utf8))
        } catch let error as DecodingError {
            throw SyncFailure(endpoint: "iam", reason: "config", message: "authorised key: \(error.located)")
        }
        do {
            signingKey = try _RSA.Signing.PrivateKey(pemRepresentation: key.private_key)
        } catch {
            throw SyncFailure(endpoint: "iam", reason: "config", message: "authorised key \(key.id): private_key is not an RSA PEM key")
        }
        self.url = url
        self.http = http
    }

    func bearer(now: Date = Date()) async throws -> String {
        if let token, token.expires.timeIntervalSince(now) > 600 { return token.value }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["jwt": try jwt(now: now)])))
        struct Answer: Decodable { var iamToken: String; var expiresAt: String? }
        let answer = try http.decode(Answer.self, from: try await http.send(request, endpoint: "iam"), endpoint: "iam")
        // Nanosecond precision ("…00.123456789Z"): keep what ISO 8601 parsers take.
        let expires = answer.expiresAt.flatMap { DateText.iso8601(Self.trimFraction($0)) } ?? now.addingTimeInterval(3600)
        token = (answer.iamToken, expires)
        return answer.iamToken
    }

    func jwt(now: Date) throws -> String {
        let header = try JSONSerialization.data(withJSONObject: ["typ": "JWT", "alg": "PS256", "kid": key.id], options: [.sortedKeys])
        let issued = Int(now.timeIntervalSince1970)
        let claims = try JSONSerialization.data(withJSONObject: ["iss": key.service_account_id, "aud": Self.audience,
                                                                 "iat": issued, "exp": issued + 3600], options: [.sortedKeys])
        let signingInput = "\(Self.base64URL(header)).\(Self.base64URL(claims))"
        let signature = try signingKey.signature(for: SHA256.hash(data: Data(signingInput.utf8)), padding: .PSS)
        return "\(signingInput).\(Self.base64URL(signature.rawRepresentation))"
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func trimFraction(_ text: String) -> String {
        guard let dot = text.firstIndex(of: "."), let zone = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) else { return text }
        let digits = text[text.index(after: dot)..<zone]
        return String(text[..<dot]) + "." + String(digits.prefix(3)) + String(text[zone...])
    }
}
