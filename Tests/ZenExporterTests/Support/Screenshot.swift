import CZlib
import Foundation
import Testing

/// A page rendered by Debian's headless Chromium, as RGB pixels: what a reader would see.
/// The PNG is decoded here (zlib inflate, scanline filters) rather than by the code under test.
struct Screenshot {
    var width: Int
    var height: Int
    /// Row-major RGB triples.
    var pixels: [UInt8]

    /// Screenshots `html` (written to a file of its own) at `width` × `height` CSS pixels.
    static func take(html: String, width: Int = 1000, height: Int = 2400) throws -> Screenshot {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let page = directory.appendingPathComponent("page.html"), png = directory.appendingPathComponent("shot.png")
        try html.write(to: page, atomically: true, encoding: .utf8)
        let result = try runTool("chromium", [
            "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--force-device-scale-factor=1",
            "--user-data-dir=\(directory.appendingPathComponent("profile").path)", "--window-size=\(width),\(height)",
            "--screenshot=\(png.path)", page.absoluteString,
        ])
        let data = try #require(FileManager.default.contents(atPath: png.path), "chromium wrote no screenshot: \(result.output)")
        return try #require(decode(data), "not a PNG chromium would write")
    }

    /// Pixels within `tolerance` of `colour` per channel, by band of `band` rows (top to bottom).
    func count(_ colour: (UInt8, UInt8, UInt8), tolerance: Int = 6) -> Int {
        stride(from: 0, to: pixels.count, by: 3).reduce(0) { total, index in
            abs(Int(pixels[index]) - Int(colour.0)) <= tolerance && abs(Int(pixels[index + 1]) - Int(colour.1)) <= tolerance
                && abs(Int(pixels[index + 2]) - Int(colour.2)) <= tolerance ? total + 1 : total
        }
    }

    /// Rows that hold at least one pixel of `colour`, merged into runs: separate charts are separate runs.
    func runs(of colour: (UInt8, UInt8, UInt8), tolerance: Int = 6) -> [ClosedRange<Int>] {
        var runs: [ClosedRange<Int>] = []
        for row in 0..<height {
            let start = row * width * 3
            let hit = stride(from: start, to: start + width * 3, by: 3).contains { index in
                abs(Int(pixels[index]) - Int(colour.0)) <= tolerance && abs(Int(pixels[index + 1]) - Int(colour.1)) <= tolerance
                    && abs(Int(pixels[index + 2]) - Int(colour.2)) <= tolerance
            }
            guard hit else { continue }
            if let last = runs.last, last.upperBound >= row - 12 { runs[runs.count - 1] = last.lowerBound...row } else { runs.append(row...row) }
        }
        return runs
    }

    /// 8-bit RGB or RGBA, non-interlaced: what Chromium writes.
    static func decode(_ data: Data) -> Screenshot? {
        let bytes = [UInt8](data)
        guard bytes.count > 33, bytes[0..<8] == [137, 80, 78, 71, 13, 10, 26, 10] else { return nil }
        func be32(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
        var offset = 8, width = 0, height = 0, channels = 0
        var compressed: [UInt8] = []
        while offset + 8 <= bytes.count {
            let length = be32(offset), type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let body = offset + 8
            guard body + length <= bytes.count else { return nil }
            switch type {
            case "IHDR":
                width = be32(body)
                height = be32(body + 4)
                guard bytes[body + 8] == 8, bytes[body + 12] == 0 else { return nil }
                channels = bytes[body + 9] == 6 ? 4 : bytes[body + 9] == 2 ? 3 : 0
            case "IDAT":
                compressed += bytes[body..<(body + length)]
            default:
                break
            }
            offset = body + length + 4
        }
        guard width > 0, height > 0, channels > 0 else { return nil }
        let stride = width * channels
        var raw = [UInt8](repeating: 0, count: height * (stride + 1))
        var rawLength = uLongf(raw.count)
        let status = raw.withUnsafeMutableBufferPointer { out in
            compressed.withUnsafeBufferPointer { input in uncompress(out.baseAddress, &rawLength, input.baseAddress, uLong(input.count)) }
        }
        guard status == Z_OK, Int(rawLength) == raw.count else { return nil }
        var previous = [UInt8](repeating: 0, count: stride), pixels: [UInt8] = []
        pixels.reserveCapacity(width * height * 3)
        for row in 0..<height {
            let filter = raw[row * (stride + 1)]
            var line = Array(raw[(row * (stride + 1) + 1)..<((row + 1) * (stride + 1))])
            for index in 0..<stride {
                let left = index >= channels ? Int(line[index - channels]) : 0
                let up = Int(previous[index]), upLeft = index >= channels ? Int(previous[index - channels]) : 0
                let predictor: Int = switch filter {
                case 1: left
                case 2: up
                case 3: (left + up) / 2
                case 4: {
                    let estimate = left + up - upLeft
                    let (a, b, c) = (abs(estimate - left), abs(estimate - up), abs(estimate - upLeft))
                    return a <= b && a <= c ? left : b <= c ? up : upLeft
                }()
                default: 0
                }
                line[index] = UInt8(truncatingIfNeeded: Int(line[index]) + predictor)
            }
            for pixel in 0..<width { pixels += line[(pixel * channels)..<(pixel * channels + 3)] }
            previous = line
        }
        return Screenshot(width: width, height: height, pixels: pixels)
    }
}
