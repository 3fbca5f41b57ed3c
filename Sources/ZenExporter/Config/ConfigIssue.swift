/// One problem in a config file, pointing at the key that has it.
struct ConfigIssue: Error, CustomStringConvertible, Sendable, Equatable {
    var file: String
    var line: Int
    var column: Int
    /// Dotted path of the key: `sources[1].interval`.
    var key: String
    var message: String

    var description: String { "\(file):\(line):\(column): \(key): \(message)" }
}

/// Every problem found in one config file; `check-config` prints them all at once.
struct ConfigErrors: Error, CustomStringConvertible, Sendable {
    var issues: [ConfigIssue]
    var description: String { issues.map(\.description).joined(separator: "\n") }
}
