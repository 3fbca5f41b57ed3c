import Exposition
import Foundation
import Hummingbird
import NIOCore

/// The exporter's HTTP surface: `/metrics`, the landing page and the health endpoints.
enum Routes {
    static let textFormat = "text/plain; version=0.0.4; charset=utf-8"

    static func router(estate: Estate, security: WebSecurity? = nil, reports: ReportRoute? = nil) -> Router<BasicRequestContext> {
        let router = Router()
        if let security { router.add(middleware: WebSecurityMiddleware(security: security)) }
        router.get("/metrics") { request, _ -> Response in
            metrics(estate.exposition.rendered, acceptEncoding: request.headers[.acceptEncoding])
        }
        router.get("/-/healthy") { _, _ -> Response in
            plain(.ok, "Healthy.\n")
        }
        router.get("/-/ready") { _, _ -> Response in
            await estate.isReady ? plain(.ok, "Ready.\n") : plain(.serviceUnavailable, "Not ready: waiting for the first sync.\n")
        }
        router.get("/") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: await estate.overviewPage))
        }
        if let reports {
            router.get("/report/:file") { _, context -> Response in
                await reports.response(file: context.parameters.get("file") ?? "")
            }
        }
        return router
    }

    /// The cached exposition plus freshly read process metrics; gzip reuses the cached deflate.
    static func metrics(_ rendered: ExpositionCache.Rendered, acceptEncoding: String?) -> Response {
        let tail = ProcessMetrics.render()
        if acceptsGzip(acceptEncoding), let prefix = rendered.gzip, let end = prefix.finish(with: Array(tail.utf8)) {
            return Response(status: .ok, headers: [.contentType: textFormat, .contentEncoding: "gzip", .vary: "Accept-Encoding"],
                            body: .init(contentsOf: prefix.head + [end]))
        }
        return Response(status: .ok, headers: [.contentType: textFormat, .vary: "Accept-Encoding"],
                        body: .init(contentsOf: rendered.parts + [ByteBuffer(string: tail)]))
    }

    /// `gzip` or `*` listed without `q=0`.
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { part in
            let pieces = part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let coding = pieces.first, coding == "gzip" || coding == "*" else { return false }
            let quality = pieces.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return quality > 0
        }
    }

    private static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
