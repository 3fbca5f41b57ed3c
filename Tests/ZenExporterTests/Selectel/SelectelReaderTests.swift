import Foundation
@testable import ProviderOpenStack
@testable import ProviderSelectel
@testable import SourceKit
import Testing
@testable import ZenExporter

/// The consumption reader reads what JSONDecoder read, and the connector's new settings.
@Suite("Selectel consumption reader and settings")
struct SelectelReaderTests {
    func rows(_ json: String) throws -> (status: String?, rows: [Selectel.ConsumptionReader.Row]) {
        var rows: [Selectel.ConsumptionReader.Row] = []
        let data = Data(json.utf8)
        let status = try data.withUnsafeBytes { bytes in try Selectel.ConsumptionReader.read(bytes) { rows.append($0) } }
        return (status, rows)
    }

    @Test("escapes, numbers as text or with a fraction, null objects and unknown fields of every kind")
    func shapes() throws {
        let (status, rows) = try rows(#"""
        { "meta": [true, false, null, -1.5e3, {"a": "}]"}], "status" : "success",
          "data": [
            {"object": {"id": "a\"b\\c", "name": "caf\u00e9 \ud83d\ude00 \/", "parent_id": null, "type": "cloud_vm",
                        "extra": {"nested": [1, {"x": "\"}"}]}},
             "project": {"name": "p", "id": "7f"}, "metric": {"quantity": 2, "region": "ru-3b"},
             "provider_key": "vpc", "period": "2026-11-19T10:00:00", "value": "12.50"},
            {"object": {"id": "x"}, "value": 12.34, "metric": null, "project": null},
            {"object": {"id": "y"}, "value": -7},
            {"object": null, "value": 100, "period": "2026-11-19T00:00:00"},
            {"value": null}
          ]
        }
        """#)
        #expect(status == "success")
        #expect(rows.count == 5)
        let first = try #require(rows.first)
        #expect(first.objectID == #"a"b\c"#)
        #expect(first.objectName == "café 😀 /")
        #expect(first.parentID == nil && first.objectType == "cloud_vm" && first.hasObject)
        #expect(first.projectID == "7f" && first.metricRegion == "ru-3b" && first.providerKey == "vpc")
        #expect(first.period == "2026-11-19T10:00:00")
        #expect(first.value == .decimal(Decimal(string: "12.5") ?? 0))
        #expect(rows[1].value == .decimal(Decimal(string: "12.34") ?? 0) && rows[1].metricRegion == nil && rows[1].projectID == nil)
        #expect(rows[2].value == .whole(-7))
        #expect(!rows[3].hasObject && rows[3].objectID == nil && rows[3].value == .whole(100))
        #expect(rows[4].value == nil && !rows[4].hasObject)
    }

    @Test("malformed bodies are refused with the byte where they go wrong", arguments: [
        "", "{", #"{"data": [{"object": {"id": 5}}]}"#, #"{"data": [{"value": "12abc"}]}"#, #"{"data": [] } x"#,
        #"{"data": [{"object": {"id": "a}]}"#, #"{"data": [null]}"#, #"{"data": {"value": 1}}"#, #"{"status": "ok" "data": []}"#,
    ])
    func malformed(_ json: String) {
        #expect(throws: Selectel.ConsumptionReader.Malformed.self) { try rows(json) }
    }

    @Test("the hourly fixture reads as JSONSerialization reads it")
    func fixtureAgrees() throws {
        let data = try Data(contentsOf: SelectelFake.fixtures.appendingPathComponent("consumption-hour.json"))
        let (status, rows) = try rows(String(decoding: data, as: UTF8.self))
        let reference = try #require((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["data"] as? [[String: Any]])
        #expect(status == "success")
        #expect(rows.count == reference.count)
        for (row, expected) in zip(rows, reference) {
            let object = expected["object"] as? [String: Any]
            #expect(row.objectID == object?["id"] as? String)
            #expect(row.objectName == object?["name"] as? String)
            #expect(row.parentID == object?["parent_id"] as? String)
            #expect(row.objectType == object?["type"] as? String)
            #expect(row.metricRegion == (expected["metric"] as? [String: Any])?["region"] as? String)
            #expect(row.projectID == (expected["project"] as? [String: Any])?["id"] as? String)
            #expect(row.period == expected["period"] as? String)
            #expect(row.value?.decimal == (expected["value"] as? NSNumber).map { Decimal($0.int64Value) })
        }
    }

    @Test("utilization_interval and utilization_concurrency: defaults, values and errors")
    func settings() throws {
        func parse(_ extra: String) throws(ConfigErrors) -> SelectelSource.Settings? {
            try ConfigLoader.parse("""
            sources:
              - name: sel
                type: selectel
                token_env: T
            \(extra)
            """, file: "t.yaml", environment: ["T": "t"]).sources.first?.settings as? SelectelSource.Settings
        }
        let defaults = try #require(try parse(""))
        #expect(defaults.utilizationInterval == .seconds(3600) && defaults.utilizationConcurrency == 8)
        let set = try #require(try parse("    utilization_interval: 6h\n    utilization_concurrency: 32"))
        #expect(set.utilizationInterval == .seconds(6 * 3600) && set.utilizationConcurrency == 32)
        for (extra, message) in [("    utilization_concurrency: 0", "sources[0].utilization_concurrency: 0 is out of range 1…64"),
                                 ("    utilization_interval: soon", "sources[0].utilization_interval: invalid duration \"soon\"")] {
            do {
                _ = try parse(extra)
                Issue.record("\(extra) was accepted")
            } catch {
                #expect(error.issues.count == 1)
                #expect(error.issues.first?.description.contains(message) == true, "\(error.issues)")
            }
        }
    }

    @Test("callers asking for a token at once share one issuance")
    func oneIssuance() async throws {
        let fake = try SelectelFake()
        try await fake.start()
        let session = KeystoneSession(identityURL: "\(fake.baseURL)/identity/v3", username: Secret("finops-exporter"),
                                      password: Secret(SelectelFake.servicePassword), accountID: "200001",
                                      projectID: "7f1c2a9be0d34c21a8b6f0e2d4c5b6a7", http: ProviderClient(timeout: .seconds(30), retries: 0))
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 { group.addTask { try await session.token().value } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(tokens == ["token-1"])
        #expect(fake.count("POST identity") == 1)
        // A refused token is forgotten once: the second caller's invalidation of the same token does nothing.
        await session.invalidate("token-1")
        #expect(try await session.token().value == "token-2")
        await session.invalidate("token-1")
        #expect(try await session.token().value == "token-2")
        await fake.stop()
    }
}
