import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
#if canImport(Glibc)
import Glibc
#endif

/// Basic auth and the configured headers on every route, from the web config as it is now.
struct WebSecurityMiddleware<Context: RequestContext>: RouterMiddleware {
    let security: WebSecurity

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let config: WebConfig
        switch security.current() {
        case let .success(current): config = current
        case .failure: return Self.plain(.internalServerError, "Internal Server Error: the web config is invalid (see the log).\n")
        }
        var response: Response
        if !config.basicAuthUsers.isEmpty, !(await security.authorize(request.headers[.authorization], users: config.basicAuthUsers)) {
            response = Self.plain(.unauthorized, "Unauthorized\n")
            response.headers[.wwwAuthenticate] = "Basic"
        } else {
            response = try await next(request, context)
        }
        for header in config.headers {
            if let name = HTTPField.Name(header.name) { response.headers[name] = header.value }
        }
        return response
    }

    private static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// TLS in front of a child channel, with the context taken afresh for every new connection,
/// so that a renewed certificate, key or client CA file is used without a restart.
struct ReloadingTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let security: WebSecurity

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let tls = try security.tlsContext()
            let acceptAny: NIOSSLCustomVerificationCallback? = tls.acceptAnyCertificate ? { _, promise in promise.succeed(.certificateVerified) } : nil
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context, customVerificationCallback: acceptAny, configuration: .init()))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension ReloadingTLSChannel: HTTPChannelHandler where Base: HTTPChannelHandler {
    var responder: HTTPChannelHandler.Responder { base.responder }
}

/// The HTTP server: HTTP/1.1, with TLS when the web config asks for it, an idle timeout that
/// also bounds a slow client's partial request, and a cap on open connections.
enum WebServer {
    static func builder(security: WebSecurity?, idleTimeout: Duration) -> HTTPServerBuilder {
        let (seconds, attoseconds) = idleTimeout.components
        let http1 = HTTP1Channel.Configuration(idleTimeout: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000))
        guard let security, security.servesTLS else { return .http1(configuration: http1) }
        return HTTPServerBuilder { responder in
            ReloadingTLSChannel(base: HTTP1Channel(responder: responder, configuration: http1), security: security)
        }
    }

    /// Raises the soft open-file limit to the hard one (as Go programs do at start), and returns
    /// the connection cap that fits in it: the configured one, less what the database and
    /// sources need.
    static func connectionCap(configured: Int, logger: Logger) -> Int {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return configured }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let reserve = 128
        let fits = limit.rlim_cur > UInt(reserve * 2) ? Int(clamping: limit.rlim_cur) - reserve : reserve
        if fits < configured {
            logger.warning("web.max_connections lowered to fit the open-file limit", metadata: ["configured": "\(configured)", "cap": "\(fits)", "nofile": "\(limit.rlim_cur)"])
            return fits
        }
        return configured
    }
}
