import Foundation
import Hummingbird
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A Hummingbird server on 127.0.0.1 for provider fakes: started with a router, stopped and
/// started again on the same port (to play an outage).
final class LoopbackServer: Sendable {
    let port: Int
    private let task = Mutex<Task<Void, any Error>?>(nil)

    init() throws { port = try freePort() }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Runs `router` and returns once the port accepts connections (bounded: 5 s).
    func start(_ router: Router<BasicRequestContext>) async throws {
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        task.withLock { $0 = Task { try await app.runService(gracefulShutdownSignals: []) } }
        for _ in 0..<200 {
            if accepts() { return }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    func stop() async {
        let running = task.withLock { task in defer { task = nil }; return task }
        running?.cancel()
        _ = await running?.result
    }

    private func accepts() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
