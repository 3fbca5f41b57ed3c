import NIOCore
import Synchronization

/// The rendered exposition, replaced whole after each sync; scrapes read whatever is current.
final class ExpositionCache: Sendable {
    struct Rendered: Sendable {
        let body: ByteBuffer
        let gzip: GzipPrefix?
        let series: Int
    }

    private let current: Mutex<Rendered>

    init() {
        current = Mutex(Rendered(body: ByteBuffer(), gzip: nil, series: 0))
    }

    /// Swaps in a new exposition; compresses it here, once, not per scrape.
    func publish(_ writer: ExpositionWriter) {
        let rendered = Rendered(body: writer.buffer, gzip: GzipPrefix(writer.buffer), series: writer.seriesCount)
        current.withLock { $0 = rendered }
    }

    var rendered: Rendered { current.withLock { $0 } }
}
