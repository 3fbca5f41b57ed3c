import Foundation

/// OpenStack response shapes (Keystone, Nova, Cinder, Neutron, Gnocchi, Manila, Octavia), only
/// the fields the exporter reads. Selectel's inventory and `type: openstack` both decode these.
package enum OpenStack {
    package struct TokenBody: Decodable {
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

    package struct Link: Decodable { var rel: String?; var href: String? }

    package struct Servers: Decodable {
        struct Server: Decodable {
            /// `original_name` from Nova microversion 2.47; only `id` before it.
            struct Flavor: Decodable { var id: String?; var original_name: String?; var vcpus: Int?; var ram: Int? }
            var id: String
            var name: String?
            var status: String?
            var created: String?
            /// The last change of state: when a stopped server stopped, near enough.
            var updated: String?
            var flavor: Flavor?
            var metadata: [String: String]?
        }
        var servers: [Server]
        var servers_links: [Link]?
    }

    package struct Volumes: Decodable {
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

    package struct Ports: Decodable {
        struct Port: Decodable {
            var id: String
            var name: String?
            var device_id: String?
            var device_owner: String?
            var status: String?
            struct FixedIP: Decodable { var ip_address: String? }
            var fixed_ips: [FixedIP]?
            var created_at: String?
        }
        var ports: [Port]
    }

    /// `GET /v2.0/networks`: only what finds a network by name.
    struct Networks: Decodable {
        struct Network: Decodable { var id: String; var name: String? }
        var networks: [Network]
    }

    /// Gnocchi aggregates: `{"measures": {"aggregated": [[time, granularity, value], …]}}`
    /// or `{"measures": {"<id>": {"<metric>": {"mean": [[…]]}}}}`.
    package struct Aggregates: Decodable {
        var values: [Double]
        package init(from decoder: any Decoder) throws {
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

    /// Neutron `GET /v2.0/floatingips`: unbound when `port_id` is null.
    struct FloatingIPs: Decodable {
        struct FloatingIP: Decodable {
            var id: String
            var floating_ip_address: String?
            var port_id: String?
            var status: String?
            var created_at: String?
        }
        var floatingips: [FloatingIP]
        var floatingips_links: [Link]?
    }

    /// Manila `GET /shares/detail`.
    struct Shares: Decodable {
        struct Share: Decodable {
            var id: String
            var name: String?
            var size: Int?
            var status: String?
            var share_type_name: String?
            var created_at: String?
        }
        var shares: [Share]
        var shares_links: [Link]?
    }

    /// Octavia `GET /v2/lbaas/loadbalancers`.
    struct LoadBalancers: Decodable {
        struct LoadBalancer: Decodable {
            var id: String
            var name: String?
            var provisioning_status: String?
            var operating_status: String?
            var created_at: String?
        }
        var loadbalancers: [LoadBalancer]
        var loadbalancers_links: [Link]?
    }
}
