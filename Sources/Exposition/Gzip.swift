import CZlib
import NIOCore

/// Gzip for an exposition whose large part changes once per sync and whose small tail (the
/// process metrics) changes every scrape. The large part is deflated once, ending in a full
/// flush so that any later deflate stream can follow it; each scrape deflates only the tail
/// and joins the CRCs with `crc32_combine`. The result is one ordinary gzip member, which
/// every client reads (concatenated members are not: curl stops after the first).
///
/// The large part is itself made of pieces (`DeflatedPiece`): each source's per-resource
/// series are deflated once when the source syncs, so publishing after another source's
/// sync deflates only the small parts between them.
package struct GzipPrefix: Sendable {
    /// Gzip header followed by the deflated pieces, flushed but not finished.
    package let head: [ByteBuffer]
    package let crc: UInt
    package let length: Int

    package init?(_ body: ByteBuffer) {
        guard let piece = DeflatedPiece(body) else { return nil }
        self.init(pieces: [piece])
    }

    package init(pieces: [DeflatedPiece]) {
        var header = ByteBufferAllocator().buffer(capacity: 10)
        // Magic, deflate, no flags, no mtime, no extra flags, OS unknown.
        header.writeBytes([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff])
        head = [header] + pieces.map(\.deflated)
        var crc: UInt = 0
        var length = 0
        for piece in pieces {
            crc = length == 0 ? piece.crc : crc32_combine(crc, piece.crc, off_t(piece.length))
            length += piece.length
        }
        self.crc = crc
        self.length = length
    }

    /// The tail deflated and finished, with the trailer for the whole body.
    package func finish(with tail: [UInt8]) -> ByteBuffer? {
        guard let deflated = DeflatedPiece.rawDeflate(tail, finish: true, level: 6) else { return nil }
        let tailCRC = DeflatedPiece.crc32(tail)
        let combined = length == 0 ? tailCRC : crc32_combine(crc, tailCRC, off_t(tail.count))
        var end = ByteBufferAllocator().buffer(capacity: deflated.count + 8)
        end.writeBytes(deflated)
        end.writeInteger(UInt32(truncatingIfNeeded: combined), endianness: .little)
        end.writeInteger(UInt32(truncatingIfNeeded: length + tail.count), endianness: .little)
        return end
    }
}

/// Bytes deflated on their own, ending in a full flush, with their CRC and length: pieces
/// that join into one gzip member in any order they are written.
package struct DeflatedPiece: Sendable {
    package let deflated: ByteBuffer
    package let crc: UInt
    package let length: Int

    /// `level` 1 for the large per-resource parts (three times faster than 6 and nearly as
    /// small on exposition text), 6 for the rest.
    package init?(_ body: ByteBuffer, level: Int32 = 6) {
        guard let deflated = Self.rawDeflate(body.readableBytesView, finish: false, level: level) else { return nil }
        var buffer = ByteBufferAllocator().buffer(capacity: deflated.count)
        buffer.writeBytes(deflated)
        self.deflated = buffer
        crc = Self.crc32(body.readableBytesView)
        length = body.readableBytes
    }

    package static func crc32<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> UInt {
        bytes.withContiguousStorageIfAvailable { buffer in
            CZlib.crc32(0, buffer.baseAddress, uInt(buffer.count))
        } ?? Array(bytes).withUnsafeBufferPointer { CZlib.crc32(0, $0.baseAddress, uInt($0.count)) }
    }

    /// Raw deflate (no zlib header). `finish` false ends with Z_FULL_FLUSH: byte-aligned and
    /// with no back-references into what follows.
    package static func rawDeflate<Bytes: Collection<UInt8>>(_ input: Bytes, finish: Bool, level: Int32) -> [UInt8]? {
        var source = Array(input)
        var stream = z_stream()
        guard deflateInit2_(&stream, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(source.count))) + 16)
        let status: Int32 = source.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outBuffer.count)
                return deflate(&stream, finish ? Z_FINISH : Z_FULL_FLUSH)
            }
        }
        guard status == (finish ? Z_STREAM_END : Z_OK), stream.avail_in == 0 else { return nil }
        return Array(output.prefix(Int(stream.total_out)))
    }
}
