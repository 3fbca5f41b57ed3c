import NIOCore
import Synchronization

/// The rendered exposition, replaced whole after each sync; scrapes read whatever is current.
package final class ExpositionCache: Sendable {
    package struct Rendered: Sendable {
        /// The exposition in parts (per-source fragments are shared with the estate, not copied).
        package let parts: [ByteBuffer]
        package let gzip: GzipPrefix?
        package let series: Int

        /// The parts joined: for the CLI and tests; scrapes send the parts as they are.
        package var body: ByteBuffer {
            var joined = ByteBufferAllocator().buffer(capacity: parts.reduce(0) { $0 + $1.readableBytes })
            for var part in parts { joined.writeBuffer(&part) }
            return joined
        }

        package init(parts: [ByteBuffer], gzip: GzipPrefix? = nil, series: Int) {
            self.parts = parts
            self.gzip = gzip
            self.series = series
        }
    }

    private let current: Mutex<Rendered>

    package init() {
        current = Mutex(Rendered(parts: [], gzip: nil, series: 0))
    }

    /// Swaps in a new exposition; compresses it here, once, not per scrape (and only the
    /// parts that were not deflated when they were rendered). While a fragment's deflated
    /// form is still being made, the exposition has no gzip form: scrapes get it plain.
    package func publish(_ writer: ExpositionWriter) {
        let parts = writer.allParts
        let pieces = parts.compactMap { part in part.deflated ?? (part.deflateLater ? nil : DeflatedPiece(part.bytes)) }
        let rendered = Rendered(parts: parts.map(\.bytes), gzip: pieces.count == parts.count ? GzipPrefix(pieces: pieces) : nil,
                                series: writer.seriesCount)
        current.withLock { $0 = rendered }
    }

    package var rendered: Rendered { current.withLock { $0 } }
}
