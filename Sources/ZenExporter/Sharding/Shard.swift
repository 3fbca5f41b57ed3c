import Foundation

/// One of `count` exporters that split the configured sources between them (`--shard INDEX/COUNT`
/// or `shard:` in the config). Each source belongs to exactly one shard, chosen by a stable hash
/// of its name, so every shard computes the same assignment without talking to the others and a
/// source keeps its shard across restarts and versions.
struct Shard: Sendable, Equatable, CustomStringConvertible {
    /// The largest `count` accepted: past it a typo (`0/20000`) is likelier than a real estate.
    static let maximumCount = 1024
    /// No sharding: one exporter owns every source.
    static let whole = Shard(uncheckedIndex: 0, count: 1)

    let index: Int
    let count: Int

    enum Problem: Error, Equatable, CustomStringConvertible {
        case malformed(String)
        case countOutOfRange(Int)
        case indexOutOfRange(index: Int, count: Int)

        var description: String {
            switch self {
            case let .malformed(text): "expected INDEX/COUNT such as 0/2, got \"\(text)\""
            case let .countOutOfRange(count): "COUNT must be between 1 and \(Shard.maximumCount), got \(count)"
            case let .indexOutOfRange(index, count): "INDEX must be between 0 and COUNT-1 (0…\(count - 1)), got \(index)"
            }
        }
    }

    init(index: Int, count: Int) throws(Problem) {
        guard (1...Self.maximumCount).contains(count) else { throw .countOutOfRange(count) }
        guard (0..<count).contains(index) else { throw .indexOutOfRange(index: index, count: count) }
        self.init(uncheckedIndex: index, count: count)
    }

    private init(uncheckedIndex index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// `INDEX/COUNT`, as the flag and the scalar form of the key write it.
    init(parsing text: String) throws(Problem) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else { throw .malformed(text) }
        try self.init(index: index, count: count)
    }

    var description: String { "\(index)/\(count)" }

    /// Shard 0 also evaluates and serves the figures that combine sources (tenants, forecasts,
    /// anomalies, capacity, usage, health, FX): exactly one shard must, or a sum over shards
    /// would count them once per shard.
    var ownsEstateFigures: Bool { index == 0 }

    /// Whether the source (or the `items` list, whose source name is `items`) is this shard's.
    func owns(sourceNamed name: String) -> Bool {
        Self.shardIndex(of: name, count: count) == index
    }

    /// The shard of a source name: FNV-1a 64-bit of its UTF-8 bytes, modulo the shard count.
    static func shardIndex(of name: String, count: Int) -> Int {
        Int(fnv1a64(name) % UInt64(count))
    }

    /// FNV-1a, 64-bit (offset basis 0xcbf29ce484222325, prime 0x100000001b3): tiny, stable
    /// across platforms and Swift versions (unlike `Hasher`, which is seeded per process).
    static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
