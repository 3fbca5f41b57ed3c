import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// A generated Selectel account on 127.0.0.1, for scale: `servers` ACTIVE servers in ru-1,
/// each with a 20 GB volume, billed every hour since `billedSince` in the documented
/// consumption shape (server `i` costs 100 + i % 7 kopecks an hour, its disk 10, under the
/// server's `parent_id`). Nova and Cinder are paged; Gnocchi answers per server and counts
/// its calls. The statistics API honours `start`/`end` and `period_group_type` (hour or day),
/// and streams its answers without a Content-Length unless `contentLength` is set.
final class SelectelEstateFake: Sendable {
    struct Options: Sendable {
        var servers = 3000
        var pageSize = 1000
        /// Moscow midnight from which every object is billed.
        var billedSince: Date
        /// The last complete hour billed ends here (the current hour is not billed yet).
        var now: Date
        var contentLength = false
    }

    /// One statistics answer: what was asked and how many bytes the body had.
    struct Served: Sendable {
        var grouping: String
        var start: String
        var end: String
        var bytes: Int
    }

    static let project = "7f1c2a9be0d34c21a8b6f0e2d4c5b6a7"
    static let moscow = TimeZone(identifier: "Europe/Moscow") ?? .current
    static func serverID(_ i: Int) -> String { "5b1e2c3d-0000-4000-8000-" + String(format: "%012d", i) }
    static func diskID(_ i: Int) -> String { "0d9c8b7a-0000-4000-8000-" + String(format: "%012d", i) }
    static func serverKopecks(_ i: Int) -> Int { 100 + i % 7 }
    static let diskKopecks = 10
    /// Gnocchi's mean CPU percent for server `i`, and its memory in MB of 4096.
    static func cpuPercent(_ i: Int) -> Double { Double(i % 50 + 1) }
    static func memoryMB(_ i: Int) -> Double { Double(512 * (i % 8 + 1)) }

    let options: Options
    let server: LoopbackServer
    let served = Mutex<[Served]>([])
    let gnocchiCalls = Mutex(0)
    /// Servers whose Gnocchi requests answer 500.
    let failingGnocchi = Mutex<Set<Int>>([])
    /// How long each Gnocchi request takes.
    let gnocchiDelay = Mutex(Duration.zero)
    private let gnocchiInFlight = Mutex((now: 0, max: 0))
    /// Consumption bodies still being written.
    private let writing = Mutex(0)
    /// Every server's two rows for one hour, with `PERIOD_PLACEHOLDER_` (19 bytes) where the
    /// hour goes; the offsets of those placeholders.
    private let hourBlock: [UInt8]
    private let periodOffsets: [Int]

    init(_ options: Options) throws {
        self.options = options
        server = try LoopbackServer()
        var block: [UInt8] = []
        var offsets: [Int] = []
        for i in 0..<options.servers {
            for row in Self.rows(server: i, period: "PERIOD_PLACEHOLDER_", hours: 1) {
                if !block.isEmpty { block.append(UInt8(ascii: ",")) }
                let placeholder = row.range(of: "PERIOD_PLACEHOLDER_")!
                offsets.append(block.count + row.utf8.distance(from: row.startIndex, to: placeholder.lowerBound))
                block += Array(row.utf8)
            }
        }
        hourBlock = block
        periodOffsets = offsets
    }

    var baseURL: String { server.baseURL }
    var gnocchiMaxInFlight: Int { gnocchiInFlight.withLock { $0.max } }

    func start() async throws { try await server.start(router()) }
    /// Stops once every consumption body is written or abandoned: Hummingbird traps when a
    /// shutdown cancels a response writer that is still in use.
    func stop() async {
        for _ in 0..<200 where writing.withLock({ $0 }) > 0 { try? await Task.sleep(for: .milliseconds(25)) }
        await server.stop()
    }

