import CostModel
import Foundation
import Testing

/// The health score's components and weighting, against values worked out by hand.
@Suite("Health score")
struct HealthTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// Every component present, each at a value that is easy to check by hand.
    static func inputs() -> HealthInputs {
        var inputs = HealthInputs(currency: .rub)
        inputs.budgets = [.init(name: "total", amount: 150_000, forecast: 120_000, currency: .rub),
                          .init(name: "object-storage", amount: 1_500, forecast: 6_000, currency: .rub)]
        inputs.spendMonthly = 100_000
        inputs.wasteMonthly = 10_000
        inputs.anomalyScores = [("total", 9.5), ("service:Object Storage", 172.9), ("service:Compute", 4.2), ("service:Network", 1.0)]
        inputs.allocatedMonthly = 75_000
        inputs.unallocatedMonthly = 25_000
        inputs.sources = [.init(name: "demo", up: true, lastSuccess: now.addingTimeInterval(-600), intervalSeconds: 300),
                          .init(name: "beget", up: false, lastSuccess: now.addingTimeInterval(-600), intervalSeconds: 3600)]
        inputs.runways = [("beget/acme", 12), ("selectel/1", 90)]
        return inputs
    }

    @Test("a budget forecast at 6000 of 1500 scores 1500/6000 = 0.25; its reason names it")
    func budgetOverForecast() {
        let part = HealthAssessment(Self.inputs(), now: Self.now).part(.budget)
        #expect(part?.value == 0.25)
        #expect(part?.reason.contains("object-storage is forecast at 6000 of 1500 RUB (400 %)") == true, "\(part?.reason ?? "")")
    }

    @Test("budgets all within their amounts score 1")
    func budgetsWithin() {
        var inputs = Self.inputs()
        inputs.budgets.removeLast()
        #expect(HealthAssessment(inputs, now: Self.now).part(.budget)?.value == 1)
    }

    @Test("waste of 10 % of the run rate scores 1 - 2 x 0.1 = 0.8")
    func wasteShare() {
        #expect(HealthAssessment(Self.inputs(), now: Self.now).part(.waste)?.value == 0.8)
    }

    @Test("two services above 3 score 1/3; the total scope is not counted beside services")
    func openAnomalies() {
        let part = HealthAssessment(Self.inputs(), now: Self.now).part(.anomalies)
        #expect(part?.value == 1.0 / 3)
        #expect(part?.reason.hasPrefix("2 unusual: service:Object Storage (score 172.9)") == true, "\(part?.reason ?? "")")
    }

    @Test("75,000 of 100,000 with a tenant scores 0.75")
    func allocationCoverage() {
        #expect(HealthAssessment(Self.inputs(), now: Self.now).part(.allocation)?.value == 0.75)
    }

    @Test("a source that is down counts as stale even when its last sync is recent: 1 of 2 fresh = 0.5")
    func freshness() {
        let part = HealthAssessment(Self.inputs(), now: Self.now).part(.freshness)
        #expect(part?.value == 0.5)
        #expect(part?.reason.contains("beget (down, last good sync 10 min ago)") == true, "\(part?.reason ?? "")")
    }

    @Test("a source synced longer ago than 3 intervals is stale")
    func staleSource() {
        var inputs = Self.inputs()
        inputs.sources = [.init(name: "demo", up: true, lastSuccess: Self.now.addingTimeInterval(-901), intervalSeconds: 300)]
        #expect(HealthAssessment(inputs, now: Self.now).part(.freshness)?.value == 0)
    }

    @Test("the shortest runway, 12 days, scores 12/30 = 0.4")
    func runway() {
        #expect(HealthAssessment(Self.inputs(), now: Self.now).part(.runway)?.value == 0.4)
    }

    /// (25×0.25 + 20×0.8 + 15×(1/3) + 15×0.75 + 15×0.5 + 10×0.4) / 100 = 0.50 → 50.0
    @Test("the score is the weighted mean with the default weights: 50.0")
    func weightedScore() {
        #expect(HealthAssessment(Self.inputs(), now: Self.now).score == 50.0)
    }

    /// Without budgets and runways: (20×0.8 + 15×(1/3) + 15×0.75 + 15×0.5) / 65 = 39.75/65 = 0.6115… → 61.2
    @Test("components without data are left out and the others' weights renormalised")
    func missingComponents() {
        var inputs = Self.inputs()
        inputs.budgets = []
        inputs.runways = []
        let health = HealthAssessment(inputs, now: Self.now)
        #expect(health.parts.map(\.component) == [.waste, .anomalies, .allocation, .freshness])
        #expect(health.score == 61.2)
    }

    @Test("weights change the score: only the budget weighted gives 100 x 0.25 = 25.0")
    func customWeights() {
        let health = HealthAssessment(Self.inputs(), weights: HealthWeights([.budget: 1]), now: Self.now)
        #expect(health.score == 25.0)
    }
}
