import AsyncHTTPClient
import Foundation
import SourceKit

/// Usage from Prometheus' instant-query API (`GET /api/v1/query`), e.g. node_exporter's
/// filesystem and memory series for capacity used and total. Each series is a row; its
/// `tenantLabel` names the tenant, and a series without it counts towards the total.
struct PrometheusUsageBackend: UsageBackend {
    var url: String
    var tenantLabel: String

    private struct QueryResponse: Decodable {
        struct Sample: Decodable {
            var metric: [String: String]
            var value: [ScalarOrString]
        }

        struct Data: Decodable {
            var resultType: String
            var result: ResultValue
        }

        /// A vector's samples, or a scalar's `[time, "value"]`.
        enum ResultValue: Decodable {
            case vector([Sample])
            case scalar([ScalarOrString])

            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let samples = try? container.decode([Sample].self) { self = .vector(samples) } else {
                    self = .scalar(try container.decode([ScalarOrString].self))
                }
            }
        }

        var status: String
        var data: Data?
        var error: String?
    }

    /// `[1700000000.123, "42"]`: a number then a string.
    private enum ScalarOrString: Decodable {
        case number(Double), text(String)
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Double.self) { self = .number(number) } else { self = .text(try container.decode(String.self)) }
        }

        var text: String? { if case .text(let value) = self { value } else { nil } }
    }

    func run(_ query: UsageSourceConfig.Query, timeout: Duration) async throws -> [UsageRow] {
        guard var components = URLComponents(string: url) else {
            throw SyncFailure(endpoint: query.dimension, reason: "config", message: "bad url")
        }
        components.path = components.path.hasSuffix("/") ? components.path + "api/v1/query" : components.path + "/api/v1/query"
        components.queryItems = [URLQueryItem(name: "query", value: query.text), URLQueryItem(name: "timeout", value: timeout.prometheusText)]
        // `+` stays literal in a query component; PromQL needs it encoded.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        guard let target = components.url?.absoluteString else {
            throw SyncFailure(endpoint: query.dimension, reason: "config", message: "bad url")
        }
        let client = ProviderClient(timeout: timeout, retries: 0, source: "prometheus")
        let response = try await client.send(HTTPClientRequest(url: target), endpoint: query.dimension, accept: [400, 422])
        let decoded = try client.decode(QueryResponse.self, from: response, endpoint: query.dimension)
        guard decoded.status == "success", let data = decoded.data else {
            throw SyncFailure(endpoint: query.dimension, reason: "query", message: decoded.error ?? "status \(decoded.status)")
        }
        switch data.result {
        case .scalar(let pair):
            guard let value = pair.last?.text.flatMap(Double.init) else {
                throw SyncFailure(endpoint: query.dimension, reason: "bad_row", message: "scalar without a value")
            }
            return [UsageRow(tenant: nil, value: value)]
        case .vector(let samples):
            return try samples.map { sample in
                guard let value = sample.value.last?.text.flatMap(Double.init), value.isFinite else {
                    throw SyncFailure(endpoint: query.dimension, reason: "bad_row", message: "a series without a finite value")
                }
                return UsageRow(tenant: sample.metric[tenantLabel], value: value)
            }
        }
    }
}
