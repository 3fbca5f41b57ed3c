import Foundation
@testable import Ingest
import Synchronization
import Testing
@testable import ZenExporter

/// A source of numbered one-byte chunks that counts what it was asked for and can fail.
final class CountingChunks: Sendable {
    let asked = Mutex(0)
    let released = Atomic<Bool>(false)
    let failAfter: Int?
    let total: Int

    init(total: Int, failAfter: Int? = nil) {
        self.total = total
        self.failAfter = failAfter
    }

    struct Failure: Error, Equatable { var after: Int }

    /// The chunks as a `ByteChunks` value; the source is released when the last copy goes.
    var chunks: Chunks { Chunks(counter: self) }

    struct Chunks: ByteChunks {
        let counter: CountingChunks
        let token: Token
        init(counter: CountingChunks) {
            self.counter = counter
            token = Token(counter)
        }

        mutating func next() throws -> [UInt8]? {
            let number = counter.asked.withLock { asked in
                defer { asked += 1 }
                return asked
            }
            if let after = counter.failAfter, number == after { throw Failure(after: after) }
            return number < counter.total ? [UInt8(truncatingIfNeeded: number)] : nil
        }
    }

    final class Token: Sendable {
        let counter: CountingChunks
        init(_ counter: CountingChunks) { self.counter = counter }
        deinit { counter.released.store(true, ordering: .relaxed) }
    }
}

@Suite("Chunks read ahead on a thread of their own")
struct ReadAheadTests {
    @Test("the chunks come in the source's order, then the end, also when the reader is slower than the source")
    func sameChunksInOrder() throws {
        var chunks = ReadAheadChunks(MemoryChunks(bytes: Array(0..<200).map { UInt8($0) }, size: 7), depth: 3)
        var read: [UInt8] = []
        var count = 0
        while let chunk = try chunks.next() {
            read += chunk
            count += 1
            if count % 5 == 0 { Thread.sleep(forTimeInterval: 0.002) }
        }
        #expect(read == Array(0..<200).map { UInt8($0) })
        #expect(count == 29)  // 28 chunks of 7 bytes and one of 4
        #expect(try chunks.next() == nil)
    }

    @Test("an error comes after the chunks made before it, and again at the next call")
    func errorAfterItsChunks() throws {
        let source = CountingChunks(total: 100, failAfter: 4)
        var chunks = ReadAheadChunks(source.chunks, depth: 2)
        for expected in 0..<4 { #expect(try chunks.next() == [UInt8(expected)]) }
        #expect(throws: CountingChunks.Failure(after: 4)) { try chunks.next() }
        #expect(throws: CountingChunks.Failure(after: 4)) { try chunks.next() }
    }

    @Test("a reader gone early stops the thread: at most `depth` chunks more are made, and the source is released")
    func stopsWhenTheReaderIsGone() throws {
        let source = CountingChunks(total: 1_000_000)
        do {
            var chunks = ReadAheadChunks(source.chunks, depth: 4)
            #expect(try chunks.next() == [0])
        }
        let deadline = Date().addingTimeInterval(5)
        while !source.released.load(ordering: .relaxed) && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        let released = source.released.load(ordering: .relaxed)
        #expect(released)
        // One taken, four queued, and the one made while the queue was full.
        let asked = source.asked.withLock { $0 }
        #expect(asked <= 6)
    }
}
