import Foundation

/// Which shard runs each source, for `count` shards: its `shard: K` pin, else jump consistent
/// hashing with a load band ("banded jump"). Shards are added one at a time, 1 to `count - 1`;
/// at each step the new shard takes the sources jump hashing gives it, as long as every shard
/// stays within a quarter of its even share, and otherwise the fewest or most sources that keep
/// it so, in a fixed order of preference. So:
/// - the sources of N + 1 shards are those of N shards, but for the ones the new shard takes:
///   growing by one shard moves only sources onto the new shard, at most its share plus a quarter;
/// - each shard holds within a quarter of its even share (or ⌊n/N⌋…⌈n/N⌉ when a quarter is less
///   than one source), however the names hash; pins count towards their shard's load;
/// - where jump hashing alone is already within the band at every step (most estates), the
///   assignment is jump hashing's.
/// The price: a shard's sources depend on the whole list, so adding or removing a source can
/// move a few others (docs/scaling.md). Every shard reads the same config and computes the same
/// assignment.
struct ShardAssignment: Sendable {
    let count: Int
    private let shards: [String: Int]

    /// `sources`: every source's name and pin; a repeated name counts once, with its first pin.
    init(_ sources: [(name: String, pinned: Int?)], count: Int) {
        self.count = count
        var seen: Set<String> = []
        let unique = sources.filter { seen.insert($0.name).inserted }
        let shard = Self.assign(names: unique.map(\.name), pins: unique.map { pin in pin.pinned.flatMap { (0..<count).contains($0) ? $0 : nil } },
                                count: count)
        shards = Dictionary(uniqueKeysWithValues: zip(unique.map(\.name), shard))
    }

    /// The shard of a listed source; a name not in the list (a budget naming no source) gets jump
    /// hashing's, or its pin.
    func shard(of name: String, pinned: Int? = nil) -> Int {
        shards[name] ?? Shard.shardIndex(of: name, count: count, pinned: pinned)
    }

    /// The loads of the band for `m` sources over `c` shards: within a quarter of m/c, widened to
    /// ⌊m/c⌋…⌈m/c⌉ when that range holds no whole number (10 sources on 8 shards).
    static func band(_ m: Int, _ c: Int) -> ClosedRange<Int> {
        min((3 * m + 4 * c - 1) / (4 * c), m / c)...max(5 * m / (4 * c), (m + c - 1) / c)
    }

    private static func assign(names: [String], pins: [Int?], count: Int) -> [Int] {
        let keys = names.map { Shard.mix64(Shard.fnv1a64($0)) }
        let free = names.indices.filter { pins[$0] == nil }
        // -1: not placed yet (a source pinned to a shard still to be added).
        var shard = names.indices.map { pins[$0].map { $0 == 0 ? 0 : -1 } ?? 0 }
        for k in 1..<max(count, 1) {
            for index in names.indices where pins[index] == k { shard[index] = k }
            let band = band(shard.count { $0 >= 0 }, k + 1)
            var load = loads(shard, k + 1)
            // Preference of each free source for shard k: those jump hashing sends there first,
            // then by a hash of the name and step, then by the name's bytes (names are distinct).
            let step = free.map { index in
                (natural: Shard.jump(key: keys[index], buckets: k + 1) == k, hash: Shard.mix64(keys[index] &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15))
            }
            var stepOf = [Int](repeating: -1, count: names.count)
            for (position, index) in free.enumerated() { stepOf[index] = position }
            func precedes(_ a: Int, _ b: Int) -> Bool {
                let (x, y) = (step[stepOf[a]], step[stepOf[b]])
                if x.natural != y.natural { return x.natural }
                if x.hash != y.hash { return x.hash < y.hash }
                return names[a].utf8.lexicographicallyPrecedes(names[b].utf8)
            }
            let candidates = (0..<k).map { from in free.filter { shard[$0] == from }.sorted(by: precedes) }
            // Per old shard: how many of its candidates to give, between what keeps it in the band.
            var take: [Int] = [], least: [Int] = [], most: [Int] = []
            for from in 0..<k {
                let available = candidates[from].count
                let atLeast = min(available, max(0, load[from] - band.upperBound))
                let atMost = max(atLeast, min(available, load[from] - band.lowerBound))
                let natural = candidates[from].count { step[stepOf[$0]].natural }
                take.append(min(max(natural, atLeast), atMost))
                least.append(atLeast)
                most.append(atMost)
            }
            var total = load[k] + take.reduce(0, +)
            while total > band.upperBound,
                  let from = (0..<k).filter({ take[$0] > least[$0] }).max(by: { precedes(candidates[$0][take[$0] - 1], candidates[$1][take[$1] - 1]) }) {
                take[from] -= 1
                total -= 1
            }
            while total < band.lowerBound,
                  let from = (0..<k).filter({ take[$0] < most[$0] }).min(by: { precedes(candidates[$0][take[$0]], candidates[$1][take[$1]]) }) {
                take[from] += 1
                total += 1
            }
            for from in 0..<k { for index in candidates[from].prefix(take[from]) { shard[index] = k } }
            // What the clamps cannot reach (pins; many shards of few sources): from the most
            // loaded shard to the least, the free source with the largest hash, one at a time.
            load = loads(shard, k + 1)
            while let big = load.indices.max(by: { (load[$0], $1) < (load[$1], $0) }),
                  let small = load.indices.min(by: { (load[$0], $0) < (load[$1], $1) }),
                  !(load[big] <= band.upperBound && load[small] >= band.lowerBound), load[big] - load[small] >= 2,
                  let moved = free.filter({ shard[$0] == big }).max(by: { a, b in
                      let (x, y) = (step[stepOf[a]].hash, step[stepOf[b]].hash)
                      return x != y ? x < y : names[a].utf8.lexicographicallyPrecedes(names[b].utf8)
                  }) {
                shard[moved] = small
                load[big] -= 1
                load[small] += 1
            }
        }
        return shard
    }

    private static func loads(_ shard: [Int], _ count: Int) -> [Int] {
        var load = [Int](repeating: 0, count: count)
        for index in shard where index >= 0 { load[index] += 1 }
        return load
    }
}
