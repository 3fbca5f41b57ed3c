import ArgumentParser
import Logging

/// `--shard INDEX/COUNT`: which of COUNT exporters this is; overrides `shard:` in the config.
struct ShardOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Run only the sources of shard INDEX of COUNT (e.g. 0/2); overrides `shard` in the config.",
                                             valueName: "INDEX/COUNT"))
    var shard: String?

    /// The config with the flag's shard in place of the key's.
    func apply(to config: inout ExporterConfig) throws {
        guard let shard else { return }
        do {
            config.shard = try Shard(parsing: shard)
        } catch {
            throw ValidationError("--shard: \(error)")
        }
        // Unsharded (COUNT 1), every source runs here and a pin means nothing.
        if config.shard.count > 1, let pinned = config.sources.first(where: { ($0.shard ?? 0) >= config.shard.count }), let pin = pinned.shard {
            throw ValidationError("--shard: source \"\(pinned.name)\" is pinned to shard \(pin) (its shard key), but COUNT is \(config.shard.count)")
        }
    }

    /// Says at start which sources this shard owns, so that an operator can see the split.
    static func logOwnership(_ config: ExporterConfig, logger: Logger) {
        guard config.shard.count > 1 else { return }
        if config.shardSourceNames.isEmpty {
            // Not an error: a COUNT chosen ahead of the sources, or a small estate over many shards.
            logger.warning("this shard owns no source: it serves only its own health until sources hash to it",
                           metadata: ["shard": "\(config.shard)"])
        }
        logger.info("shard owns these sources", metadata: [
            "shard": "\(config.shard)", "sources": "\(config.shardSourceNames.joined(separator: ","))",
            "estate_figures": "\(config.shard.ownsEstateFigures)",
        ])
        if config.shard.ownsEstateFigures {
            // A budget over several sources that sees half of them is under-reported, and its alert late: said by name.
            let partial = config.budgets.filter { $0.scope["source"] == nil }.map(\.name)
            logger.notice("this shard serves the figures that combine sources (budgets without a source scope, tenants, forecasts, anomalies, capacity, usage, health) over the sources it owns only (docs/scaling.md)",
                          metadata: partial.isEmpty ? nil : ["budgets_over_this_shard_only": "\(partial.joined(separator: ","))"])
        }
    }
}
