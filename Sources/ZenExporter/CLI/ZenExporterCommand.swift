import ArgumentParser
import CostModel
import Exposition
import Foundation
import Ingest
import Logging
import SourceKit
import Storage

/// The daemon's entry point (`Sources/ZenExporterMain` calls it): the code lives in a library
/// so that the fuzz targets under `Fuzz/` can link it.
public enum ZenExporterEntry {
    public static func main() async {
        ReleaseFreedMemory.mapLargeBlocks()
        await ZenExporterCommand.main()
    }
}

struct ZenExporterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zen-exporter",
        abstract: "Cloud spend for Prometheus: syncs providers, computes cost, serves /metrics.",
        version: "zen-exporter \(BuildInfo.current.version) (revision \(BuildInfo.current.revision), Swift \(BuildInfo.current.swiftVersion))",
        subcommands: [Serve.self, CheckConfig.self, SyncCommand.self, Render.self, ReportCommand.self, BenchRender.self],
        defaultSubcommand: Serve.self
    )
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Path of the config file.")
    var config = "./exporter.yaml"

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    /// Loads the config or prints every problem and exits with status 2.
    func load() throws -> ExporterConfig {
        do {
            let loaded = try ConfigLoader.load(path: config)
            for warning in loaded.warnings { FileHandle.standardError.write(Data("warning: \(warning.description)\n".utf8)) }
            return loaded
        } catch {
            FileHandle.standardError.write(Data("\(error.description)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// The web config named by `web.config_file`, with its TLS files loaded, or every problem
    /// printed and exit 2.
    func loadWebSecurity(_ web: WebServerConfig, logger: Logger) throws -> WebSecurity? {
        guard let path = web.configFile else { return nil }
        do {
            return try WebSecurity(path: path, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("\(error.description)\n".utf8))
            throw ExitCode(2)
        }
    }

    func logger(_ label: String) -> Logger {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: label)
        logger.logLevel = logLevel
        return logger
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check-config", abstract: "Validate the config; print every problem and exit 2 if any.")
    @OptionGroup var options: ConfigOption
    @OptionGroup var sharding: ShardOption
    @Option(name: .long, help: ArgumentHelp("Print which sources each of N shards would run (with their resources at the last sync, from storage.path when it exists) and which would move.",
                                            valueName: "N"))
    var shardPlan: Int?

    func run() async throws {
        var config = try options.load()
        try sharding.apply(to: &config)
        if let count = shardPlan {
            guard (1...Shard.maximumCount).contains(count) else { throw ValidationError("--shard-plan: N must be between 1 and \(Shard.maximumCount), got \(count)") }
            if count > 1, let pinned = config.sources.first(where: { ($0.shard ?? 0) >= count }), let pin = pinned.shard {
                throw ValidationError("--shard-plan: source \"\(pinned.name)\" is pinned to shard \(pin), past N = \(count)")
            }
            print(ShardPlan(config, count: count, resources: try await Self.resourceCounts(config)).text)
            return
        }
        if let web = try options.loadWebSecurity(config.web, logger: Logger(label: "zen-exporter.check-config")) {
            print("\(web.path): OK (\(web.servesTLS ? "TLS" : "plain HTTP"))")
        }
        print("\(options.config): OK (\(config.sources.count) source(s): \(config.sources.map { "\($0.name) [\($0.type)]" }.joined(separator: ", ")))")
        // Previews the split before the shards are started: `check-config --shard 1/3`.
        if config.shard.count > 1 {
            print("shard \(config.shard) owns: \(config.shardSourceNames.joined(separator: ", "))")
        }
    }
}

extension CheckConfig {
    /// Each source's resources at its last good sync, read from the database when it exists
    /// (never created here).
    static func resourceCounts(_ config: ExporterConfig) async throws -> [String: Int] {
        guard FileManager.default.fileExists(atPath: config.storage.path) else { return [:] }
        let store = try Store(path: config.storage.path)
        defer { try? store.close() }
        var counts: [String: Int] = [:]
        for name in config.sources.map(\.name) + [ManualItemsSource.sourceName] {
            if let snapshot = try await store.latestSnapshot(source: name) { counts[name] = snapshot.resources.count }
        }
        return counts
    }
}

struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync", abstract: "Sync every source once into the database and exit (1 if any source failed).")
    @OptionGroup var options: ConfigOption
    @OptionGroup var sharding: ShardOption
    @Flag(name: .long, help: "Sync once and exit (the only mode of this command).")
    var once = false
    @Option(name: .long, help: "Pretend it is this ISO 8601 time (replaying a day of hourly syncs, e.g. in benchmarks).")
    var at: String?

    func run() async throws {
        var config = try options.load()
        try sharding.apply(to: &config)
        let logger = options.logger("zen-exporter.sync")
        ShardOption.logOwnership(config, logger: logger)
        let store = try Store(path: config.storage.path, logger: logger)
        defer { try? store.close() }
        var engine = SyncEngine(config: config, store: store, logger: logger)
        if let instant = try at.map(AtOption.instant) { engine.clock = { instant } }
        await engine.restore(evaluate: false)
        let failed = await engine.syncAllOnce()
        for status in await engine.estate.all {
            print("\(status.name): \(status.up == true ? "ok" : "FAILED: \(status.lastError ?? "")"), \(status.resources.count) resources")
        }
        if !failed.isEmpty { throw ExitCode(1) }
    }
}

struct Render: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sync once in memory, print the exposition and exit; the database is not touched.")
    @OptionGroup var options: ConfigOption
    @OptionGroup var sharding: ShardOption
    @Option(name: .long, help: "Pretend it is this ISO 8601 time (reproducible output, e.g. for golden files).")
    var at: String?

    func run() async throws {
        var config = try options.load()
        try sharding.apply(to: &config)
        let instant = try at.map(AtOption.instant) ?? Date()
        let store = try Store()
        var engine = SyncEngine(config: config, store: store, logger: options.logger("zen-exporter.render"))
        engine.clock = { [instant] in instant }
        let failed = await engine.syncAllOnce()
        FileHandle.standardOutput.write(Data(engine.estate.exposition.rendered.body.readableBytesView))
        if !failed.isEmpty { throw ExitCode(1) }
    }
}

/// Times the renderer on synthetic resources, for `scripts/bench` to set beside Python's
/// prometheus_client and Go's client_golang rendering the same series. Not for operators.
struct BenchRender: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-render", abstract: "Time rendering N per-resource series (benchmarks).",
                                                    shouldDisplay: false)
    @Option(name: .long, help: "Resources to render (each is one resource_cost_per_hour series).")
    var resources = 100_000
    @Option(name: .long, help: "Runs; the best is printed.")
    var runs = 5

    func run() async throws {
        let regions = ["eu-west-1", "us-east-1", "eu-central-1"]
        let synthetic: [Resource] = (0..<resources).map { index in
            let id = "i-\(String(format: "%08d", index))"
            let rate = Rate(Money(Decimal(index % 100_000) / 100, .rub), per: .daily)
            return Resource(provider: "aws", id: id, name: "web node \(index)", resourceType: "virtual machine",
                            service: "Amazon Elastic Compute Cloud", category: .compute, region: regions[index % 3],
                            account: "acct-\(index % 20)", status: ResourceStatus(provider: "ACTIVE"), flavor: "", tags: [:],
                            rate: rate, isZombie: false, isOrphan: false, folded: [])
        }
        let dimensions = (0..<resources).map { ["tenant": "t\($0 % 200)", "environment": ["prod", "staging", "dev"][$0 % 3]] }
        let renderer = EstateRenderer(metrics: MetricsConfig(), reporting: ReportingConfig(), build: .current)
        var best = Double.infinity, bestDeflate = Double.infinity
        var bytes = 0
        for _ in 0..<max(1, runs) {
            // The text the peers produce: resource_cost_per_hour for every resource (its
            // resource_info sibling is rendered too, as in a sync, and not counted in bytes).
            let start = ContinuousClock.now
            let fragments = renderer.fragments(source: "aws", resources: synthetic, dimensions: dimensions, utilization: [], deflate: .never)
            var writer = ExpositionWriter(namespace: "infrazen", capacity: 1024)
            writer.write(MetricCatalog.resourceCostPerHour, fragments: [fragments.cost])
            best = min(best, (ContinuousClock.now - start).seconds)
            bytes = writer.allParts.reduce(0) { $0 + $1.bytes.readableBytes }
            // What a sync adds: deflating both once for gzip scrapes.
            let deflateStart = ContinuousClock.now
            _ = DeflatedPiece(fragments.cost.bytes, level: 1)
            _ = DeflatedPiece(fragments.info.bytes, level: 1)
            bestDeflate = min(bestDeflate, (ContinuousClock.now - deflateStart).seconds)
        }
        print("zen_exporter_render_seconds=\(String(format: "%.4f", best))")
        print("zen_exporter_deflate_seconds=\(String(format: "%.4f", bestDeflate))")
        print("bytes=\(bytes)")
    }
}

/// `--at`: the instant a one-shot command takes as now.
enum AtOption {
    static func instant(_ at: String) throws -> Date {
        guard let instant = ISO8601Dates().date(at) else {
            throw ValidationError("--at: \"\(at)\" is not an ISO 8601 time such as 2026-11-20T12:00:00Z")
        }
        return instant
    }
}
