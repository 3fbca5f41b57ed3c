import CostModel
import Foundation
import Ingest
import SourceKit
#if canImport(Glibc)
import Glibc
#endif

/// FOCUS times: ISO 8601 with or without fractional seconds, or without a zone (UTC, as
/// FOCUS requires), or a plain date.
package enum FocusTime {
    package static func parse(_ text: String) -> Date? {
        DateText.iso8601(text)
            ?? DateText.date(text, patterns: ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd"], in: TimeZone(identifier: "UTC") ?? .gmt)
    }
}

/// The `Tags` column: a JSON object; values that are not strings are kept as their text, and
/// keys that name a credential are dropped (`CredentialKeys`).
package enum FocusTags {
    /// Distinct tag texts a reader keeps parsed; beyond them each is parsed where it is read.
    package static let cachedTexts = 100_000

    /// Tags by their JSON text: resources with the same tags share one dictionary (a hundred
    /// thousand resources carry a few hundred distinct tag sets). At most `cachedTexts` are kept.
    package struct Cache {
        package init() {}

        private var parsed: [String: [String: String]] = [:]

        package mutating func tags(_ json: String) -> [String: String] {
            if let known = parsed[json] { return known }
            let tags = FocusTags.parse(json)
            if parsed.count < FocusTags.cachedTexts { parsed[json] = tags }
            return tags
        }
    }

    package static func parse(_ json: String) -> [String: String] {
        if json.isEmpty { return [:] }
        if let flat = flatStrings(json) { return CredentialKeys.dropCredentials(flat) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return [:] }
        return object.reduce(into: [:]) { result, entry in
            if !CredentialKeys.namesCredential(entry.key) { result[entry.key] = "\(entry.value)" }
        }
    }

    /// The common case, read without Foundation's JSON parser (which was 4 % of reading a
    /// large export): an object of string values without escapes. Anything else is nil and
    /// goes to the full parser.
    package static func flatStrings(_ json: String) -> [String: String]? {
        var json = json
        return json.withUTF8 { bytes -> [String: String]? in
            let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
            var index = 0
            func skipSpace() { while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D { index += 1 } }
            func expect(_ byte: UInt8) -> Bool {
                skipSpace()
                guard index < bytes.count, bytes[index] == byte else { return false }
                index += 1
                return true
            }
            func string() -> String? {
                guard expect(quote) else { return nil }
                let start = index
                while index < bytes.count, bytes[index] != quote {
                    if bytes[index] == backslash || bytes[index] < 0x20 { return nil }
                    index += 1
                }
                guard index < bytes.count else { return nil }
                index += 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index - 1]), as: UTF8.self)
            }
            guard expect(UInt8(ascii: "{")) else { return nil }
            var result: [String: String] = [:]
            if expect(UInt8(ascii: "}")) {
                skipSpace()
                return index == bytes.count ? result : nil
            }
            while true {
                guard let key = string(), expect(UInt8(ascii: ":")), let value = string() else { return nil }
                // A repeated key: the last one wins, as in JSONSerialization.
                result[key] = value
                if expect(UInt8(ascii: ",")) { continue }
                guard expect(UInt8(ascii: "}")) else { return nil }
                skipSpace()
                return index == bytes.count ? result : nil
            }
        }
    }
}
