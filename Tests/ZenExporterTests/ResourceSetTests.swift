import CostModel
import Foundation
@testable import Storage
import Testing
@testable import ZenExporter

@Suite("Packed resource sets")
struct ResourceSetTests {
    static func resource(_ id: String, name: String = "web", tags: [String: String] = [:], amount: String = "1086.5",
                         folded: [String] = [], zombie: Bool = false, orphan: Bool = false) -> Resource {
        Resource(provider: "selectel", id: id, name: name, resourceType: "server", service: "Cloud Servers", category: .compute,
                 region: "ru-1", account: "1", status: ResourceStatus(provider: "ACTIVE"), flavor: "SL1", tags: tags,
                 rate: Rate(amount: Decimal(string: amount)!, currency: .rub, periodHours: 24),
                 isZombie: zombie, isOrphan: orphan, folded: folded, project: "prod")
    }

    @Test("every field comes back as it was: empty and non-ASCII strings, separator bytes in tags, folded IDs, flags, long decimals")
    func roundTrip() throws {
        let resources = [
            Self.resource("vm-1", tags: ["tenant": "acme", "team": "core"]),
            Self.resource("vm-2", name: "", tags: ["k\u{1F}ey": "va\u{1E}lue", "": ""], amount: "0.000000000001",
                          folded: ["vol-1", "vol-2"], zombie: true),
            Self.resource("ведро-3", name: "хранилище 🪣", amount: "-12345678901234567890.123456", orphan: true),
            Self.resource(String(repeating: "x", count: 300)),
            // The extremes of an amount stored in micro-units, and one just past them (as text).
            Self.resource("min", amount: "-9223372036854.775808"), Self.resource("max", amount: "9223372036854.775807"),
            Self.resource("past", amount: "9223372036854.775808"),
        ]
        #expect(try ResourceSet.unpack(ResourceSet.pack(resources)) == resources)
        #expect(try ResourceSet.unpack(ResourceSet.pack([])) == [])
    }

    @Test("a repeated value is stored once: a thousand resources of one region, service and account take less than their names would")
    func sharedStringsStoredOnce() throws {
        let resources = (0..<1000).map { Self.resource("vm-\($0)", tags: ["tenant": "acme"]) }
        let packed = ResourceSet.pack(resources)
        // ID, name and amount inline (~6 + 4 + 7 bytes), 11 one-byte indices, flags, 2 tag
        // indices and counts: under 40 bytes a resource, where the shared strings alone are ~60.
        #expect(packed.count < 40 * 1000)
        #expect(try ResourceSet.unpack(packed) == resources)
    }

    @Test("a cut or altered blob is refused with where it broke, never read past its end")
    func corruptIsNamed() throws {
        let packed = ResourceSet.pack([Self.resource("vm-1", tags: ["tenant": "acme"])])
        for length in 0..<packed.count {
            #expect(throws: ResourceSet.Corrupt.self) { try ResourceSet.unpack(packed.prefix(length)) }
        }
        var future = packed
        future[future.startIndex] = 9
        #expect { try ResourceSet.unpack(future) } throws: { "\($0)" == "packed resources: version 9, not 1 at byte 0" }
        #expect { try ResourceSet.unpack(packed + Data([0])) } throws: { "\($0)".hasSuffix("1 bytes after the last resource at byte \(packed.count)") }
    }
}
