import AsyncHTTPClient
import CostModel
import Foundation
import Ingest
import NIOCore
import NIOHTTP1

/// HTTP as every connector needs it: a per-request timeout, bounded bodies, retries with
/// exponential backoff and jitter on 429, 5xx and transport failures (honouring
/// `Retry-After`), and failures that name the endpoint but never a URL query, header or body,
/// where credentials live.
package struct ProviderClient: Sendable {
    package struct Response: Sendable {
        package var status: Int
        package var headers: HTTPHeaders
        package var body: ByteBuffer

        package init(status: Int, headers: HTTPHeaders, body: ByteBuffer) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    package var timeout: Duration
    package var retries: Int
    /// The provider (or `cbr`, `usage`) named in failures that need it, such as a refused redirect.
    package var source = ""
    package var retryBase: Duration = .milliseconds(500)
    /// Longest `Retry-After` honoured; a longer one fails the attempt instead of stalling the sync.
    package var maxRetryAfter: Duration = .seconds(60)
    package var maxBodyBytes = 64 * 1024 * 1024
    package var client: HTTPClient = Self.shared

    package init(timeout: Duration, retries: Int, source: String = "", retryBase: Duration = .milliseconds(500),
                 maxRetryAfter: Duration = .seconds(60), maxBodyBytes: Int = 64 * 1024 * 1024, client: HTTPClient = Self.shared) {
        self.timeout = timeout
        self.retries = retries
        self.source = source
        self.retryBase = retryBase
        self.maxRetryAfter = maxRetryAfter
        self.maxBodyBytes = maxBodyBytes
        self.client = client
    }

    /// One client for every connector. The pool's own retry of refused connections is off:
    /// it would wait out the whole connect timeout on a dead host before our retries (with
    /// their backoff and error counting) even start. Redirects are never followed: every
    /// request carries a credential (a header, a form or JSON body, a token), and a redirect
    /// would hand it to whoever the `Location` names; a 3xx is a `redirect` failure instead.
    package static let shared: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// Sends the request; a non-2xx status after retries is a `SyncFailure` (`http_<status>`).
    package func send(_ request: HTTPClientRequest, endpoint: String, accept: Set<Int> = []) async throws -> Response {
        var attempt = 0
        while true {
            switch try await attemptOnce(request, endpoint: endpoint, accept: accept) {
            case let .done(response):
                return response
            case let .retry(failure, retryAfter):
                attempt += 1
                guard attempt <= retries else { throw failure }
                try await Task.sleep(for: retryAfter ?? Backoff.delay(attempt: attempt, base: retryBase))
            }
        }
    }

    private enum Outcome {
        case done(Response)
        case retry(SyncFailure, after: Duration?)
    }

    private func attemptOnce(_ request: HTTPClientRequest, endpoint: String, accept: Set<Int>) async throws -> Outcome {
        do {
            let response = try await client.execute(request, timeout: .seconds(Int64(timeout.seconds.rounded(.up))))
            let body = try await response.body.collect(upTo: maxBodyBytes)
            let status = Int(response.status.code)
            if (200..<300).contains(status) || accept.contains(status) {
                return .done(Response(status: status, headers: response.headers, body: body))
            }
            if (300..<400).contains(status) {
                throw redirectRefused(request, endpoint: endpoint, status: status, location: response.headers.first(name: "Location"))
            }
            let failure = SyncFailure(endpoint: endpoint, reason: "http_\(status)", message: "\(describe(request)) answered \(status)")
            guard status == 429 || status >= 500 else { throw failure }
            let retryAfter = Self.retryAfter(response.headers, now: Date())
            if let retryAfter, retryAfter > maxRetryAfter { throw failure }
            return .retry(failure, after: retryAfter)
        } catch let error as SyncFailure {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as NIOTooManyBytesError {
            throw SyncFailure(endpoint: endpoint, reason: SyncFailure.tooLarge, message: "\(describe(request)): body over \(maxBodyBytes) bytes (\(error))")
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return .retry(SyncFailure(endpoint: endpoint, reason: "timeout", message: "\(describe(request)): no answer within \(timeout.prometheusText)"), after: nil)
        } catch {
            return .retry(SyncFailure(endpoint: endpoint, reason: "connection", message: "\(describe(request)): \(error)"), after: nil)
        }
    }

    /// Decodes a JSON body, naming the endpoint and the path to the value that did not fit.
    package func decode<T: Decodable>(_ type: T.Type, from response: Response, endpoint: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(response.body.readableBytesView))
        } catch let error as DecodingError {
            throw SyncFailure(endpoint: endpoint, reason: "bad_json", message: "\(endpoint): \(error.located)")
        } catch let bad as BadAmount {
            throw SyncFailure(endpoint: endpoint, reason: SyncFailure.badValue, message: "\(endpoint): \(bad)", failsTheSync: true)
        }
    }

    /// A 3xx answer as a failure naming the endpoint and the origin it pointed to (never the
    /// target's path or query, which may carry what the server wanted to leak).
    package func redirectRefused(_ request: HTTPClientRequest, endpoint: String, status: Int, location: String?) -> SyncFailure {
        let from = URL(string: request.url)
        let target = location.flatMap { URL(string: $0, relativeTo: from)?.absoluteURL }
        let targetOrigin = Self.origin(target) ?? "(no usable Location)"
        let sameOrigin = Self.origin(target) != nil && Self.origin(target) == Self.origin(from)
        let what = sameOrigin ? "redirect within the same origin not followed (credentials are never re-sent)" : "redirect to other origin refused"
        return SyncFailure(endpoint: endpoint, reason: SyncFailure.redirect,
                           message: "\(what): \(source.isEmpty ? "" : "\(source) ")\(endpoint) \(describe(request)) answered \(status) to \(targetOrigin)")
    }

    /// `scheme://host:port` of a URL (the port spelled out), nil without a scheme or host: what
    /// credentials may be sent to once they were sent to one URL of it.
    package static func origin(_ url: URL?) -> String? {
        guard let url, let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else { return nil }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        return "\(scheme)://\(host):\(port)"
    }

    /// Method, scheme, host and path only: the query of a legacy API can carry a password.
    package func describe(_ request: HTTPClientRequest) -> String {
        guard let url = URL(string: request.url), let host = url.host else { return request.method.rawValue }
        return "\(request.method.rawValue) \(url.scheme ?? "http")://\(host)\(url.port.map { ":\($0)" } ?? "")\(url.path)"
    }

    /// `Retry-After` as seconds or an HTTP date.
    package static func retryAfter(_ headers: HTTPHeaders, now: Date) -> Duration? {
        guard let header = headers.first(name: "Retry-After"), let value = DateText.ascii(header.trimmingCharacters(in: .whitespaces)) else { return nil }
        if let seconds = Int(value) { return .seconds(max(0, seconds)) }
        guard let date = DateText.date(value, patterns: ["EEE, dd MMM yyyy HH:mm:ss zzz"], in: .gmt) else { return nil }
        return .seconds(max(0, date.timeIntervalSince(now)))
    }
}