    /// The consumption rows of server `i` and its disk for one `period` spanning `hours` hours.
    static func rows(server i: Int, period: String, hours: Int) -> [String] {
        let id = serverID(i), disk = diskID(i)
        let common = #""account_id":"200001","balance":null,"provider_key":"vpc","project":{"id":"\#(project)","name":"prod"}"#
        let provision = #""period":"\#(period)","provision_start":"2026-11-01T00:00:00","provision_end":"2026-11-30T23:59:59""#
        return [
            #"{\#(common),"object":{"id":"\#(id)","name":"srv-\#(i)","parent_id":"","parent_name":"","type":"cloud_vm","type_name":"Server"},"#
                + #""metric":{"id":"compute_cores","name":"vCPU","locale":"en","quantity":2,"region":"ru-1a","unit":"item"},\#(provision),"value":\#(serverKopecks(i) * hours)}"#,
            #"{\#(common),"object":{"id":"\#(disk)","name":"disk-for-srv-\#(i)-#1","parent_id":"\#(id)","parent_name":"srv-\#(i)","type":"volume_gigabytes_universal","type_name":"Universal disk"},"#
                + #""metric":{"id":"volume_gigabytes_universal","name":"Universal SSD","locale":"en","quantity":20,"region":"ru-1a","unit":"GB*H"},\#(provision),"value":\#(diskKopecks * hours)}"#,
        ]
    }

    // MARK: Consumption

    static func naive(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = moscow
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return formatter.string(from: date)
    }

    static func date(_ naive: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = moscow
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return formatter.date(from: naive)
    }

    /// Hours billed: from `billedSince` to the last complete hour before `now`.
    var billedHours: [Date] {
        stride(from: options.billedSince.timeIntervalSince1970, to: options.now.timeIntervalSince1970 - 3599, by: 3600)
            .map { Date(timeIntervalSince1970: $0) }
    }

