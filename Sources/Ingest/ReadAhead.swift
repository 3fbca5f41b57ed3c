import Foundation

/// A source's chunks made on a thread of their own, up to `depth` ahead of the reader: a
/// gzip export inflates on one core while the other parses, where the two took turns on one
/// (`gzipFile`; a plain FOCUS export is split in halves instead, `FocusExport.read`). The chunks, the end and
/// an error come in the source's order; the error after the chunks made before it.
///
/// The thread stops when the source ends or fails, or soon after the reader is gone (a
/// cancelled sync, a file given up on): it holds only the queue, never the reader.
package struct ReadAheadChunks: ByteChunks {
    private let queue: Queue
    private let stopper: Stopper

    package init<Source: ByteChunks>(_ source: Source, depth: Int = 4, name: String = "zen-exporter.read-ahead") {
        let queue = Queue(depth: max(1, depth))
        self.queue = queue
        stopper = Stopper(queue)
        let producer = Producer(source)
        let thread = Thread { producer.run(into: queue) }
        thread.name = name
        thread.start()
    }

    package mutating func next() throws -> [UInt8]? { try queue.take() }

    /// A gzip file's inflated chunks, inflated ahead of the reader: what every reader of a
    /// `.csv.gz` export (FOCUS, Yandex Cloud) reads through.
    package static func gzipFile(path: String, name: String) throws -> ReadAheadChunks {
        ReadAheadChunks(GzipChunks(try FileChunks(path: path), file: name))
    }

    /// The chunks made and not yet taken, and the end once it came.
    private final class Queue: @unchecked Sendable {
        // Every field is read and written with `condition` locked.
        private let condition = NSCondition()
        private var chunks: [[UInt8]] = []
        private var end: Result<Void, any Error>?
        private var stopped = false
        let depth: Int

        init(depth: Int) { self.depth = depth }

        /// Waits for room; false once the reader is gone.
        func waitForRoom() -> Bool {
            condition.lock()
            defer { condition.unlock() }
            while chunks.count >= depth && !stopped { condition.wait() }
            return !stopped
        }

        func put(_ made: Result<[UInt8]?, any Error>) {
            condition.lock()
            defer { condition.unlock() }
            switch made {
            case let .success(chunk?): chunks.append(chunk)
            case .success(nil): end = .success(())
            case let .failure(error): end = .failure(error)
            }
            condition.broadcast()
        }

        func take() throws -> [UInt8]? {
            condition.lock()
            defer { condition.unlock() }
            while chunks.isEmpty && end == nil { condition.wait() }
            if !chunks.isEmpty {
                condition.broadcast()
                return chunks.removeFirst()
            }
            try end?.get()
            return nil
        }

        func stop() {
            condition.lock()
            stopped = true
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Stops the thread when the last copy of the reader's chunks goes.
    private final class Stopper: Sendable {
        let queue: Queue
        init(_ queue: Queue) { self.queue = queue }
        deinit { queue.stop() }
    }

    /// The source, used by the thread alone once it started.
    private final class Producer: @unchecked Sendable {
        private var source: any ByteChunks
        init(_ source: any ByteChunks) { self.source = source }

        func run(into queue: Queue) {
            while queue.waitForRoom() {
                let made = Result { try source.next() }
                queue.put(made)
                if case .success(.some) = made { continue }
                return
            }
        }
    }
}
