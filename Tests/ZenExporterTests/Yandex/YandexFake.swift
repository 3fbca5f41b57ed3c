import Crypto
import Foundation
import Hummingbird
import NIOCore
import Synchronization
import _CryptoExtras

/// Yandex Cloud's IAM (verifying the PS256 JWT with the key's public half), billing account
/// and Compute APIs on 127.0.0.1.
final class YandexFake: Sendable {
    static let token = "t1.fixture-iam-token"
    let server: LoopbackServer
    let publicKeyPEM: String
    let keyID: String
    let serviceAccountID: String
    /// The first page's `nextPageToken`: the second page is served only to exactly this
    /// token, as the query parameter decodes it.
    let nextPageToken: String
    let requests = Mutex<[String]>([])

    init(publicKeyPEM: String, keyID: String, serviceAccountID: String, nextPageToken: String = "p2") throws {
        server = try LoopbackServer()
        self.publicKeyPEM = publicKeyPEM
        self.keyID = keyID
        self.serviceAccountID = serviceAccountID
        self.nextPageToken = nextPageToken
    }

    var baseURL: String { server.baseURL }

    func start() async throws { try await server.start(router()) }

    func stop() async { await server.stop() }

    private func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func base64URLDecode(_ text: Substring) -> Data? {
        var base = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base.count % 4 != 0 { base += "=" }
        return Data(base64Encoded: base)
    }

    /// Checks what the IAM service checks: PS256, the key id, issuer, audience, lifetime, signature.
    func verify(_ jwt: String) -> Bool {
        let parts = jwt.split(separator: ".")
        guard parts.count == 3, let headerData = Self.base64URLDecode(parts[0]), let claimsData = Self.base64URLDecode(parts[1]),
              let signature = Self.base64URLDecode(parts[2]),
              let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any],
              let claims = try? JSONSerialization.jsonObject(with: claimsData) as? [String: Any],
              header["alg"] as? String == "PS256", header["kid"] as? String == keyID,
              claims["iss"] as? String == serviceAccountID, claims["aud"] as? String == "https://iam.api.cloud.yandex.net/iam/v1/tokens",
              let iat = claims["iat"] as? Int, let exp = claims["exp"] as? Int, exp > iat, exp - iat <= 3600,
              let key = try? _RSA.Signing.PublicKey(pemRepresentation: publicKeyPEM) else { return false }
        let input = Data("\(parts[0]).\(parts[1])".utf8)
        return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: input), padding: .PSS)
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/iam/v1/tokens") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 16)
            self.requests.withLock { $0.append("POST iam") }
            guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: String], let jwt = object["jwt"],
                  self.verify(jwt) else {
                return self.json(.unauthorized, #"{"code": 16, "message": "Token is invalid or has expired."}"#)
            }
            return self.json(.ok, #"{"iamToken": "\#(Self.token)", "expiresAt": "2099-01-01T00:00:00.123456789Z"}"#)
        }
        router.get("/billing/v1/billingAccounts/:id") { request, context -> Response in
            guard request.headers[.authorization] == "Bearer \(Self.token)" else { return self.json(.unauthorized, "{}") }
            return self.json(.ok, #"{"id": "\#(context.parameters.get("id") ?? "")", "name": "account-main", "currency": "RUB", "active": true, "balance": "15234.56"}"#)
        }
        router.get("/compute/v1/instances") { request, _ -> Response in
            guard request.headers[.authorization] == "Bearer \(Self.token)" else { return self.json(.unauthorized, "{}") }
            let page = request.uri.queryParameters.get("pageToken") ?? ""
            self.requests.withLock { $0.append("GET instances \(page)") }
            if page.isEmpty {
                let next = String(data: (try? JSONSerialization.data(withJSONObject: self.nextPageToken, options: .fragmentsAllowed)) ?? Data(), encoding: .utf8) ?? "\"\""
                return self.json(.ok, """
                {"instances": [{"id": "fhm0vm000000000000aa", "folderId": "b1gfolder00000000000", "createdAt": "2026-02-01T08:00:00Z",
                  "name": "web-1", "labels": {"env": "prod", "tenant": "shop"}, "zoneId": "ru-central1-a", "platformId": "standard-v3",
                  "resources": {"memory": "4294967296", "cores": "2", "coreFraction": "100", "gpus": "0"}, "status": "RUNNING"}],
                 "nextPageToken": \(next)}
                """)
            }
            guard page == self.nextPageToken else {
                return self.json(.badRequest, #"{"code": 3, "message": "Invalid page token"}"#)
            }
            return self.json(.ok, """
            {"instances": [{"id": "fhm0vm000000000000bb", "name": "idle-2", "zoneId": "ru-central1-b", "platformId": "standard-v3",
              "resources": {"memory": "2147483648", "cores": "2"}, "status": "STOPPED", "createdAt": "2026-03-01T08:00:00Z"}], "nextPageToken": ""}
            """)
        }
        return router
    }
}
