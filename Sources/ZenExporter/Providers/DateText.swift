import Foundation

/// Provider text about to be parsed as a date. swift-corelibs-foundation's date formatters
/// trap ("Incorrect range CFRange") on some non-ASCII strings, such as a digit followed by a
/// combining mark, so text that is not printable ASCII is refused before a formatter sees it:
/// every date format providers use is ASCII. Found by the `selectel-json` fuzz target.
enum DateText {
    /// `text` when every byte is printable ASCII, else nil.
    static func ascii(_ text: String) -> String? {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F } ? text : nil
    }
}
