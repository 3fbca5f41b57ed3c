import CostModel
import Foundation
import SourceKit

/// Response shapes of Beget's two APIs, decoded to only the fields the exporter uses: what
/// is not declared here (passwords in `software.field_value`, S3 keys) never leaves the
/// connector.
package enum BegetLegacy {
    /// `{"status","answer":{"status","result"|"errors"}}` or `{"status":"error","error_text"}`.
    struct Envelope<Result: Decodable>: Decodable {
        struct Answer: Decodable {
            var status: String?
            var result: Result?
            var errors: [ErrorItem]?
        }
        struct ErrorItem: Decodable {
            var error_text: String?
        }
        var status: String
        var answer: Answer?
        var error_text: String?
    }

    struct AccountInfo: Decodable {
        var plan_name: String?
        var user_rate_current: FlexibleDecimal?
        var user_rate_month: FlexibleDecimal?
        var user_balance: FlexibleDecimal?
        var user_days_to_block: FlexibleDecimal?
    }

    struct Domain: Decodable {
        var id: FlexibleString
        var fqdn: String
        var registrar_status: String?
        var date_add: String?
    }
}

package enum BegetModern {
    struct Auth: Decodable {
        var token: String?
        var error: String?
    }

    /// Empty lists leave out their array: `{"total_count": 0}`.
    struct VPSList: Decodable {
        var vps: [VPS]?
        var total_count: Int?
    }

    struct VPS: Decodable {
        struct Configuration: Decodable {
            var name: String?
            var cpu_count: Int?
            var memory: Int?
            var price_day: FlexibleDecimal?
            var price_month: FlexibleDecimal?
        }
        var id: String
        var display_name: String?
        var slug: String?
        var status: String?
        var region: String?
        var date_create: String?
        var configuration: Configuration?
    }

    struct ServiceList: Decodable {
        var service: [Service]?
        var total_count: Int?
    }

    struct Service: Decodable {
        var id: String
        var type: String
        var display_name: String?
        var status: String?
        var region: String?
        var created_at: String?
        var price_day: FlexibleDecimal?
    }

    /// `{"cpu": {"date": [...], "value": [...]}}`, the key named after the statistic.
    struct Statistic: Decodable {
        struct Series: Decodable { var value: [Double?] }
        var series: [String: Series]
        init(from decoder: any Decoder) throws {
            series = try decoder.singleValueContainer().decode([String: Series].self)
        }
    }
}

/// An identifier sent as a string or a number.
struct FlexibleString: Decodable, Sendable, Hashable {
    let value: String
    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) { value = text } else { value = String(try container.decode(Int64.self)) }
    }
}
