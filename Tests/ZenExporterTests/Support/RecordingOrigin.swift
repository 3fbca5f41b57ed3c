import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A raw HTTP/1.1 origin on 127.0.0.1 that keeps every byte any client sent it, and answers
/// each request (once its headers and `Content-Length` body are in) with `answer`, closing the
/// connection. The bytes are what a redirect test asserts on: nothing a client sent escapes them.
final class RecordingOrigin: Sendable {
    /// Every byte received, on any connection.
    final class Received: Sendable {
        let bytes = Mutex<[UInt8]>([])
    }

    let received = Received()
    private let channel: any Channel
    let port: Int

    /// `answer` gets the request's head (request line and headers) and returns the whole response.
    init(answer: @escaping @Sendable (String) -> String) throws {
        let received = self.received
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(received: received, answer: answer))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        port = channel.localAddress?.port ?? 0
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var bytes: [UInt8] { received.bytes.withLock { $0 } }
    var text: String { String(decoding: bytes, as: UTF8.self) }

    func stop() async { try? await channel.close() }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let received: Received
        let answer: @Sendable (String) -> String
        var pending: [UInt8] = []
        var answered = false

        init(received: Received, answer: @escaping @Sendable (String) -> String) {
            self.received = received
            self.answer = answer
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = Array(buffer: unwrapInboundIn(data))
            received.bytes.withLock { $0 += bytes }
            pending += bytes
            guard !answered, let headEnd = pending.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
            let head = String(decoding: pending[..<headEnd.lowerBound], as: UTF8.self)
            let length = head.split(separator: "\r\n").compactMap { line -> Int? in
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                return Int(parts[1].trimmingCharacters(in: .whitespaces))
            }.first ?? 0
            guard pending.count - headEnd.upperBound >= length else { return }
            answered = true
            let response = answer(head)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in bound.value.close(promise: nil) }
        }
    }
}
