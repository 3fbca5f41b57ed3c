import AsyncHTTPClient
import CostModel
import Foundation
import NIOCore
import SourceKit

/// A bearer token from an access key (`POST /api/v1/auth/token`), kept until five minutes
/// before it expires (`expires_in`, else an assumed hour) or until a service refuses it.
/// Concurrent callers (VM details in flight) share one issuance.
package actor CloudRuToken {
    private let url: String
    private let keyID: Secret
    private let secret: Secret
    private let http: ProviderClient
    private var current: (value: String, expires: Date)?
    /// Callers waiting for the issuance under way (nil when none is).
    private var waiting: [CheckedContinuation<String, any Error>]?

    init(url: String, keyID: Secret, secret: Secret, http: ProviderClient) {
        self.url = url
        self.keyID = keyID
        self.secret = secret
        self.http = http
    }

    func value(now: Date = Date()) async throws -> String {
        if let current, current.expires.timeIntervalSince(now) > 300 { return current.value }
        if waiting != nil {
            return try await withCheckedThrowingContinuation { waiting?.append($0) }
        }
        waiting = []
        let result: Result<String, any Error>
        do { result = .success(try await issue(now: now)) } catch { result = .failure(error) }
        let waiters = waiting ?? []
        waiting = nil
        for waiter in waiters { waiter.resume(with: result) }
        return try result.get()
    }

    private func issue(now: Date) async throws -> String {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["keyId": keyID.value, "secret": secret.value])))
        let answer = try http.decode(CloudRu.Token.self, from: try await http.send(request, endpoint: "iam"), endpoint: "iam")
        guard let value = answer.access_token, !value.isEmpty else {
            throw SyncFailure(endpoint: "iam", reason: "refused", message: "iam: no access_token in the answer")
        }
        current = (value, now.addingTimeInterval(Double(answer.expires_in ?? 3600)))
        return value
    }

    /// Forgets `refused` unless a newer token has replaced it already.
    func invalidate(_ refused: String) {
        if current?.value == refused { current = nil }
    }
}

/// Cloud.ru answers, only the fields the exporter reads. The consumption row is as published
/// (cloud.ru/docs billing `api_consumptionv2`) and observed by integrators; the Compute shapes
/// are the Compute OpenAPI's (docs/providers/cloudru.md).
package enum CloudRu {
    /// The IAM answer also holds an `id_token` with the account owner's e-mail and phone: it is
    /// not declared here, so no part of it is ever kept, logged or stored.
    struct Token: Decodable {
        var access_token: String?
        var expires_in: Int?
    }

    struct Consumption: Decodable {
        struct Row: Decodable, Sendable {
            var sku: String?
            var servname: String?
            var resource_id: String?
            var resource_name: String?
            var usedate: String?
            var amount: FlexibleDecimal?
            var amount_nds: FlexibleDecimal?
            var updated_dt: String?
        }
        var consumptions: [Row]?
        /// v2: the next page's `page_filter.page_token`; absent on the last page.
        var next_page_token: String?
    }

    struct Page<Item: Decodable>: Decodable {
        var items: [Item]
        var total: Int?
    }

    struct Named: Decodable { var name: String? }

    struct VM: Decodable {
        struct Disk: Decodable {
            var id: String
            var name: String?
            var size: Int?
            var disk_type: Named?
        }
        var id: String
        var name: String?
        var state: String?
        var status: String?
        var created_time: String?
        /// Before `created_time` was known: kept for answers that still carry it.
        var created_at: String?
        var flavor: Named?
        var availability_zone: Named?
        var disks: [Disk]?
    }

    struct FloatingIP: Decodable {
        struct Interface: Decodable { var id: String? }
        var id: String
        var ip_address: String?
        /// `available` (bound to nothing) or `in_use`, among others.
        var state: String?
        var interface: Interface?
        var nat_gateway: Named?
        var availability_zone: Named?
        var created_time: String?
        var created_at: String?
    }
}
