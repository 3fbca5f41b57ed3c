import CostModel
@testable import FocusFormat
import Foundation
@testable import SourceKit
@testable import Storage
import Testing
@testable import ZenExporter

/// Which provider a FOCUS row is: FOCUS 1.3 added `ServiceProviderName` and deprecated
/// `ProviderName`; 1.4 removed `ProviderName`. Files written here by hand, one per version.
@Suite("FOCUS provider columns", .serialized)
struct FocusProviderColumnTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("focus-provider-\(UUID().uuidString)")

    func write(_ name: String, header: String, row: String) throws -> String {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent(name).path
        try Data("\(header)\n\(row)\n".utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static let base = "BilledCost,BillingCurrency,ChargePeriodStart,ChargeCategory,ServiceName,ServiceCategory,SubAccountId,ResourceId"

    func providers(_ snapshot: SourceSnapshot) -> Set<String> {
        Set(snapshot.costs.lines.map(\.provider))
    }

    @Test("FOCUS 1.4: ServiceProviderName names the provider (no ProviderName column)")
    func serviceProviderName() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try write("v14.csv", header: Self.base + ",ServiceProviderName,HostProviderName",
                             row: "1.50,USD,2026-11-02T00:00:00Z,Usage,EC2,Compute,acct,i-1,AWS,AWS")
        let snapshot = try FocusExport.read(path: path, timeZone: TimeZone(identifier: "UTC")!).snapshot()
        #expect(providers(snapshot) == ["aws"])
        #expect(snapshot.endpointFailures.isEmpty)
    }

    @Test("FOCUS 1.3: ServiceProviderName wins over the deprecated ProviderName")
    func serviceProviderNameWins() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try write("v13.csv", header: Self.base + ",ProviderName,ServiceProviderName",
                             row: "1.50,USD,2026-11-02T00:00:00Z,Usage,Marketplace app,Compute,acct,i-1,Amazon Web Services,Acme Software")
        let snapshot = try FocusExport.read(path: path, timeZone: TimeZone(identifier: "UTC")!).snapshot()
        #expect(providers(snapshot) == ["acme software"])
    }

    @Test("neither column: the rows are \"focus\" and the file is reported at its header, never silently")
    func noProviderColumn() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try write("bare.csv", header: Self.base, row: "1.50,USD,2026-11-02T00:00:00Z,Usage,EC2,Compute,acct,i-1")
        let snapshot = try FocusExport.read(path: path, timeZone: TimeZone(identifier: "UTC")!).snapshot()
        #expect(providers(snapshot) == ["focus"])
        #expect(snapshot.endpointFailures.map(\.reason) == ["no_provider"])
        #expect(snapshot.endpointFailures.first?.message.hasPrefix("bare.csv:1: neither ServiceProviderName nor ProviderName") == true)
    }

    @Test("provider: on the source names the rows of a file without a provider column, and nothing is reported")
    func providerSetting() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try write("bare.csv", header: Self.base, row: "1.50,USD,2026-11-02T00:00:00Z,Usage,EC2,Compute,acct,i-1")
        let config = try ConfigLoader.parse("sources:\n  - {name: f, type: focus, path: \(path), provider: AWS}\n", file: "t.yaml", environment: [:])
        let snapshot = try await config.sources[0].makeSource().collect(CollectionWindow(now: ISO8601DateFormatter().date(from: "2026-11-03T00:00:00Z")!,
                                                                                         historyDays: 90, reporting: config.reporting))
        #expect(providers(snapshot) == ["aws"])
        #expect(snapshot.endpointFailures.isEmpty)
    }

    @Test("FOCUS 1.3 marketplace: HostProviderName, where it is not the provider nor Not Applicable, is the resource's host provider and survives storage")
    func hostProvider() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = try write("market.csv", header: Self.base + ",ServiceProviderName,HostProviderName",
                             row: "9.00,USD,2026-11-02T00:00:00Z,Usage,Datadog Pro,Other,acct,dd-1,Datadog,AWS\n"
                                + "1.50,USD,2026-11-02T00:00:00Z,Usage,EC2,Compute,acct,i-1,AWS,AWS\n"
                                + "4.00,USD,2026-11-02T00:00:00Z,Usage,Support,Other,acct,sup-1,AWS,Not Applicable")
        let snapshot = try FocusExport.read(path: path, timeZone: TimeZone(identifier: "UTC")!).snapshot()
        let resources = try #require(snapshot.described?.resources)
        let hosts = Dictionary(uniqueKeysWithValues: resources.map { ($0.id, $0.hostProvider) })
        // "Not Applicable" (FOCUS 1.3: no infrastructure involved) is no host.
        #expect(hosts == ["dd-1": "aws", "i-1": "", "sup-1": ""])
        let unpacked = try ResourceSet.unpack(ResourceSet.pack(resources))
        #expect(Dictionary(uniqueKeysWithValues: unpacked.map { ($0.id, $0.hostProvider) }) == hosts)
    }
}
