import Foundation
import Testing
@testable import ZenExporter

/// The reference pages in docs/ stay in step with the code.
@Suite("Documentation")
struct DocsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL

    func read(_ path: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test("docs/metrics.md lists every metric the catalog declares")
    func metricsDocumented() throws {
        let doc = try read("docs/metrics.md")
        for family in MetricCatalog.all {
            #expect(doc.contains("`infrazen_\(family.name)`"), "docs/metrics.md lacks infrazen_\(family.name)")
        }
    }

    @Test("docs/config.md documents every source type")
    func sourceTypesDocumented() throws {
        let doc = try read("docs/config.md")
        for type in SourceRegistry.kinds.keys {
            #expect(doc.contains("| `\(type)` |"), "docs/config.md lacks source type \(type)")
        }
    }

    @Test("the README starts with the two commands and .ci/run calls the test one")
    func readmeCommands() throws {
        let readme = try read("README.md")
        #expect(readme.contains("swift run zen-exporter"))
        #expect(readme.contains("./scripts/test"))
        #expect(try read(".ci/run").contains("./scripts/test"))
    }
}
