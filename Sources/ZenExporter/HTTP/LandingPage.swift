import Foundation

/// `GET /`: what the exporter is syncing and how that is going, for a person with a browser.
enum LandingPage {
    static func html(sources: [SourceStatus], series: Int) -> String {
        let rows = sources.map { source in
            let state = switch source.up {
            case .some(true): "up"
            case .some(false): source.hasData ? "down (serving last good data)" : "down"
            case .none: source.hasData ? "restored, syncing" : "syncing"
            }
            let lastSync = source.lastSuccess.map { ISO8601DateFormatter().string(from: $0) } ?? "never"
            let errors = source.errors.values.reduce(0, +)
            return "<tr><td>\(escape(source.name))</td><td>\(escape(source.provider))</td><td>\(state)</td><td>\(lastSync)</td>"
                + "<td>\(source.resources.count)</td><td>\(errors)</td><td>\(escape(source.lastError ?? ""))</td></tr>"
        }.joined(separator: "\n")
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>ZenExporter</title>
        <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}</style>
        </head><body>
        <h1>ZenExporter</h1>
        <p>Cloud spend for Prometheus. Version \(escape(BuildInfo.current.version)); \(series) series at <a href="/metrics">/metrics</a>.</p>
        <table><tr><th>source</th><th>provider</th><th>state</th><th>last good sync</th><th>resources</th><th>errors</th><th>last error</th></tr>
        \(rows)
        </table>
        <p><a href="/-/healthy">/-/healthy</a> · <a href="/-/ready">/-/ready</a></p>
        </body></html>

        """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
