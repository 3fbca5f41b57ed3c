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

    @Test("without rules a resource's dimensions are its first configured tag with a value, in key order, with few tags or many")
    func tagKeysInOrder() {
        func subject(_ tags: [String: String]) -> AllocationSubject {
            AllocationSubject(source: "s", resource: Resource(
                provider: "p", id: "r", name: "n", resourceType: "server", service: "s", category: .compute, region: "r", account: "a",
                status: ResourceStatus(provider: "ACTIVE"), flavor: "", tags: tags, rate: Rate(Money(1, .rub), per: .monthly),
                isZombie: false, isOrphan: false, folded: []))
        }
        let policy = AllocationPolicy(tagKeys: ["tenant": ["tenant", "client"], "team": ["team", "owner", "tenant"], "environment": []])
        let many = Dictionary(uniqueKeysWithValues: (0..<20).map { ("k\($0)", "v") })
        let dims = Allocator(policy: policy, hoursPerMonth: 720).dimensions(of: [
            subject(["client": "c", "tenant": "t", "owner": "o"]),            // tenant before client; team: owner before tenant
            subject(["client": "c", "tenant": "", "team": "x"]),               // an empty value does not count
            subject(["env": "prod"]),                                          // not a configured key
            subject(many.merging(["client": "c", "owner": "o"]) { a, _ in a }),  // more than eight tags
            subject(["client": "c", "tenant": "t", "owner": "o"]),            // the same again: shared
        ])
        #expect(dims == [["tenant": "t", "team": "o"], ["tenant": "c", "team": "x"], [:], ["tenant": "c", "team": "o"], ["tenant": "t", "team": "o"]])
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
