import CostModel
import Foundation

/// What the exporter knows about one source: its last good data and its sync health.
struct SourceStatus: Sendable {
    struct ErrorKey: Hashable, Sendable {
        var endpoint: String
        var reason: String
    }

    let name: String
    let provider: String
    var resources: [Resource] = []
    var extras = SnapshotExtras()
    /// What the last good sync did, per action.
    var actions: [ChangeAction: Int] = [:]
    var hasData = false
    /// nil until the first attempt of this run finishes.
    var up: Bool?
    var lastSuccess: Date?
    var lastAttempt: Date?
    var lastDuration: Double?
    var lastError: String?
    var errors: [ErrorKey: Int] = [:]
}

/// All sources' state, and the exposition rendered from it: each change re-renders once and
/// swaps the cached buffer that `/metrics` serves.
actor Estate {
    private var statuses: [String: SourceStatus]
    private var evaluation = EstateEvaluation()
    private let renderer: EstateRenderer
    nonisolated let exposition: ExpositionCache

    init(sources: [(name: String, provider: String)], renderer: EstateRenderer) {
        statuses = Dictionary(uniqueKeysWithValues: sources.map { ($0.name, SourceStatus(name: $0.name, provider: $0.provider)) })
        self.renderer = renderer
        exposition = ExpositionCache()
        exposition.publish(renderer.render(Array(statuses.values), EstateEvaluation()))
    }

    /// Changes one source's state; `publish` false leaves re-rendering to a following
    /// `setEvaluation`, so that one sync renders the exposition once.
    func update(_ source: String, publish: Bool = true, _ change: (inout SourceStatus) -> Void) {
        guard var status = statuses[source] else { return }
        change(&status)
        statuses[source] = status
        if publish { exposition.publish(renderer.render(Array(statuses.values), evaluation)) }
    }

    /// Replaces one source's state and the evaluation together, publishing once: readiness and
    /// the served exposition never disagree.
    func apply(_ status: SourceStatus, evaluation: EstateEvaluation) {
        statuses[status.name] = status
        self.evaluation = evaluation
        exposition.publish(renderer.render(Array(statuses.values), evaluation))
    }

    func setEvaluation(_ evaluation: EstateEvaluation) {
        self.evaluation = evaluation
        exposition.publish(renderer.render(Array(statuses.values), evaluation))
    }

    var currentEvaluation: EstateEvaluation { evaluation }

    func status(of source: String) -> SourceStatus? { statuses[source] }

    var all: [SourceStatus] { statuses.values.sorted { $0.name < $1.name } }

    /// Ready once every source has restored data or finished a first attempt.
    var isReady: Bool { statuses.values.allSatisfy { $0.hasData || $0.up != nil } }
}
