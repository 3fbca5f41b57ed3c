import AsyncHTTPClient
import Foundation
import Ingest
import NIOCore
import SourceKit

/// A Keystone v3 token (project-scoped; domain-scoped for Selectel's resell API) and its
/// service catalog, re-issued when it expires or when an OpenStack service answers 401. Concurrent callers share one issuance. Selectel's
/// service users and any OpenStack cloud's users or application credentials (`type: openstack`).
package actor KeystoneSession {
    package struct Token: Sendable {
        package var value: String
        var expires: Date
        /// Service type → region → public URL.
        package var catalog: [String: [String: String]]
    }

    /// What the token is issued for.
    package enum Credentials: Sendable {
        /// A user's password; the token is scoped to the project `projectID`. Selectel names
        /// both domains by the account number; elsewhere the user's domain is usually `Default`.
        case password(username: Secret, password: Secret, userDomain: String, projectID: String, projectDomain: String?)
        /// A user's password; the token is scoped to the domain `domain` (Selectel's resell API).
        case domainPassword(username: Secret, password: Secret, domain: String)
        /// An application credential: already bound to its project, so no scope is sent.
        case applicationCredential(id: Secret, secret: Secret)
    }

    private let identityURL: String
    private let credentials: Credentials
    private let http: ProviderClient
    private var current: Token?
    /// Callers waiting for the issuance under way (nil when none is).
    private var waiting: [CheckedContinuation<Token, any Error>]?

    package init(identityURL: String, credentials: Credentials, http: ProviderClient) {
        self.identityURL = identityURL
        self.credentials = credentials
        self.http = http
    }

    /// A Selectel service user: user and project both in the account's domain.
    package init(identityURL: String, username: Secret, password: Secret, accountID: String, projectID: String, http: ProviderClient) {
        self.init(identityURL: identityURL,
                  credentials: .password(username: username, password: password, userDomain: accountID, projectID: projectID, projectDomain: accountID),
                  http: http)
    }

    /// The cached token, or a new one when there is none or it expires within five minutes.
    package func token(now: Date = Date()) async throws -> Token {
        if let current, current.expires.timeIntervalSince(now) > 300 { return current }
        if waiting != nil {
            return try await withCheckedThrowingContinuation { waiting?.append($0) }
        }
        waiting = []
        let result: Result<Token, any Error>
        do { result = .success(try await issue()) } catch { result = .failure(error) }
        if case let .success(issued) = result { current = issued }
        let waiters = waiting ?? []
        waiting = nil
        for waiter in waiters { waiter.resume(with: result) }
        return try result.get()
    }

    /// Forgets `refused` (an OpenStack service answered 401 to it), unless a newer token has
    /// replaced it already.
    func invalidate(_ refused: String) {
        if current?.value == refused { current = nil }
    }

    private func issue() async throws -> Token {
        var request = HTTPClientRequest(url: "\(identityURL)/auth/tokens")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body: [String: Any]
        switch credentials {
        case let .password(username, password, userDomain, projectID, projectDomain):
            var project: [String: Any] = ["id": projectID]
            if let projectDomain { project["domain"] = ["name": projectDomain] }
            body = ["auth": [
                "identity": ["methods": ["password"],
                             "password": ["user": ["name": username.value, "domain": ["name": userDomain], "password": password.value]]],
                "scope": ["project": project],
            ]]
        case let .domainPassword(username, password, domain):
            body = ["auth": [
                "identity": ["methods": ["password"],
                             "password": ["user": ["name": username.value, "domain": ["name": domain], "password": password.value]]],
                "scope": ["domain": ["name": domain]],
            ]]
        case let .applicationCredential(id, secret):
            body = ["auth": ["identity": ["methods": ["application_credential"],
                                          "application_credential": ["id": id.value, "secret": secret.value]]]]
        }
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        let response = try await http.send(request, endpoint: "identity")
        guard let value = response.headers.first(name: "X-Subject-Token"), !value.isEmpty else {
            throw SyncFailure(endpoint: "identity", reason: "refused", message: "identity: no X-Subject-Token in the answer")
        }
        let token = try http.decode(OpenStack.TokenBody.self, from: response, endpoint: "identity").token
        var catalog: [String: [String: String]] = [:]
        for service in token.catalog ?? [] {
            for endpoint in service.endpoints where endpoint.interface == nil || endpoint.interface == "public" {
                guard let region = endpoint.region_id ?? endpoint.region else { continue }
                catalog[service.type, default: [:]][region] = endpoint.url.hasSuffix("/") ? String(endpoint.url.dropLast()) : endpoint.url
            }
        }
        let expires = token.expires_at.flatMap(ISO8601Dates().date) ?? Date().addingTimeInterval(3600)
        return Token(value: value, expires: expires, catalog: catalog)
    }
}
