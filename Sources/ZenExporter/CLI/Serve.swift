import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Storage

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the exporter (the default).")
    @OptionGroup var options: ConfigOption
    @OptionGroup var sharding: ShardOption
    @Option(name: .long, help: "HOST:PORT to listen on; overrides `listen` in the config.")
    var listen: String?
    @Option(name: .customLong("web.config.file"),
            help: "exporter-toolkit web config (TLS, basic auth, headers), re-read on change; overrides `web.config_file`.")
    var webConfigFile: String?

    func run() async throws {
        var config = try options.load()
        try sharding.apply(to: &config)
        if let listen {
            guard let address = ListenAddress(listen) else { throw ValidationError("--listen: expected HOST:PORT, got \"\(listen)\"") }
            config.listen = address
        }
        if let webConfigFile { config.web.configFile = webConfigFile }
        let logger = options.logger("zen-exporter")
        let security = try options.loadWebSecurity(config.web, logger: logger)
        if security == nil && !config.listen.isLoopback {
            logger.warning("serving spend, balances and tenant names over plain HTTP without authentication to every host that can reach this address; set web.config_file or --web.config.file (docs/config.md)",
                           metadata: ["listen": "\(config.listen)"])
        }
        let store: Store
        let movedAside: String?
        do {
            _ = try DatabaseGuard.lock(databasePath: config.storage.path)
            (store, movedAside) = try DatabaseGuard.open(path: config.storage.path, logger: logger)
        } catch let held as DatabaseGuard.Held {
            logger.critical("\(held)")
            throw ExitCode(1)
        } catch let lockFile as DatabaseGuard.LockFileError {
            logger.critical("\(lockFile)")
            throw ExitCode(1)
        } catch {
            logger.critical("cannot open the database", metadata: ["path": "\(config.storage.path)", "error": "\(error)"])
            throw ExitCode(1)
        }
        ShardOption.logOwnership(config, logger: logger)
        let engine = SyncEngine(config: config, store: store, logger: logger, databaseMovedAside: movedAside != nil)
        await engine.restore()

        let cap = WebServer.connectionCap(configured: config.web.maxConnections, logger: logger)
        let app = Application(
            router: Routes.router(estate: engine.estate, security: security,
                                  reports: ReportRoute(config: config, store: store, estate: engine.estate, clock: engine.clock)),
            server: WebServer.builder(security: security, idleTimeout: config.web.idleTimeout),
            configuration: .init(address: .hostname(config.listen.host, port: config.listen.port), serverName: "zen-exporter",
                                 backlog: 1024, availableConnectionsDelegate: .maximum(cap, logger: logger)),
            logger: logger
        )
        let sync = SyncService(engine: engine)
        let group = ServiceGroup(services: [app, sync], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        logger.info("starting", metadata: ["listen": "\(config.listen)", "tls": "\(security?.servesTLS ?? false)",
                                           "web_config": "\(config.web.configFile ?? "none")", "max_connections": "\(cap)", "shard": "\(config.shard)", "sources": "\(engine.sources.count)", "usage": "\(engine.config.usage.count)", "database": "\(config.storage.path)"])
        try await group.run()
        try store.close()
        logger.info("stopped; database closed")
    }
}

/// The sync loop as a service: it stops when the group shuts down gracefully.
struct SyncService: Service {
    let engine: SyncEngine

    func run() async throws {
        await cancelWhenGracefulShutdown { [engine] in await engine.runForever() }
    }
}
