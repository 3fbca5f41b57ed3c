import CostModel
import Foundation
import Testing
@testable import ZenExporter

@Suite("Shipped allocation rules")
struct AllocationRulesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL

    @Test("exporter.yaml's rules place at least 85 % of a tag-less estate of 100 resources")
    func taglessEstate() throws {
        let config = try ConfigLoader.load(path: Self.root.appendingPathComponent("exporter.yaml").path, environment: [:])
        let names = try String(contentsOf: Self.root.appendingPathComponent("Tests/Fixtures/tagless-estate.txt"), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
        #expect(names.count == 100)
        let subjects = names.enumerated().map { index, name in
            AllocationSubject(source: "s", resource: Resource(
                provider: "selectel", id: "r\(index)", name: name, resourceType: "server", service: "Cloud Servers", category: .compute,
                region: "msk-a", account: "1", status: ResourceStatus(provider: "ACTIVE"), flavor: "", tags: [:],
                rate: Rate(Money(100, .rub), per: .monthly), isZombie: false, isOrphan: false, folded: []))
        }
        let result = Allocator(policy: config.allocation, hoursPerMonth: 720).allocate(subjects)
        let placed = result.labels.values.filter { $0["tenant"] != nil }.count
        #expect(placed >= 85, "placed \(placed) of 100")
        #expect(result.directlyAllocatedRatio >= 0.85)
        #expect(result.labels["s/r0"] == ["tenant": "shop", "team": "web"])   // shop-web-01
    }

    @Test("a bad pattern in a rule is reported at its line and column")
    func badPattern() {
        do {
            _ = try ConfigLoader.parse("""
            sources:
              - {name: d, type: demo}
            allocation:
              rules:
                - match: { name: "^(unclosed" }
                  set: { tenant: x }
            """, file: "t.yaml", environment: [:])
            Issue.record("expected an error")
        } catch {
            #expect(error.issues.map(\.key) == ["allocation.rules[0].match.name"])
            #expect(error.issues.first?.line == 5)
            #expect(error.issues.first?.column == 22)
        }
    }
}
