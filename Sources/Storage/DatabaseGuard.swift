import Foundation
import GRDB
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// What `serve` does around opening its database: one daemon per database (a lock), and a
/// database that cannot be read moved aside instead of crash-looping the daemon.
package enum DatabaseGuard {
    package struct Held: Error, CustomStringConvertible {
        package var path: String
        package var holder: String
        package var description: String {
            "\(path) is in use by another zen-exporter\(holder.isEmpty ? "" : " (pid \(holder))"): stop it, or give this one its own storage.path"
        }

        package init(path: String, holder: String) {
            self.path = path
            self.holder = holder
        }
    }

    package struct LockFileError: Error, CustomStringConvertible {
        package var path: String
        package var reason: String
        package var description: String { "cannot open the lock file \(path): \(reason)" }

        package init(path: String, reason: String) {
            self.path = path
            self.reason = reason
        }
    }

    /// An exclusive `flock` on `<database>.lock`, held until the process exits (the kernel
    /// releases it then, also after kill -9). The file holds the holder's pid, for the message.
    package static func lock(databasePath: String) throws -> Int32 {
        let path = databasePath + ".lock"
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                withIntermediateDirectories: true)
        let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw LockFileError(path: path, reason: String(cString: strerror(errno))) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            throw Held(path: databasePath, holder: holder)
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = pid.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        return descriptor
    }

    /// Opens the store; a file SQLite says is not a database, or corrupt, is moved aside
    /// (with its -wal and -shm) to `<path>.corrupt-<unix time>` and the daemon starts empty,
    /// refilling from the providers. Returns the store and where the bad file went, if anywhere.
    package static func open(path: String, logger: Logger, now: Date = Date()) throws -> (store: Store, movedAside: String?) {
        do {
            return (try Store(path: path, logger: logger), nil)
        } catch let error as DatabaseError where [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode.primaryResultCode) {
            let aside = "\(path).corrupt-\(Int(now.timeIntervalSince1970))"
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
                try FileManager.default.moveItem(atPath: path + suffix, toPath: aside + suffix)
            }
            logger.error("the database cannot be read; moved aside, starting empty and refilling from the providers",
                         metadata: ["path": "\(path)", "moved_to": "\(aside)", "error": "\(error.resultCode)"])
            return (try Store(path: path, logger: logger), aside)
        }
    }
}
