import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The real `zen-exporter` binary in a scratch directory, run as a user would run it.
final class Daemon {
    static let binary: URL = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("zen-exporter")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../.build/debug/zen-exporter").standardizedFileURL
    }()

    let directory: URL
    let port: Int
    private(set) var process: Process?
    private(set) var log: URL

    init(config: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("zen-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try config.write(to: directory.appendingPathComponent("exporter.yaml"), atomically: true, encoding: .utf8)
        port = try freePort()
        log = directory.appendingPathComponent("daemon.log")
    }

    var databasePath: String { directory.appendingPathComponent("data/infrazen.db").path }
    var metricsURL: URL { URL(string: "http://127.0.0.1:\(port)/metrics")! }

    /// Starts `serve` (or the given subcommand) in the scratch directory.
    func start(_ arguments: [String] = ["serve"], environment: [String: String] = [:]) throws {
        let process = Process()
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        process.executableURL = Daemon.binary
        process.arguments = arguments + (arguments.first == "serve" ? ["--listen", "127.0.0.1:\(port)"] : [])
        process.currentDirectoryURL = directory
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
    }

    /// Runs a subcommand to completion (bounded), returning its exit status and output.
    func run(_ arguments: [String], timeout: Double = 120) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = Daemon.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var output = Data()
        while process.isRunning && Date() < deadline {
            output.append(pipe.fileHandleForReading.availableData)
        }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        output.append(pipe.fileHandleForReading.readDataToEndOfFile())
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// Polls until `/-/ready` answers 200.
    func waitUntilReady(timeout: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let (_, status) = try? await get("/-/ready"), status == 200 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DaemonError.notReady(logText)
    }

    func get(_ path: String, headers: [String: String] = [:]) async throws -> (Data, Int) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!, timeoutInterval: 10)
        for (key, value) in headers { request.setValue(value, forHTTPHeaderField: key) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return (data, (response as? HTTPURLResponse)?.statusCode ?? 0)
    }

    func metrics() async throws -> String {
        let (data, status) = try await get("/metrics")
        guard status == 200 else { throw DaemonError.status(status) }
        return String(decoding: data, as: UTF8.self)
    }

    /// Sends a signal and waits (bounded) for the exit; returns seconds taken and the status.
    func stop(signal: Int32 = SIGTERM, timeout: Double = 10) -> (seconds: Double, status: Int32, reason: Process.TerminationReason)? {
        guard let process else { return nil }
        let started = Date()
        kill(process.processIdentifier, signal)
        while process.isRunning && Date().timeIntervalSince(started) < timeout { usleep(10_000) }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        self.process = nil
        return (Date().timeIntervalSince(started), process.terminationStatus, process.terminationReason)
    }

    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    deinit {
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

enum DaemonError: Error { case notReady(String), status(Int) }

/// A port on 127.0.0.1 that was free a moment ago.
func freePort() throws -> Int {
    // Outside the kernel's ephemeral range (32768-60999 by default), from which outgoing
    // connections take their local ports, and never twice in one test process: a port handed
    // out but not yet bound by its server was otherwise taken by another test's server or
    // client now and then on a loaded run, and the test talked to the wrong server.
    for _ in 0..<2000 {
        let candidate = Int.random(in: 20_000..<32_000)
        guard handedOutPorts.withLock({ $0.insert(candidate).inserted }) else { continue }
        if canBind(candidate) { return candidate }
    }
    throw DaemonError.status(-1)
}

private let handedOutPorts = Mutex<Set<Int>>([])

private func canBind(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// Runs a tool from PATH (promtool), bounded in time.
func runTool(_ name: String, _ arguments: [String], stdin: Data? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [name] + arguments
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = output
    try process.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
