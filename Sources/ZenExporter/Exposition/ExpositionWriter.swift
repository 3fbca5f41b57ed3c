import CostModel
import Foundation
import NIOCore

/// Writes the Prometheus text format 0.0.4 into a byte buffer.
struct ExpositionWriter {
    private(set) var buffer: ByteBuffer
    private(set) var seriesCount = 0
    let namespace: String

    init(namespace: String, capacity: Int = 64 * 1024) {
        self.namespace = namespace
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    /// Writes a family's HELP, TYPE and samples; a family with no samples writes nothing.
    /// `labels` of each sample are in the order of `family.labels`.
    mutating func write(_ family: MetricFamily, _ samples: [(labels: [String], value: SampleValue)]) {
        guard !samples.isEmpty else { return }
        let name = namespace.isEmpty ? family.name : "\(namespace)_\(family.name)"
        buffer.writeString("# HELP \(name) \(escapeHelp(family.help))\n# TYPE \(name) \(family.kind.rawValue)\n")
        for sample in samples {
            precondition(sample.labels.count == family.labels.count, "\(family.name): \(sample.labels.count) label values for \(family.labels.count) names")
            buffer.writeString(name)
            if !family.labels.isEmpty {
                buffer.writeInteger(UInt8(ascii: "{"))
                for (index, label) in family.labels.enumerated() {
                    if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                    buffer.writeString(label)
                    buffer.writeString("=\"")
                    writeEscaped(sample.labels[index])
                    buffer.writeInteger(UInt8(ascii: "\""))
                }
                buffer.writeInteger(UInt8(ascii: "}"))
            }
            buffer.writeInteger(UInt8(ascii: " "))
            buffer.writeString(sample.value.text)
            buffer.writeInteger(UInt8(ascii: "\n"))
        }
        seriesCount += samples.count
    }

    /// Label values: backslash, double quote and line feed escaped; invalid UTF-8 cannot occur
    /// in a Swift String; overly long provider values are cut at 256 characters.
    private mutating func writeEscaped(_ value: String) {
        let bounded = value.utf8.count > 256 ? String(value.prefix(256)) : value
        // Most values need no escaping: write them whole.
        guard bounded.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) else {
            buffer.writeString(bounded)
            return
        }
        for byte in bounded.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): buffer.writeString("\\\\")
            case UInt8(ascii: "\""): buffer.writeString("\\\"")
            case UInt8(ascii: "\n"): buffer.writeString("\\n")
            default: buffer.writeInteger(byte)
            }
        }
    }

    private func escapeHelp(_ help: String) -> String {
        help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// A sample value: exact decimals for money, doubles for ratios and self-metrics.
enum SampleValue {
    case decimal(Decimal)
    case double(Double)
    case int(Int)

    var text: String {
        switch self {
        case let .decimal(value): return value.plainString
        case let .int(value): return String(value)
        case let .double(value):
            if value.isNaN { return "NaN" }
            if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
            if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
            return String(value)
        }
    }
}
