import Foundation

/// One size of server a provider sells, with its price: what rightsizing chooses from.
public struct Flavor: Sendable, Hashable, Codable {
    public var name: String
    public var vcpus: Int
    public var memoryGiB: Decimal
    public var rate: Rate

    public init(name: String, vcpus: Int, memoryGiB: Decimal, rate: Rate) {
        self.name = name
        self.vcpus = vcpus
        self.memoryGiB = memoryGiB
        self.rate = rate
    }
}

public struct RecommendationPolicy: Sendable {
    public var cpuIdleBelow: Double
    public var memoryIdleBelow: Double
    /// Environments that can be switched off outside working hours, and for how long a week.
    public var offHoursEnvironments: Set<String>
    public var offHoursPerWeek: Decimal
    public var hoursPerMonth: Decimal
    /// A smaller flavour must keep the resource's load under this share of it.
    public var rightsizeTargetUtilization = 0.8

    public init(cpuIdleBelow: Double = 0.10, memoryIdleBelow: Double = 0.40, offHoursEnvironments: Set<String> = ["dev", "staging"],
                offHoursPerWeek: Decimal = 108, hoursPerMonth: Decimal = 720) {
        self.cpuIdleBelow = cpuIdleBelow
        self.memoryIdleBelow = memoryIdleBelow
        self.offHoursEnvironments = offHoursEnvironments
        self.offHoursPerWeek = offHoursPerWeek
        self.hoursPerMonth = hoursPerMonth
    }
}

public struct Recommendation: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case rightsize, zombie, orphanVolume = "orphan_volume", unusedIP = "unused_ip", offHours = "off_hours"
    }

    public var kind: Kind
    public var resourceID: String
    public var resourceName: String
    public var provider: String
    public var savingsMonthly: Money
    /// 0…1: how sure the saving is (a zombie is near certain; off-hours depends on people).
    public var confidence: Double
    public var detail: String
}

/// What a resource is on the inputs recommendations read.
public struct RecommendationSubject: Sendable {
    public var resource: Resource
    public var environment: String
    /// Average utilisation over the statistics window (7 days), by dimension.
    public var utilization: [UtilizationSample.Dimension: Double]
    /// The flavours the resource's provider sells.
    public var flavors: [Flavor]

    public init(resource: Resource, environment: String, utilization: [UtilizationSample.Dimension: Double], flavors: [Flavor]) {
        self.resource = resource
        self.environment = environment
        self.utilization = utilization
        self.flavors = flavors
    }
}

public extension RecommendationPolicy {
    func recommend(_ subjects: [RecommendationSubject]) -> [Recommendation] {
        subjects.flatMap { recommendations(for: $0) }
    }

    private func recommendations(for subject: RecommendationSubject) -> [Recommendation] {
        let resource = subject.resource
        // Computed where a recommendation needs it: most resources get none.
        var monthly: Money { resource.rate.monthly(hoursPerMonth: hoursPerMonth) }
        func make(_ kind: Recommendation.Kind, _ savings: Money, _ confidence: Double, _ detail: String) -> Recommendation {
            Recommendation(kind: kind, resourceID: resource.id, resourceName: resource.name, provider: resource.provider,
                           savingsMonthly: savings.rounded(), confidence: confidence, detail: detail)
        }
        if resource.isZombie {
            return [make(.zombie, monthly, 0.9, "billed but absent from the inventory: find and delete it, or ask the provider")]
        }
        if resource.isUnboundAddress {
            return [make(.unusedIP, monthly, 0.9, "address bound to nothing: release it")]
        }
        if resource.isOrphan {
            return [make(.orphanVolume, monthly, 0.9, "volume attached to nothing: snapshot and delete it")]
        }
        guard resource.resourceType == "server", resource.status.value == "RUNNING" else { return [] }
        var found: [Recommendation] = []
        if let smaller = rightsizeTarget(subject) {
            // Both prices are the provider's list prices in one currency (`rightsizeTarget` keeps
            // to the current flavour's): the saving is in that currency, whatever the resource's.
            if let current = subject.flavors.first(where: { $0.name == resource.flavor }) {
                let saving = current.rate.monthly(hoursPerMonth: hoursPerMonth).amount - smaller.rate.monthly(hoursPerMonth: hoursPerMonth).amount
                if saving > 0 {
                    found.append(make(.rightsize, Money(saving, current.rate.currency), 0.8, "\(resource.flavor) → \(smaller.name)"))
                }
            }
        }
        if offHoursEnvironments.contains(subject.environment) {
            // A stopped server still pays for its disks: only the flavour's price is saved, when known.
            let running = subject.flavors.first { $0.name == resource.flavor }?.rate.monthly(hoursPerMonth: hoursPerMonth) ?? monthly
            found.append(make(.offHours, Money(running.amount * offHoursPerWeek / 168, running.currency), 0.6,
                              "stop outside working hours (\(offHoursPerWeek.plainString) of 168 hours a week)"))
        }
        return found
    }

    /// The largest cheaper flavour that still carries the load with headroom, if the server is idle.
    private func rightsizeTarget(_ subject: RecommendationSubject) -> Flavor? {
        guard let cpu = subject.utilization[.cpu], let memory = subject.utilization[.memory],
              cpu < cpuIdleBelow, memory < memoryIdleBelow,
              let current = subject.flavors.first(where: { $0.name == subject.resource.flavor }) else { return nil }
        let neededCores = cpu * Double(current.vcpus) / rightsizeTargetUtilization
        let neededMemory = memory * current.memoryGiB.doubleValue / rightsizeTargetUtilization
        return subject.flavors
            .filter { $0.rate.currency == current.rate.currency && $0.rate.perHour.amount < current.rate.perHour.amount }
            .filter { Double($0.vcpus) >= neededCores && $0.memoryGiB.doubleValue >= neededMemory }
            .max { $0.rate.perHour.amount < $1.rate.perHour.amount }
    }
}

/// Monthly spend on what nobody uses, by kind: zombies, orphan volumes, stopped-but-billed,
/// and the unused part of commitment discounts (`CommitmentLedger.Commitment.unusedMonthly`).
public enum Waste {
    public enum Kind: String, Sendable, CaseIterable {
        case zombie, orphanVolume = "orphan_volume", unusedIP = "unused_ip", stoppedBilled = "stopped_billed"
        case unusedCommitment = "unused_commitment"
    }

    public static func kind(of resource: Resource) -> Kind? {
        if resource.isZombie { return .zombie }
        if resource.isUnboundAddress { return .unusedIP }
        if resource.isOrphan { return .orphanVolume }
        if resource.isStoppedButBilled { return .stoppedBilled }
        return nil
    }
}

public extension Resource {
    /// Stopped, yet still costing money (disks and reserved addresses keep billing).
    var isStoppedButBilled: Bool { status.value == "STOPPED" && rate.amount > 0 }

    /// A public address bound to nothing: a Neutron floating IP without a port (`DOWN`), or an
    /// address a provider lists as free. It is billed while nobody can reach anything through it.
    var isUnboundAddress: Bool { resourceType == "ip" && Self.unboundAddressStatuses.contains(status.value) }

    static let unboundAddressStatuses: Set<String> = ["DOWN", "AVAILABLE", "UNATTACHED"]
}
