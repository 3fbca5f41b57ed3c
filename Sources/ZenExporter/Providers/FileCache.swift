import Foundation
import Synchronization

/// What a source has read of each file: a file whose size and modification time are unchanged
/// is not read again; a changed one is read again and replaces what it gave before.
final class FileCache<Parsed: Sendable>: Sendable {
    private struct Entry: Sendable {
        var size: Int64
        var modified: Date
        var parsed: Parsed
    }

    private let entries = Mutex<[String: Entry]>([:])

    init() {}

    /// The files' parsed contents, reading only new and changed ones; forgets files that are gone.
    func parse(_ paths: [String], read: (String) throws -> Parsed) throws -> [Parsed] {
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
