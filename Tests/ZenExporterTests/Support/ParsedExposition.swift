import Testing
import Foundation

/// A minimal reader of the Prometheus text format, for assertions. Written independently of
/// the exporter's writer so that a writer bug cannot hide itself.
struct ParsedExposition {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
        /// The value as written, for exact comparisons.
        var text: String
    }

    var samples: [Sample] = []
    var helps: [String: String] = [:]
    var types: [String: String] = [:]

    init(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst(7)
                let name = rest.prefix { $0 != " " }
                helps[String(name)] = String(rest.dropFirst(name.count + 1))
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                types[String(parts[0])] = String(parts[1])
            } else if !line.hasPrefix("#") {
                samples.append(Self.sample(String(line)))
            }
        }
    }

    private static func sample(_ line: String) -> Sample {
        var labels: [String: String] = [:]
        let name: String
        var rest: Substring
        if let brace = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") {
            name = String(line[..<brace])
            var body = line[line.index(after: brace)..<close]
            while let equals = body.firstIndex(of: "=") {
                let key = String(body[..<equals]).trimmingCharacters(in: CharacterSet(charactersIn: ","))
                var value = ""
                var index = body.index(equals, offsetBy: 2)
                while body[index] != "\"" {
                    if body[index] == "\\" {
                        index = body.index(after: index)
                        value.append(body[index] == "n" ? "\n" : body[index])
                    } else {
                        value.append(body[index])
                    }
                    index = body.index(after: index)
                }
                labels[key] = value
                body = body[body.index(after: index)...]
            }
            rest = line[line.index(after: close)...]
        } else {
            let parts = line.split(separator: " ")
            name = String(parts[0])
            rest = line.dropFirst(parts[0].count)
        }
        let text = rest.trimmingCharacters(in: .whitespaces)
        return Sample(name: name, labels: labels, value: Double(text) ?? .nan, text: text)
    }

    func values(_ name: String) -> [Sample] { samples.filter { $0.name == name } }

    func sum(_ name: String, where predicate: ([String: String]) -> Bool = { _ in true }) -> Double {
        values(name).filter { predicate($0.labels) }.map(\.value).reduce(0, +)
    }

    /// The value of the one series of `name` whose labels include `labels`; nil, and a test
    /// issue, when several match (a test must name the series it means).
    func value(_ name: String, _ labels: [String: String], sourceLocation: SourceLocation = #_sourceLocation) -> Double? {
        let matches = values(name).filter { sample in labels.allSatisfy { sample.labels[$0.key] == $0.value } }
        guard matches.count <= 1 else {
            Issue.record("\(matches.count) series of \(name) match \(labels): name the one meant", sourceLocation: sourceLocation)
            return nil
        }
        return matches.first?.value
    }
}
