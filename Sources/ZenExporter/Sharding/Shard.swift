import Foundation

/// One of `count` exporters that split the configured sources between them (`--shard INDEX/COUNT`
/// or `shard:` in the config). Each source belongs to exactly one shard: the one its `shard: K`
/// pins it to, else the one `ShardAssignment` picks from a consistent hash of its name, so every
/// shard computes the same assignment without talking to the others, and going from N to N + 1
/// shards moves about 1/(N + 1) of the sources.
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

    /// The shard jump hashing alone gives a source: its pin when it has one within the count, else
    /// jump consistent hashing (Lamping and Veach) of its name's FNV-1a 64-bit hash, mixed
    /// (`mix64`) so that names that differ in one byte land apart. `ShardAssignment` starts
    /// from it and keeps every shard's load within a band.
    static func shardIndex(of name: String, count: Int, pinned: Int? = nil) -> Int {
        if let pinned, (0..<count).contains(pinned) { return pinned }
        return jump(key: mix64(fnv1a64(name)), buckets: count)
    }

    /// Jump consistent hash: the bucket in 0..<buckets of a 64-bit key, such that adding a
    /// bucket moves only the keys that land in the new one (Lamping and Veach, 2014).
    static func jump(key: UInt64, buckets: Int) -> Int {
        var key = key
        var bucket: Int64 = -1, next: Int64 = 0
        while next < Int64(buckets) {
            bucket = next
            key = key &* 2_862_933_555_777_941_757 &+ 1
            next = Int64(Double(bucket + 1) * (Double(1 << 31) / Double((key >> 33) + 1)))
        }
        return Int(bucket)
    }

    /// SplitMix64's finaliser: every output bit depends on every input bit. FNV-1a alone
    /// leaves its low bits to the last bytes of the name.
    static func mix64(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
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
