import CostModel
import FocusFormat
import Foundation
import Ingest
import SourceKit
#if canImport(Glibc)
import Glibc
#endif

/// `type: focus`: FinOps Open Cost and Usage Specification (1.0–1.2) CSV exports, plain or
/// gzip, from a glob of files. Files are streamed with constant memory into daily cost per
/// resource, service and currency. When every file's size and modification time are what
/// the last good sync read, nothing is read again (the fingerprint survives restarts); when
/// any changed, all are read again, so a re-exported file replaces its earlier rows. Bad rows
/// are counted and reported with file:line and never stop the file.
package final class FocusSource: Source {
    struct Settings: SourceSettings {
        var path: String
        /// The provider of rows whose file names none (a FOCUS 1.4 export without
        /// `ServiceProviderName`, a hand-made file).
        var provider: String?
    }

    package static let kind = SourceKind(
        settingKeys: ["path", "provider"],
        readSettings: { fields, reader in
            if reader.required(fields, "path") == nil { return Settings(path: "") }
            return Settings(path: reader.string(fields, "path") ?? "", provider: reader.string(fields, "provider"))
        },
        make: { config in FocusSource(settings: config.settings as? Settings ?? Settings(path: "")) }
    )

    let settings: Settings
    package var provider: String { "focus" }

    init(settings: Settings) { self.settings = settings }

    package func collect(_ window: CollectionWindow) async throws -> SourceSnapshot {
        let paths = Self.glob(settings.path)
        guard !paths.isEmpty else {
            throw SyncFailure(endpoint: "files", reason: "no_files", message: "no file matches \(settings.path)")
        }
        let timeZone = window.reporting.timeZone
        let provider = settings.provider
        // The provider setting is in the salt: a new one reads the unchanged files again.
        let fingerprint = FileFingerprint.of(paths, salt: "focus-v2|\(timeZone.identifier)" + (provider.map { "|\($0)" } ?? ""))
        if let fingerprint, fingerprint == window.previousFingerprint {
            var snapshot = SourceSnapshot()
            snapshot.unchanged = true
            snapshot.fingerprint = fingerprint
            return snapshot
        }
        // Parsing a month of a large estate takes seconds of CPU: off the cooperative pool.
        var snapshot = try await offCooperativePool { isCancelled in
            try FocusExport.read(paths: paths, timeZone: timeZone, provider: provider, isCancelled: isCancelled).snapshot()
        }
        snapshot.fingerprint = fingerprint
        return snapshot
    }

    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { index in result.gl_pathv[index].map { String(cString: $0) } }.sorted()
    }
}
