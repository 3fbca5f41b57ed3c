/// One problem in a config file, pointing at the key that has it.
package struct ConfigIssue: Error, CustomStringConvertible, Sendable, Equatable {
    package var file: String
    package var line: Int
    package var column: Int
    /// Dotted path of the key: `sources[1].interval`.
    package var key: String
    package var message: String

    package var description: String { "\(file):\(line):\(column): \(key): \(message)" }

    package init(file: String, line: Int, column: Int, key: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
    }
}

/// Every problem found in one config file; `check-config` prints them all at once.
package struct ConfigErrors: Error, CustomStringConvertible, Sendable {
    package var issues: [ConfigIssue]
    package var description: String { issues.map(\.description).joined(separator: "\n") }

    package init(issues: [ConfigIssue]) {
        self.issues = issues
    }
}
