import Foundation
@testable import SourceKit
@testable import ZenExporter

/// What the config loader reports for `yaml` (read as test.yaml); empty when it loads.
func configIssues(_ yaml: String, environment: [String: String] = [:]) -> [ConfigIssue] {
    do {
        _ = try ConfigLoader.parse(yaml, file: "test.yaml", environment: environment)
        return []
    } catch {
        return error.issues
    }
}
