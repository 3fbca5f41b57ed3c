import Foundation
import ProviderOpenStack
import SourceKit

/// Selectel response shapes, only the fields the exporter reads.
package enum Selectel {
    struct Balances: Decodable {
        struct DataBody: Decodable {
            struct Settings: Decodable { var currency: String? }
            struct Billing: Decodable { var final_sum: FlexibleDecimal? }
            var settings: Settings?
            var billings: [Billing]?
        }
        var status: String?
        var data: DataBody?
        /// Some deployments put `settings` beside `data`.
        var settings: DataBody.Settings?
    }

    // The OpenStack shapes, shared with `type: openstack` (OpenStackModels.swift).
    typealias TokenBody = OpenStack.TokenBody
    typealias Link = OpenStack.Link
    typealias Servers = OpenStack.Servers
    typealias Volumes = OpenStack.Volumes
    typealias Ports = OpenStack.Ports
    typealias Aggregates = OpenStack.Aggregates

    /// `GET /vpc/resell/v2/projects`: `{"projects": [{"id", "name", "enabled", …}]}`.
    struct Projects: Decodable {
        struct Project: Decodable { var id: String; var name: String?; var enabled: Bool? }
        var projects: [Project]
    }
}