    /// The body's pieces (so it can be streamed) for `start…end` grouped by `grouping`.
    private func consumption(_ grouping: String, from start: Date, to end: Date) -> [ByteBuffer] {
        var pieces = [ByteBuffer(string: #"{"status":"success","data":["#)]
        var first = true
        if grouping == "hour" {
            for hour in billedHours where start <= hour && hour <= end {
                var piece = first ? hourBlock : [UInt8(ascii: ",")] + hourBlock
                let shift = first ? 0 : 1
                first = false
                let period = Array(Self.naive(hour).utf8)
                piece.withUnsafeMutableBufferPointer { bytes in
                    for offset in periodOffsets { for k in 0..<19 { bytes[shift + offset + k] = period[k] } }
                }
                pieces.append(ByteBuffer(bytes: piece))
            }
        } else {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = Self.moscow
            let hours = Dictionary(grouping: billedHours, by: { calendar.startOfDay(for: $0) }).mapValues(\.count)
            for (day, count) in hours.sorted(by: { $0.key < $1.key }) where start <= day && day <= end {
                let period = Self.naive(day)
                var text = ""
                for i in 0..<options.servers {
                    for row in Self.rows(server: i, period: period, hours: count) {
                        text += first ? row : "," + row
                        first = false
                    }
                }
                pieces.append(ByteBuffer(string: text))
            }
        }
        pieces.append(ByteBuffer(string: "]}"))
        return pieces
    }

    // MARK: OpenStack

    private static func serverJSON(_ i: Int) -> String {
        #"{"id":"\#(serverID(i))","name":"srv-\#(i)","status":"ACTIVE","tenant_id":"\#(project)","created":"2026-11-13T09:15:02Z","#
            + #""OS-EXT-AZ:availability_zone":"ru-1a","flavor":{"original_name":"SL1.2-4096","vcpus":2,"ram":4096,"disk":0},"image":"","#
            + #""os-extended-volumes:volumes_attached":[{"id":"\#(diskID(i))"}],"metadata":{"env":"prod"}}"#
    }

    private static func volumeJSON(_ i: Int) -> String {
        #"{"id":"\#(diskID(i))","name":"disk-for-srv-\#(i)-#1","size":20,"status":"in-use","volume_type":"universal.ru-1a","bootable":"true","#
            + #""availability_zone":"ru-1a","created_at":"2026-11-13T09:14:40.000000","attachments":[{"server_id":"\#(serverID(i))","device":"/dev/sda"}],"metadata":{}}"#
    }

    /// One page after `marker` (an ID made by `id`), and the link to the next one.
    private func page(_ key: String, marker: String?, id: (Int) -> String, json: (Int) -> String, url: String) -> String {
        let first = marker.flatMap { marker in Int(marker.suffix(12)).map { $0 + 1 } } ?? 0
        let last = min(options.servers, first + options.pageSize)
        let items = (first..<last).map(json).joined(separator: ",")
        let next = last < options.servers ? #","\#(key)_links":[{"rel":"next","href":"\#(url)?marker=\#(id(last - 1))"}]"# : ""
        return #"{"\#(key)":[\#(items)]\#(next)}"#
    }

    private func json(_ text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        let base = baseURL
        router.post("/identity/v3/auth/tokens") { _, _ -> Response in
            var headers = HTTPFields()
            headers[HTTPFields.Element.Name("X-Subject-Token")!] = "token-1"
            let endpoints = [("compute", "compute/v2.1"), ("volumev3", "volume/v3/\(Self.project)"), ("network", "network"), ("metric", "metric")]
                .map { #"{"type":"\#($0.0)","endpoints":[{"interface":"public","region_id":"ru-1","url":"\#(base)/ru-1/\#($0.1)"}]}"# }
            return self.json(#"{"token":{"expires_at":"2099-01-01T00:00:00.000000Z","catalog":[\#(endpoints.joined(separator: ","))]}}"#,
                             status: .created, headers: headers)
        }
        router.get("/v3/balances") { _, _ -> Response in
            self.json(#"{"status":"success","data":{"settings":{"currency":"rub"},"billings":[{"final_sum":100000000}]}}"#)
        }
        router.get("/v1/cloud_billing/statistic/consumption") { request, _ -> Response in
            let query = request.uri.queryParameters
            let grouping = query.get("period_group_type") ?? ""
            let (start, end) = (query.get("start") ?? "", query.get("end") ?? "")
            guard let from = Self.date(start), let to = Self.date(end) else { return self.json("{}", status: .badRequest) }
            let pieces = self.consumption(grouping, from: from, to: to)
            let bytes = pieces.reduce(0) { $0 + $1.readableBytes }
            self.served.withLock { $0.append(Served(grouping: grouping, start: start, end: end, bytes: bytes)) }
            let body = ResponseBody(contentLength: self.options.contentLength ? bytes : nil) { writer in
                // A client that stops reading at its size limit closes the connection mid-body:
                // finish the writer all the same (an unfinished one traps when it is freed).
                self.writing.withLock { $0 += 1 }
                defer { self.writing.withLock { $0 -= 1 } }
                do {
                    for piece in pieces { try await writer.write(piece) }
                } catch {}
                try? await writer.finish(nil)
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: body)
        }
        router.get("/ru-1/compute/v2.1/servers/detail") { request, _ -> Response in
            self.json(self.page("servers", marker: request.uri.queryParameters.get("marker"), id: Self.serverID, json: Self.serverJSON,
                                url: "\(base)/ru-1/compute/v2.1/servers/detail"))
        }
        router.get("/ru-1/volume/v3/:project/volumes/detail") { request, _ -> Response in
            self.json(self.page("volumes", marker: request.uri.queryParameters.get("marker"), id: Self.diskID, json: Self.volumeJSON,
                                url: "\(base)/ru-1/volume/v3/\(Self.project)/volumes/detail"))
        }
        router.get("/ru-1/network/v2.0/ports") { _, _ -> Response in self.json(#"{"ports":[]}"#) }
        router.post("/ru-1/metric/v1/aggregates") { request, _ -> Response in
            self.gnocchiCalls.withLock { $0 += 1 }
            self.gnocchiInFlight.withLock { $0.now += 1; $0.max = max($0.max, $0.now) }
            defer { self.gnocchiInFlight.withLock { $0.now -= 1 } }
            let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
            let delay = self.gnocchiDelay.withLock { $0 }
            if delay > .zero { try await Task.sleep(for: delay) }
            guard let range = body.range(of: "id=") else { return self.json("{}", status: .badRequest) }
            let i = Int(body[range.upperBound...].prefix(36).suffix(12)) ?? -1
            if self.failingGnocchi.withLock({ $0.contains(i) }) { return self.json(#"{"code":500}"#, status: .internalServerError) }
            // Two points whose mean is the server's value.
            let value = body.contains("memory.usage") ? Self.memoryMB(i) : Self.cpuPercent(i)
            return self.json(#"{"measures":{"aggregated":[["2026-11-20T08:50:00+00:00",300.0,\#(value - 1)],["2026-11-20T08:55:00+00:00",300.0,\#(value + 1)]]}}"#)
        }
        return router
    }
}
