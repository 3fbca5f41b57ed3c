import Foundation

/// Selectel response shapes, only the fields the exporter reads.
enum Selectel {
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

    struct TokenBody: Decodable {
        struct Token: Decodable {
            struct Service: Decodable {
                struct Endpoint: Decodable { var interface: String?; var region: String?; var region_id: String?; var url: String }
                var type: String
                var endpoints: [Endpoint]
            }
            var expires_at: String?
            var catalog: [Service]?
        }
        var token: Token
    }

    /// `GET /vpc/resell/v2/projects`: `{"projects": [{"id", "name", "enabled", …}]}`.
    struct Projects: Decodable {
        struct Project: Decodable { var id: String; var name: String?; var enabled: Bool? }
        var projects: [Project]
    }

    struct Link: Decodable { var rel: String?; var href: String? }

    struct Servers: Decodable {
        struct Server: Decodable {
            struct Flavor: Decodable { var original_name: String?; var vcpus: Int?; var ram: Int? }
            var id: String
            var name: String?
            var status: String?
            var created: String?
            var flavor: Flavor?
            var metadata: [String: String]?
        }
        var servers: [Server]
        var servers_links: [Link]?
    }

    struct Volumes: Decodable {
        struct Volume: Decodable {
            struct Attachment: Decodable { var server_id: String? }
            var id: String
            var name: String?
            var size: Int?
            var status: String?
            var volume_type: String?
            var created_at: String?
            var attachments: [Attachment]?
        }
        var volumes: [Volume]
        var volumes_links: [Link]?
    }

    struct Ports: Decodable {
        struct Port: Decodable {
            var id: String
            var name: String?
            var device_id: String?
            var device_owner: String?
            var status: String?
        }
        var ports: [Port]
    }

    /// Gnocchi aggregates: `{"measures": {"aggregated": [[time, granularity, value], …]}}`
    /// or `{"measures": {"<id>": {"<metric>": {"mean": [[…]]}}}}`.
    struct Aggregates: Decodable {
        var values: [Double]
        init(from decoder: any Decoder) throws {
            struct Point: Decodable {
                var value: Double?
                init(from decoder: any Decoder) throws {
                    var container = try decoder.unkeyedContainer()
                    _ = try container.decode(String.self)
                    _ = try container.decode(Double.self)
                    value = try container.decodeIfPresent(Double.self)
                }
            }
            struct Nested: Decodable { var measures: [String: AnyLevel] }
            enum AnyLevel: Decodable {
                case points([Point]), nested([String: AnyLevel])
                init(from decoder: any Decoder) throws {
                    if let points = try? [Point](from: decoder) { self = .points(points) } else { self = .nested(try [String: AnyLevel](from: decoder)) }
                }
                var all: [Double] {
                    switch self {
                    case let .points(points): points.compactMap(\.value)
                    case let .nested(levels): levels.values.flatMap(\.all)
                    }
                }
            }
            values = try Nested(from: decoder).measures.values.flatMap(\.all)
        }
    }
}
