import CostModel
import Foundation
import Yams

/// The entries of one YAML mapping, with the path that names them in errors.
package struct Fields {
    package let path: String
    package let node: Node
    package let entries: [String: (key: Node, value: Node)]

    package subscript(key: String) -> Node? { entries[key]?.value }
    package func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    package init(path: String, node: Node, entries: [String: (key: Node, value: Node)]) {
        self.path = path
        self.node = node
        self.entries = entries
    }
}

/// Reads typed values out of a composed YAML tree and collects every problem with the key's
/// path and line:column, so that one run of `check-config` reports them all.
package final class ConfigReader {
    package let file: String
    package let environment: [String: String]
    package private(set) var issues: [ConfigIssue] = []
    /// Problems that do not stop the daemon (a secret file others can read), printed at start.
    package private(set) var warnings: [ConfigIssue] = []

    package init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    package func fail(at node: Node?, _ key: String, _ message: String) {
        let mark = node?.mark
        issues.append(ConfigIssue(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, key: key, message: message))
    }

    package func warn(at node: Node?, _ key: String, _ message: String) {
        let mark = node?.mark
        warnings.append(ConfigIssue(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, key: key, message: message))
    }

    // MARK: Structure

    /// A mapping's entries. Keys outside `allowed` are reported where they stand.
    package func mapping(_ node: Node, at path: String, allowed: Set<String>) -> Fields? {
        guard case let .mapping(mapping) = node else {
            fail(at: node, path.isEmpty ? "(top level)" : path, "expected a mapping of keys, got \(node.kindName)")
            return nil
        }
        var entries: [String: (key: Node, value: Node)] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                fail(at: keyNode, path, "keys must be plain strings")
                continue
            }
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else {
                fail(at: keyNode, keyPath, "unknown key (known here: \(allowed.sorted().joined(separator: ", ")))")
                continue
            }
            entries[key] = (keyNode, value)
        }
        return Fields(path: path, node: node, entries: entries)
    }

    package func sequence(_ fields: Fields, _ key: String) -> [Node] {
        guard let node = fields[key], !node.isNull else { return [] }
        guard case let .sequence(items) = node else {
            fail(at: node, fields.path(key), "expected a list, got \(node.kindName)")
            return []
        }
        return Array(items)
    }

    package func required(_ fields: Fields, _ key: String) -> Node? {
        if let node = fields[key], !node.isNull { return node }
        fail(at: fields.node, fields.path(key), "required key is missing")
        return nil
    }

    // MARK: Scalars

    package func string(_ fields: Fields, _ key: String) -> String? {
        guard let node = fields[key], !node.isNull else { return nil }
        guard case let .scalar(scalar) = node else {
            fail(at: node, fields.path(key), "expected a string, got \(node.kindName)")
            return nil
        }
        return scalar.string
    }

    package func int(_ fields: Fields, _ key: String, range: ClosedRange<Int>) -> Int? {
        guard let node = fields[key], !node.isNull else { return nil }
        guard case .scalar = node, let value = node.int else {
            fail(at: node, fields.path(key), "expected an integer, got \(node.describedValue)")
            return nil
        }
        guard range.contains(value) else {
            fail(at: node, fields.path(key), "\(value) is out of range \(range.lowerBound)…\(range.upperBound)")
            return nil
        }
        return value
    }

    package func bool(_ fields: Fields, _ key: String) -> Bool? {
        guard let node = fields[key], !node.isNull else { return nil }
        guard case .scalar = node, let value = node.bool else {
            fail(at: node, fields.path(key), "expected true or false, got \(node.describedValue)")
            return nil
        }
        return value
    }

    /// An exact decimal amount; `positive` demands one above zero.
    package func decimal(_ node: Node, _ path: String, positive: Bool = true) -> Decimal? {
        guard case let .scalar(scalar) = node, let value = Decimal.exactConfigNumber(scalar.string) else {
            fail(at: node, path, "expected a number, got \(node.describedValue)")
            return nil
        }
        if positive && value <= 0 {
            fail(at: node, path, "must be greater than 0, got \(scalar.string)")
            return nil
        }
        return value
    }

    package func decimal(_ fields: Fields, _ key: String, positive: Bool = true) -> Decimal? {
        guard let node = fields[key], !node.isNull else { return nil }
        return decimal(node, fields.path(key), positive: positive)
    }

    /// A positive duration such as `30s` or `1h30m`.
    package func duration(_ fields: Fields, _ key: String) -> Duration? {
        guard let node = fields[key], !node.isNull else { return nil }
        let path = fields.path(key)
        guard case let .scalar(scalar) = node else {
            fail(at: node, path, "expected a duration such as 30s, 5m or 1h, got \(node.kindName)")
            return nil
        }
        switch DurationParser.parse(scalar.string) {
        case .failure(.negative):
            fail(at: node, path, "must not be negative, got \"\(scalar.string)\"")
            return nil
        case .failure(.malformed):
            fail(at: node, path, "invalid duration \"\(scalar.string)\" (use a number and a unit: 500ms, 30s, 5m, 1h, 2d, 1w)")
            return nil
        case .failure(.overflow):
            fail(at: node, path, "duration \"\(scalar.string)\" is too long (at most \(DurationParser.maximum.prometheusText))")
            return nil
        case let .success(duration):
            if duration <= .zero {
                fail(at: node, path, "must be greater than 0")
                return nil
            }
            return duration
        }
    }

    package func currency(_ node: Node, _ path: String) -> Currency? {
        guard case let .scalar(scalar) = node else {
            fail(at: node, path, "expected a currency code, got \(node.kindName)")
            return nil
        }
        let code = scalar.string.uppercased()
        guard CurrencyCodes.iso4217.contains(code) else {
            fail(at: node, path, "unknown currency \"\(scalar.string)\" (expected an ISO 4217 code such as RUB, USD, EUR)")
            return nil
        }
        return Currency(code)
    }

    package func currency(_ fields: Fields, _ key: String) -> Currency? {
        guard let node = fields[key], !node.isNull else { return nil }
        return currency(node, fields.path(key))
    }

    package func oneOf(_ fields: Fields, _ key: String, _ choices: [String]) -> String? {
        guard let value = string(fields, key) else { return nil }
        guard choices.contains(value) else {
            fail(at: fields[key], fields.path(key), "\"\(value)\" is not one of: \(choices.joined(separator: ", "))")
            return nil
        }
        return value
    }

    // MARK: URLs

    /// A provider's base URL, to which credentials are sent: `https://`, or plain `http://` to
    /// a loopback host only (127.0.0.0/8, ::1, localhost: fakes, a local TLS-terminating proxy).
    /// Anything else would put the token or password on the wire in clear text.
    package func credentialURL(_ fields: Fields, _ key: String) -> String? {
        guard let text = string(fields, key) else { return nil }
        if let refusal = Self.credentialURLRefusal(text) {
            fail(at: fields[key], fields.path(key), refusal)
            return nil
        }
        return text
    }

    /// Why credentials must not be sent to `text`, or nil when they may: the rule of
    /// `credentialURL`, also applied to URLs a provider hands out (a Keystone catalog's).
    package static func credentialURLRefusal(_ text: String) -> String? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            return "expected an absolute URL such as https://api.example.com, got \"\(text)\""
        }
        switch scheme {
        case "https":
            return nil
        case "http" where isLoopback(host):
            return nil
        case "http":
            return "plain http:// to \(host) would send credentials in clear text; use https:// (http:// is allowed to loopback only)"
        default:
            return "unsupported scheme \(scheme):// (use https://)"
        }
    }

    package static func isLoopback(_ host: String) -> Bool {
        let host = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if host == "localhost" || host.hasSuffix(".localhost") || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    // MARK: Secrets

    /// The largest `*_file` secret read; a key file is a few KiB.
    package static let maxSecretFileBytes = 64 * 1024

    /// Resolves `<name>_env` (an environment variable) or `<name>_file` (a file to read).
    /// The value is never echoed in an error: only where it should have come from.
    package func secret(_ fields: Fields, _ name: String) -> Secret? {
        if let variable = string(fields, "\(name)_env") {
            guard let value = environment[variable], !value.isEmpty else {
                fail(at: fields["\(name)_env"], fields.path("\(name)_env"), "environment variable \(variable) is not set or empty")
                return nil
            }
            return Secret(value)
        }
        if let path = string(fields, "\(name)_file") {
            let node = fields["\(name)_file"], key = fields.path("\(name)_file")
            // Read at most one byte past the cap: `/dev/zero` or a log file named by mistake
            // must not be read whole.
            guard let handle = FileHandle(forReadingAtPath: path),
                  let data = try? handle.read(upToCount: Self.maxSecretFileBytes + 1) ?? Data() else {
                fail(at: node, key, "secret file \(path) does not exist or is not readable")
                return nil
            }
            try? handle.close()
            guard data.count <= Self.maxSecretFileBytes else {
                fail(at: node, key, "secret file \(path) is over \(Self.maxSecretFileBytes / 1024) KiB; is it the right file?")
                return nil
            }
            guard let text = String(data: data, encoding: .utf8) else {
                fail(at: node, key, "secret file \(path) is not UTF-8 text")
                return nil
            }
            if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
                warn(at: node, key, "secret file \(path) can be read by its group or others (mode \(String(mode & 0o777, radix: 8))); chmod 600 it")
            }
            let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else {
                fail(at: fields["\(name)_file"], fields.path("\(name)_file"), "secret file \(path) is empty")
                return nil
            }
            return Secret(value)
        }
        return nil
    }
}

/// A credential read from the environment or a file. Its description never shows the value,
/// so a secret interpolated into a log line or an error by mistake prints as `<secret>`.
package struct Secret: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    package let value: String
    package init(_ value: String) { self.value = value }
    package var description: String { "<secret>" }
    package var debugDescription: String { "<secret>" }
}

package extension Node {
    package var isNull: Bool {
        if case let .scalar(scalar) = self { return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string) }
        return false
    }

    package var kindName: String {
        switch self {
        case .scalar: "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    package var describedValue: String {
        if case let .scalar(scalar) = self { return "\"\(scalar.string)\"" }
        return kindName
    }
}

package extension Decimal {
    /// Config numbers: plain decimals, with `_` allowed as a thousands separator (150_000).
    package static func exactConfigNumber(_ text: String) -> Decimal? {
        exact(text.replacingOccurrences(of: "_", with: ""))
    }
}
