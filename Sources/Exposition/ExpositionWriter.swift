import CostModel
import Foundation
import NIOCore

/// Writes the Prometheus text format 0.0.4 into a byte buffer.
package struct ExpositionWriter {
    /// The text being written; fragments written earlier sit in `parts` before it.
    private(set) var current: ByteBuffer
    /// Finished parts in order: text written here, and fragments (shared, not copied) with
    /// their deflated form when they have one.
    private(set) var parts: [Part] = []
    package private(set) var seriesCount = 0
    package let namespace: String

    /// One part of the exposition. `deflateLater`: a fragment whose deflated form is still
    /// being made (see `SampleFragment.deflateLater`); publishing does not make it instead.
    package struct Part {
        package var bytes: ByteBuffer
        package var deflated: DeflatedPiece?
        package var deflateLater = false

        package init(bytes: ByteBuffer, deflated: DeflatedPiece? = nil, deflateLater: Bool = false) {
            self.bytes = bytes
            self.deflated = deflated
            self.deflateLater = deflateLater
        }
    }

    /// Everything written, in order, without copying.
    package var allParts: [Part] {
        current.readableBytes > 0 ? parts + [Part(bytes: current)] : parts
    }

    package init(namespace: String, capacity: Int = 64 * 1024) {
        self.namespace = namespace
        current = ByteBufferAllocator().buffer(capacity: capacity)
    }

    /// Writes a family's HELP, TYPE and samples; a family with no samples writes nothing.
    /// `labels` of each sample are in the order of `family.labels`.
    package mutating func write(_ family: MetricFamily, _ samples: [(labels: [String], value: SampleValue)]) {
        guard !samples.isEmpty else { return }
        writeHeader(family)
        let name = qualifiedName(family)
        let prefixes = Self.labelPrefixes(family)
        for sample in samples {
            precondition(sample.labels.count == family.labels.count, "\(family.name): \(sample.labels.count) label values for \(family.labels.count) names")
            writeSample(name: name, prefixes: prefixes, labels: sample.labels, value: sample.value)
        }
    }

    /// Writes a family's HELP and TYPE, then samples rendered earlier (one source's
    /// per-resource series, rendered when that source synced) in the order given.
    package mutating func write(_ family: MetricFamily, fragments: [SampleFragment]) {
        guard fragments.contains(where: { $0.count > 0 }) else { return }
        writeHeader(family)
        parts.append(Part(bytes: current))
        current = ByteBufferAllocator().buffer(capacity: 64 * 1024)
        for fragment in fragments where fragment.count > 0 {
            parts.append(Part(bytes: fragment.bytes, deflated: fragment.deflated, deflateLater: fragment.deflateLater))
            seriesCount += fragment.count
        }
    }

    package mutating func writeHeader(_ family: MetricFamily) {
        let name = qualifiedName(family)
        current.writeString("# HELP \(name) \(escapeHelp(family.help))\n# TYPE \(name) \(family.kind.rawValue)\n")
    }

    package func qualifiedName(_ family: MetricFamily) -> String {
        namespace.isEmpty ? family.name : "\(namespace)_\(family.name)"
    }

    /// What was written, as a fragment to be joined into a later exposition; `deflate` does
    /// its gzip part once here rather than on every publish, `.later` leaves it to
    /// `SampleFragment.withDeflatedForm()`.
    package func fragment(deflate: FragmentDeflate = .now) -> SampleFragment {
        switch deflate {
        case .later where current.readableBytes >= Self.deflateLaterFrom:
            SampleFragment(bytes: current, count: seriesCount, deflated: nil, deflateLater: true)
        case .now, .later: SampleFragment(bytes: current, count: seriesCount, deflated: current.readableBytes > 0 ? DeflatedPiece(current, level: 1) : nil)
        case .never: SampleFragment(bytes: current, count: seriesCount, deflated: nil)
        }
    }

    /// A fragment smaller than this is deflated as it is rendered even when `.later` is
    /// asked: it takes under a few milliseconds, and the exposition keeps its gzip form.
    package static let deflateLaterFrom = 1 << 20

    /// Each label's `{name="` or `,name="`, for `writeSample(prefixes:…)`.
    package static func labelPrefixes(_ family: MetricFamily) -> [[UInt8]] {
        family.labels.enumerated().map { Array("\($0.offset == 0 ? "{" : ",")\($0.element)=\"".utf8) }
    }

    /// One sample line with the label prefixes computed once per family: the per-resource
    /// families write 100,000 of these per sync. The line is written in one write of the
    /// buffer, its room made once for every label byte escaped: written byte by byte through
    /// the buffer, the capacity checks were half of rendering 100,000 resources. Label values:
    /// backslash, double quote and line feed escaped (invalid UTF-8 cannot occur in a Swift
    /// String); overly long provider values are cut at 256 characters. Exact values (integers,
    /// `.scaled`) are written as digits straight into the buffer, others by their text.
    package mutating func writeSample(name: String, prefixes: [[UInt8]], labels: [String], value: SampleValue) {
        let pairs = min(prefixes.count, labels.count)
        let exact: (number: Int64, scale: Int)?
        switch value {
        case let .scaled(number, scale) where scale >= 0 && scale <= SampleValue.maxScale: exact = (number, scale)
        case let .int(number): exact = (Int64(number), 0)
        default: exact = nil
        }
        var text = exact == nil ? value.text : ""
        // A value cut at 256 characters is never longer than the whole value.
        var room = name.utf8.count + 3 + (exact == nil ? text.utf8.count : SampleValue.maxScaledWidth)
        for index in 0..<pairs { room += prefixes[index].count + 2 * labels[index].utf8.count + 1 }
        current.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { raw in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 0 }
            var at = 0
            func copy(_ bytes: UnsafeBufferPointer<UInt8>) {
                guard let start = bytes.baseAddress, !bytes.isEmpty else { return }
                (base + at).update(from: start, count: bytes.count)
                at += bytes.count
            }
            var qualified = name
            qualified.withUTF8 { copy($0) }
            for index in 0..<pairs {
                prefixes[index].withUnsafeBufferPointer { copy($0) }
                var label = labels[index].utf8.count > 256 ? String(labels[index].prefix(256)) : labels[index]
                label.withUTF8 { bytes in
                    // Most values need no escaping: scanned once and copied whole.
                    if !bytes.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) {
                        copy(bytes)
                        return
                    }
                    for byte in bytes {
                        switch byte {
                        case UInt8(ascii: "\\"), UInt8(ascii: "\""):
                            base[at] = UInt8(ascii: "\\")
                            base[at + 1] = byte
                            at += 2
                        case UInt8(ascii: "\n"):
                            base[at] = UInt8(ascii: "\\")
                            base[at + 1] = UInt8(ascii: "n")
                            at += 2
                        default:
                            base[at] = byte
                            at += 1
                        }
                    }
                }
                base[at] = UInt8(ascii: "\"")
                at += 1
            }
            if !prefixes.isEmpty {
                base[at] = UInt8(ascii: "}")
                at += 1
            }
            base[at] = UInt8(ascii: " ")
            at += 1
            if let exact {
                at += SampleValue.writeScaled(exact.number, scale: exact.scale, to: base + at)
            } else {
                text.withUTF8 { copy($0) }
            }
            base[at] = UInt8(ascii: "\n")
            return at + 1
        }
        seriesCount += 1
    }

    private func escapeHelp(_ help: String) -> String {
        help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// When a fragment's gzip part is made: as it is rendered, after it is first published
/// (`SampleFragment.withDeflatedForm()`), or never (a publish then deflates it with the rest).
package enum FragmentDeflate: Sendable {
    case now, later, never
}

/// Sample lines of one family rendered ahead of time, and how many.
package struct SampleFragment: Sendable {
    package var bytes: ByteBuffer
    package var count: Int
    package var deflated: DeflatedPiece?
    /// Published before its deflated form is made: until then the exposition is served
    /// without gzip rather than deflating 40 MB inside a publish.
    package var deflateLater = false
    package static let empty = SampleFragment(bytes: ByteBuffer(), count: 0, deflated: nil)

    /// This fragment with its deflated form made.
    package func withDeflatedForm() -> SampleFragment {
        guard deflateLater else { return self }
        return SampleFragment(bytes: bytes, count: count, deflated: DeflatedPiece(bytes, level: 1))
    }

    package init(bytes: ByteBuffer, count: Int, deflated: DeflatedPiece? = nil, deflateLater: Bool = false) {
        self.bytes = bytes
        self.count = count
        self.deflated = deflated
        self.deflateLater = deflateLater
    }
}

/// A sample value: exact decimals for money, doubles for ratios and self-metrics.
package enum SampleValue {
    case decimal(Decimal)
    case double(Double)
    case int(Int)
    /// `value` × 10^-`scale`, exactly, in plain notation without trailing zeros (the form
    /// `Decimal` prints), without going through `Decimal`: per-resource series are written
    /// 100,000 at a time.
    case scaled(Int64, scale: Int)

    /// A ratio at 6 decimals: more digits than any threshold or panel reads, fewer than a
    /// Double prints.
    package static func ratio(_ value: Double) -> SampleValue { .double((value * 1e6).rounded() / 1e6) }

    /// A rate per hour at 8 decimals, rounded half up. Integer arithmetic when the amount has
    /// at most 6 decimals and the period is whole hours (every provider's rates), `Decimal`
    /// otherwise; both print the same.
    package static func perHour(_ rate: Rate) -> SampleValue {
        if rate.amount.exponent >= -6, rate.periodHours.exponent >= 0, let micros = Micros.from(rate.amount),
           let hours = Micros.from(rate.periodHours).map({ $0 / Micros.perUnit }), hours > 0 {
            let (scaled, overflow) = micros.multipliedReportingOverflow(by: 100)
            if !overflow {
                let quotient = scaled / hours, remainder = scaled % hours
                let roundedAway = 2 * remainder.magnitude >= UInt64(hours) ? (scaled < 0 ? -1 : 1) : 0
                return .scaled(quotient + Int64(roundedAway), scale: 8)
            }
        }
        return .decimal(rate.perHour.amount.rounded(scale: 8))
    }

    /// The largest `scale` written as digits; `text` spells any other.
    package static let maxScale = 40
    /// The most bytes `writeScaled` writes: a sign, 19 digits or `maxScale` + 1, a point.
    package static let maxScaledWidth = 2 + max(20, maxScale + 1)

    /// Writes `value` × 10^-`scale` (`scale` at most `maxScale`) at `base`; returns the bytes written.
    package static func writeScaled(_ value: Int64, scale: Int, to base: UnsafeMutablePointer<UInt8>) -> Int {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxScaledWidth) { digits in
            var magnitude = value.magnitude
            var count = 0
            repeat {
                digits[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            while count <= scale {
                digits[count] = UInt8(ascii: "0")
                count += 1
            }
            // digits are least significant first: drop trailing fraction zeros.
            var fractionStart = 0
            while fractionStart < scale, digits[fractionStart] == UInt8(ascii: "0") { fractionStart += 1 }
            let nonZero = (fractionStart..<count).contains { digits[$0] != UInt8(ascii: "0") }
            var at = 0
            if value < 0 && nonZero {
                base[at] = UInt8(ascii: "-")
                at += 1
            }
            for index in stride(from: count - 1, through: scale, by: -1) {
                base[at] = digits[index]
                at += 1
            }
            if fractionStart < scale {
                base[at] = UInt8(ascii: ".")
                at += 1
                for index in stride(from: scale - 1, through: fractionStart, by: -1) {
                    base[at] = digits[index]
                    at += 1
                }
            }
            return at
        }
    }

    package var text: String {
        switch self {
        case let .scaled(value, scale) where scale < 0 || scale > Self.maxScale:
            return Decimal(sign: value < 0 ? .minus : .plus, exponent: -scale, significand: Decimal(value.magnitude)).plainString
        case let .scaled(value, scale):
            return String(unsafeUninitializedCapacity: Self.maxScaledWidth) { buffer in
                guard let base = buffer.baseAddress else { return 0 }
                return Self.writeScaled(value, scale: scale, to: base)
            }
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