package extension DecodingError {
    /// "at vps[0].configuration.price_day: expected Double, found a string" — where and what.
    package var located: String {
        func path(_ context: Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return keys.isEmpty ? "the top level" : String(keys.drop { $0 == "." })
        }
        switch self {
        case let .typeMismatch(type, context): return "at \(path(context)): expected \(type): \(context.debugDescription)"
        case let .valueNotFound(type, context): return "at \(path(context)): missing \(type) value"
        case let .keyNotFound(key, context): return "at \(path(context)): missing key \(key.stringValue)"
        case let .dataCorrupted(context): return "at \(path(context)): \(context.debugDescription)"
        @unknown default: return "\(self)"
        }
    }
}

package extension SyncFailure {
    /// The reason of an answer whose body is over `ProviderClient.maxBodyBytes` (never retried):
    /// a connector that can ask for less at a time reacts to it by asking for less.
    package static let tooLarge = "too_large"
    /// The reason of a 3xx answer: redirects are never followed with credentials.
    package static let redirect = "redirect"
    /// The reason of a URL a provider handed out (a catalog's) that credentials must not go to.
    package static let insecureURL = "insecure_url"
    /// The reason of a number that cannot be: an amount not finite or absurd fails the whole
    /// sync (never only its endpoint), so that the last good data stays served; a measurement
    /// that is no ratio (a utilisation of 40, NaN) is not kept, and its last good value stays.
    package static let badValue = "bad_value"
    /// The reason of a source whose costs' currency the account does not report: fatal too.
    package static let currency = "currency"

    package var isBodyTooLarge: Bool { reason == Self.tooLarge }
}

/// A number that providers send as a number or as a numeric string ("12.66"), read exactly
/// from its JSON text (never through `Double`: `1e-5` and `1.5E+16` arrive as written).
/// A value that is not finite, does not fit a `Decimal` (`1e400`, `"NaN"`, `"Infinity"`) or
/// is absurd (`Money.isPlausible`) is refused with `BadAmount`: a `bad_value` sync failure.
package struct FlexibleDecimal: Decodable, Sendable, Hashable {
    package let value: Decimal

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let value: Decimal
        if let text = try? container.decode(String.self) {
            if let parsed = Decimal.exact(text) ?? Decimal.exactJSON(text.trimmingCharacters(in: .whitespaces)) {
                value = parsed
            } else if Double(text.trimmingCharacters(in: .whitespaces)) != nil {
                // A number in words Double knows ("NaN", "Infinity", "1e400"): a bad value, not
                // malformed JSON. Only classified by Double, never read through it.
                throw BadAmount(codingPath: decoder.codingPath, text: "\"\(text.prefix(40))\"")
            } else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a number: \"\(text.prefix(40))\"")
            }
        } else {
            do {
                // Foundation reads a `Decimal` from the number's own digits.
                value = try container.decode(Decimal.self)
            } catch let error as DecodingError {
                throw error
            } catch {
                // A number Foundation cannot represent: its error carries the literal.
                throw BadAmount(codingPath: decoder.codingPath, text: "\(error)")
            }
        }
        guard Money.isPlausible(value) else { throw BadAmount(codingPath: decoder.codingPath, text: value.plainString) }
        self.value = value
    }
}

/// An amount a provider sent that the exporter refuses to hold (see `FlexibleDecimal`).
package struct BadAmount: Error, CustomStringConvertible {
    package var codingPath: [any CodingKey]
    package var text: String
    package var description: String {
        let keys = codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        let path = keys.isEmpty ? "the top level" : String(keys.drop { $0 == "." })
        return "at \(path): \(text) is not a finite amount below 10^18"
    }

    package init(codingPath: [any CodingKey], text: String) {
        self.codingPath = codingPath
        self.text = text
    }
}
