import Foundation

/// Query and form values for provider URLs and bodies.
package enum URLQuery {
    /// `text` percent-encoded: everything but RFC 3986's unreserved ASCII characters
    /// (`CharacterSet.alphanumerics` would let non-ASCII letters through unescaped).
    package static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
