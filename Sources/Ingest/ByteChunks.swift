import CZenScan
import CZlib
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Chunks of bytes from somewhere: a file, a gzip stream.
public protocol ByteChunks {
    /// The next chunk, or nil at the end.
    mutating func next() throws -> [UInt8]?
}

/// A file, or a byte range of it, read 256 KiB at a time: memory stays constant whatever
/// the file's size.
package struct FileChunks: ByteChunks {
    package let handle: FileHandle
    package let path: String
    package var chunkSize = 256 * 1024
    /// Bytes left to read in the range; nil reads to the end of the file.
    private var remaining: UInt64?

    package init(path: String, range: Range<UInt64>? = nil) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CSVError(file: path, line: 0, message: "cannot open the file")
        }
        self.handle = handle
        self.path = path
        if let range {
            try handle.seek(toOffset: range.lowerBound)
            remaining = range.upperBound - range.lowerBound
        }
    }

    package mutating func next() throws -> [UInt8]? {
        var count = chunkSize
        if let remaining {
            guard remaining > 0 else { return nil }
            count = Int(min(UInt64(chunkSize), remaining))
        }
        // Read straight into the chunk: through `Data` each byte would be copied twice more.
        let descriptor = handle.fileDescriptor
        var error: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = 0
            guard let base = buffer.baseAddress else { return }
            while initialized < count {
                let read = Glibc.read(descriptor, base + initialized, count - initialized)
                if read > 0 {
                    initialized += read
                } else if read == 0 {
                    return
                } else if errno != EINTR {
                    error = errno
                    return
                }
            }
        }
        if error != 0 { throw CSVError(file: path, line: 0, message: "cannot read the file: \(String(cString: strerror(error)))") }
        remaining = remaining.map { $0 - UInt64(bytes.count) }
        return bytes.isEmpty ? nil : bytes
    }

    /// Where to cut a file into two halves read on two threads: just after the first line
    /// break past the middle, or nil when the file is small or has no line break there. The
    /// break may lie inside a quoted field; the reader of the first half finds that out
    /// (`FocusExport.read`), and the file is then read whole.
    package static func middleLineStart(path: String, minimumSize: UInt64) -> UInt64? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = (attributes[.size] as? NSNumber)?.uint64Value, size >= minimumSize,
              let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var offset = size / 2
        guard (try? handle.seek(toOffset: offset)) != nil else { return nil }
        // A line longer than 4 MiB: leave the file whole.
        for _ in 0..<16 {
            guard let data = try? handle.read(upToCount: 256 * 1024), !data.isEmpty else { return nil }
            if let index = data.firstIndex(of: UInt8(ascii: "\n")) {
                let start = offset + UInt64(index - data.startIndex) + 1
                return start < size ? start : nil
            }
            offset += UInt64(data.count)
        }
        return nil
    }
}

/// Bytes from memory handed out `size` at a time: a small text whole (a price list), or, in
/// tests and fuzzing, in small sizes that cross every chunk boundary.
package struct MemoryChunks: ByteChunks {
    package var bytes: [UInt8]
    package var size: Int
    package var offset = 0

    package init(bytes: [UInt8], size: Int) {
        self.bytes = bytes
        self.size = max(1, size)
    }

    package mutating func next() throws -> [UInt8]? {
        guard offset < bytes.count else { return nil }
        let end = min(bytes.count, offset + size)
        defer { offset = end }
        return Array(bytes[offset..<end])
    }
}

/// Inflates a gzip stream (one or more concatenated members) chunk by chunk. A stream that
/// ends inside a member is truncated, an error; so is one that inflates past
/// `maxRatio` times its compressed size once past `ratioFloorBytes` (a gzip bomb: real CSV
/// exports compress 5–30 times, a bomb about a thousand).
package struct GzipChunks<Source: ByteChunks>: ByteChunks {
    private var source: Source
    private var stream = z_stream()
    private var input: [UInt8] = []
    private var offset = 0
    private var started = false
    private var finished = false
    private let file: String
    /// Whether a member has begun and not yet ended.
    private var inMember = false
    private var compressedBytes = 0
    private var inflatedBytes = 0
    package var maxRatio = 200
    package var ratioFloorBytes = 64 * 1024 * 1024

    package init(_ source: Source, file: String) {
        self.source = source
        self.file = file
    }

    package mutating func next() throws -> [UInt8]? {
        if !started {
            // 16 + MAX_WBITS: expect a gzip header, not zlib's.
            guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw CSVError(file: file, line: 0, message: "cannot start gzip decompression")
            }
            started = true
        }
        var output = [UInt8](repeating: 0, count: 256 * 1024)
        while !finished {
            if offset >= input.count {
                guard let chunk = try source.next() else {
                    finished = true
                    inflateEnd(&stream)
                    if inMember { throw CSVError(file: file, line: 0, message: "truncated gzip data (the stream ends inside a member)") }
                    return nil
                }
                input = chunk
                offset = 0
                compressedBytes += chunk.count
            }
            var produced = 0
            var status: Int32 = Z_OK
            input.withUnsafeMutableBufferPointer { inBuffer in
                output.withUnsafeMutableBufferPointer { outBuffer in
                    stream.next_in = inBuffer.baseAddress.map { $0 + offset }
                    stream.avail_in = uInt(inBuffer.count - offset)
                    stream.next_out = outBuffer.baseAddress
                    stream.avail_out = uInt(outBuffer.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    produced = outBuffer.count - Int(stream.avail_out)
                    offset = inBuffer.count - Int(stream.avail_in)
                }
            }
            if produced > 0 || status == Z_OK { inMember = true }
            if status == Z_STREAM_END {
                inflateReset(&stream)  // a further member may follow
                inMember = false
            } else if status != Z_OK && status != Z_BUF_ERROR {
                inflateEnd(&stream)
                finished = true
                throw CSVError(file: file, line: 0, message: "corrupt gzip data (zlib status \(status))")
            }
            inflatedBytes += produced
            if inflatedBytes > ratioFloorBytes, inflatedBytes / max(compressedBytes, 1) > maxRatio {
                inflateEnd(&stream)
                finished = true
                throw CSVError(file: file, line: 0, message: "gzip data inflates over \(maxRatio) times its size (\(inflatedBytes) bytes from \(compressedBytes)): a gzip bomb?")
            }
            if produced > 0 { return Array(output.prefix(produced)) }
        }
        return nil
    }
}
