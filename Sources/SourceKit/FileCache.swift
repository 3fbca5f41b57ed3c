import Crypto
import Foundation
import Synchronization

/// What a source has read of each file: a file whose size and modification time are unchanged
/// is not read again; a changed one is read again and replaces what it gave before.
package final class FileCache<Parsed: Sendable>: Sendable {
    private struct Entry: Sendable {
        var size: Int64
        var modified: Date
        var parsed: Parsed
    }

    private let entries = Mutex<[String: Entry]>([:])

    package init() {}

    /// The files' parsed contents, reading only new and changed ones; forgets files that are gone.
    package func parse(_ paths: [String], read: (String) throws -> Parsed) throws -> [Parsed] {
        var result: [Parsed] = []
        for path in paths {
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
            let modified = (attributes?[.modificationDate] as? Date) ?? .distantPast
            if let known = entries.withLock({ $0[path] }), known.size == size, known.modified == modified {
                result.append(known.parsed)
                continue
            }
            let parsed = try read(path)
            entries.withLock { $0[path] = Entry(size: size, modified: modified, parsed: parsed) }
            result.append(parsed)
        }
        let current = Set(paths)
        entries.withLock { $0 = $0.filter { current.contains($0.key) } }
        return result
    }
}

/// What a set of files was when read: paths, sizes and modification times (nanoseconds),
/// hashed. Kept with a source's last good sync, so that an unchanged export is not read
/// again, in this process or after a restart. nil when a file cannot be examined.
package enum FileFingerprint {
    package static func of(_ paths: [String], salt: String) -> String? {
        var text = salt
        for path in paths.sorted() {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            text += "\n\(path)\t\(info.st_size)\t\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        }
        return SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
