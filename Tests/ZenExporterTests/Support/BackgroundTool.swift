import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A server from Debian's packages (Prometheus, Alertmanager) run in the background for one
/// test: output goes to a log file in its own scratch directory, and it is killed when the
/// test lets go of it.
final class BackgroundTool {
    let name: String
    let directory: URL
    let port: Int
    private let process = Process()
    private let log: URL

    /// `arguments` may use `{dir}` and `{port}`, replaced by the scratch directory and a free port.
    init(_ executable: String, _ arguments: [String]) throws {
        name = executable
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(executable)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try freePort()
        log = directory.appendingPathComponent("output.log")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments.map {
            $0.replacingOccurrences(of: "{dir}", with: directory.path).replacingOccurrences(of: "{port}", with: String(port))
        }
        process.currentDirectoryURL = directory
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    func write(_ file: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(file)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func start() throws {
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    /// Polls `path` until it answers 200 (bounded), failing with the tool's log.
    func waitUntilReady(_ path: String, timeout: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard process.isRunning else { throw BackgroundToolError.exited(name, logText) }
            if let (_, status) = try? await get(path), status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BackgroundToolError.notReady(name, logText)
    }

    func get(_ pathAndQuery: String) async throws -> (Data, Int) {
        guard let url = URL(string: baseURL + pathAndQuery) else { throw BackgroundToolError.badURL(pathAndQuery) }
        let (data, response) = try await URLSession.shared.data(for: URLRequest(url: url, timeoutInterval: 10))
        return (data, (response as? HTTPURLResponse)?.statusCode ?? 0)
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

enum BackgroundToolError: Error, CustomStringConvertible {
    case exited(String, String), notReady(String, String), badURL(String)

    var description: String {
        switch self {
        case .exited(let name, let log): "\(name) exited:\n\(log)"
        case .notReady(let name, let log): "\(name) did not become ready:\n\(log)"
        case .badURL(let path): "bad URL \(path)"
        }
    }
}
