@testable import Exposition
import Foundation
@testable import ProviderOpenStack
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

    @Test("docs/kubernetes.md's configs load as the page shows them: the queries with the pool, with the blend, and several clusters")
    func kubernetesExamples() throws {
        let doc = try read("docs/kubernetes.md")
        let blocks = doc.components(separatedBy: "```yaml\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        #expect(blocks.count == 4)
        let sources = "sources: [{name: demo, type: demo}]\n"
        let single = try ConfigLoader.parse(sources + blocks[0] + blocks[1], file: "kubernetes.md", environment: [:])
        #expect(single.pools.map(\.name) == ["k8s-prod"])
        let blend = try ConfigLoader.parse(sources + blocks[0] + "allocation:\n  pools:\n" + blocks[2], file: "kubernetes.md", environment: [:])
        #expect(blend.pools.first?.components.count == 2)
        let clusters = try ConfigLoader.parse(sources + blocks[3], file: "kubernetes.md", environment: [:])
        #expect(clusters.pools.map(\.name) == ["k8s-prod", "k8s-staging"])
    }

    @Test("docs/config.md's full example loads, every reference in it resolving")
    func configExample() throws {
        let doc = try read("docs/config.md")
        let example = try #require(doc.components(separatedBy: "```yaml\n").dropFirst().first?.components(separatedBy: "```").first)
        let config = try ConfigLoader.parse(example, file: "config.md", environment: ["APP_DB": "postgres://zen@127.0.0.1:5432/app"])
        #expect(config.pools.map(\.name) == ["k8s-prod", "k8s-staging"])
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

    /// The fenced blocks of one language in a Markdown page, in order.
    func blocks(_ language: String, in text: String) -> [String] {
        text.components(separatedBy: "```\(language)\n").dropFirst().compactMap { $0.components(separatedBy: "```").first }
    }

    @Test("the provider pages' examples load: each config with its price list (YAML and CSV) as the page shows them")
    func providerExamples() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zen-docs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func write(_ text: String, _ name: String) throws -> String {
            let path = directory.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            return path
        }
        let environment = ["VK_USERNAME": "u", "VK_PASSWORD": "p", "CLOUDRU_KEY_ID": "k"]
        func load(_ config: String, _ replacements: [String: String]) throws -> [String] {
            let text = replacements.reduce(config) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
            return try ConfigLoader.parse(text, file: "example.yaml", environment: environment).sources.map(\.name)
        }

        let vk = try read("docs/providers/vk-cloud.md")
        let vkYAML = blocks("yaml", in: vk)
        #expect(vkYAML.count == 2)
        let vkPrices = try write(vkYAML[1], "vk-prices.yaml")
        #expect(try load(vkYAML[0], ["/etc/zen-exporter/vk-cloud-prices.yaml": vkPrices]) == ["vk"])

        let openstack = try read("docs/providers/openstack.md")
        let (osYAML, osCSV) = (blocks("yaml", in: openstack), blocks("csv", in: openstack))
        #expect(osYAML.count == 2 && osCSV.count == 1)
        let yamlPrices = try write(osYAML[0], "prices.yaml"), csvPrices = try write(osCSV[0], "prices.csv")
        let credential = try write("appcred-secret\n", "appcred")
        for prices in [yamlPrices, csvPrices] {
            #expect(try load(osYAML[1], ["/etc/zen-exporter/private-cloud-prices.yaml": prices,
                                         "/etc/zen-exporter/openstack-appcred": credential]) == ["private-cloud"])
        }
        #expect(try PriceList.load(path: csvPrices).price(.flavor, "STD3-2-4") == PriceList.load(path: yamlPrices).price(.flavor, "STD3-2-4"))

        let cloudru = try read("docs/providers/cloudru.md")
        #expect(try load(blocks("yaml", in: cloudru)[0], ["/etc/zen-exporter/cloudru-key-secret": credential]) == ["cloudru"])
    }
}
