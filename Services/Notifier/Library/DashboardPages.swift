import Contract
import Foundation
import HTTPTypes
import Hummingbird

/// The dashboard's server-rendered pages. Every value from the history is escaped.
enum DashboardPages {
    static func html(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                      HTTPField.Name("Content-Security-Policy")!: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"],
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func escape(_ text: String?) -> String {
        guard let text else { return "" }
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    private static func page(_ title: String, _ content: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) · Crossbill</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; }
        h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin-top: 1.8rem; }
        table { border-collapse: collapse; width: 100%; margin-top: .4rem; }
        th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #e2e5ea; vertical-align: top; }
        th { background: #f4f6f8; font-weight: 600; }
        .failed { color: #a4161a; } .ok { color: #2b7a3d; } .muted { color: #6b7280; }
        form.inline { display: inline; } .notice { background: #e8f5e9; padding: .5rem .8rem; }
        nav a { margin-right: 1rem; }
        </style></head><body>
        \(content)
        </body></html>
        """
    }

    static func login(message: String?) -> String {
        page("Sign in", """
            <h1>Crossbill dashboard</h1>
            <p>Sign in with the dashboard token (<code>notifier.dashboardToken</code>).</p>
            \(message.map { "<p class=\"failed\" id=\"login-error\">\(escape($0))</p>" } ?? "")
            <form id="login" method="post" action="/login">
              <label>Token <input id="token" name="token" type="password" autocomplete="current-password" required></label>
              <button type="submit">Sign in</button>
            </form>
            """)
    }

    static func overview(
        filter: HistoryFilter, health: [ConnectionHealth], counts: [(connection: String, object: String, outcome: String, count: Int)],
        failures: [HistoryEntry], results: [HistoryEntry], deliveries: [JSONValue]
    ) -> String {
        let healthRows = health.map { connection in
            let budget = connection.apiUsed.map { used in
                let allocation = connection.apiAllocation ?? 0
                return allocation > 0 ? "\(used) of \(allocation) (\(String(format: "%.1f", Double(used) * 100 / Double(allocation)))%)" : "\(used)"
            } ?? "—"
            return "<tr><td>\(escape(connection.connection))</td><td>\(escape(connection.system))</td><td>\(escape(connection.lastSuccess ?? "never"))</td>"
                + "<td>\(String(format: "%.1f", connection.errorRate * 100))% of \(connection.results)</td><td>\(escape(budget))</td></tr>"
        }.joined()
        let countRows = counts.map { "<tr><td>\(escape($0.connection))</td><td>\(escape($0.object))</td><td class=\"\($0.outcome == "failed" ? "failed" : "")\">\(escape($0.outcome))</td><td>\($0.count)</td></tr>" }.joined()
        let failureRows = failures.map { entry in
            "<tr class=\"failure\" data-code=\"\(escape(entry.errorCode))\"><td><a href=\"/dashboard/failures/\(entry.id)\">\(entry.id)</a></td>"
                + "<td>\(escape(entry.time))</td><td>\(escape(entry.connection))</td><td>\(escape(entry.object))</td>"
                + "<td>\(escape(entry.billingObject)) \(escape(entry.documentNumber ?? entry.billingID))</td><td>\(escape(entry.externalCustomerID))</td>"
                + "<td class=\"failed\">\(escape(entry.errorCode))</td><td>\(escape(entry.errorMessage))\(entry.errorPath.map { " <span class=\"muted\">at \(escape($0))</span>" } ?? "")</td>"
                + "<td>\(entry.attempts)</td></tr>"
        }.joined()
        let resultRows = results.map { entry in
            "<tr><td>\(escape(entry.time))</td><td>\(escape(entry.connection))</td><td>\(escape(entry.object ?? entry.billingObject))</td>"
                + "<td>\(escape(entry.documentNumber ?? entry.billingID))</td><td class=\"\(entry.outcome == "failed" ? "failed" : "ok")\">\(escape(entry.outcome))</td>"
                + "<td>\(escape(entry.errorCode ?? entry.reason))</td><td>\(escape(entry.targetID))</td></tr>"
        }.joined()
        let deliveryRows = deliveries.map { delivery in
            "<tr><td>\(escape(delivery["delivery_id"]?.stringValue))</td><td>\(escape(delivery["endpoint"]?.stringValue))</td>"
                + "<td>\(escape(delivery["event_type"]?.stringValue))</td><td>\(escape(delivery["status"]?.stringValue))</td>"
                + "<td>\(delivery["attempts"]?.numberValue.map { "\($0)" } ?? "0")</td><td>\(escape(delivery["last_error"]?.stringValue))</td></tr>"
        }.joined()
        func field(_ name: String, _ value: String?) -> String {
            "<label>\(name) <input name=\"\(name)\" value=\"\(escape(value))\" size=\"14\"></label> "
        }
        return page("Sync history", """
            <h1>Crossbill sync history</h1>
            <nav><a href="/dashboard">All</a><a href="/dashboard?outcome=failed">Failures</a>
            <form class="inline" method="post" action="/logout"><button type="submit">Sign out</button></form></nav>
            <form method="get" action="/dashboard" id="filters">
              \(field("connection", filter.connection))\(field("object", filter.object))\(field("outcome", filter.outcome))\(field("customer", filter.customer))
              <button type="submit">Filter</button>
            </form>
            <h2>Connections (last hour)</h2>
            <table id="health"><tr><th>connection</th><th>system</th><th>last success</th><th>error rate</th><th>API budget used</th></tr>\(healthRows)</table>
            <h2>Open failures</h2>
            <table id="failures"><tr><th>id</th><th>time</th><th>connection</th><th>object</th><th>document</th><th>customer</th><th>code</th><th>message</th><th>attempts</th></tr>\(failureRows)</table>
            \(failures.isEmpty ? "<p class=\"muted\">No open failures.</p>" : "")
            <h2>Outcomes (last 24 hours)</h2>
            <table id="counts"><tr><th>connection</th><th>object</th><th>outcome</th><th>count</th></tr>\(countRows)</table>
            <h2>Latest results</h2>
            <table id="results"><tr><th>time</th><th>connection</th><th>object</th><th>document</th><th>outcome</th><th>reason</th><th>target id</th></tr>\(resultRows)</table>
            <h2>Webhook deliveries</h2>
            <table id="deliveries"><tr><th>delivery</th><th>endpoint</th><th>event</th><th>status</th><th>attempts</th><th>last error</th></tr>\(deliveryRows)</table>
            """)
    }

    static func failure(_ entry: HistoryEntry, replayable: Bool, replays: [Date], notice: String?) -> String {
        let fields = entry.errorFields.isEmpty ? "" : "<tr><th>fields</th><td>\(escape(entry.errorFields.joined(separator: ", ")))</td></tr>"
        let action = entry.outcome != "failed" ? ""
            : replayable
            ? "<form method=\"post\" action=\"/dashboard/failures/\(entry.id)/retry\"><button id=\"retry\" type=\"submit\">Retry</button> replays the failed command from its dead-letter queue.</form>"
            : "<p class=\"muted\">Nothing to replay: this failure did not go to a dead-letter queue.</p>"
        return page("Failure \(entry.id)", """
            <h1>Failure \(entry.id)</h1>
            <p><a href="/dashboard">Back to the history</a></p>
            \(notice.map { "<p class=\"notice\" id=\"notice\">\(escape($0))</p>" } ?? "")
            <table id="failure">
            <tr><th>time</th><td>\(escape(entry.time))</td></tr>
            <tr><th>outcome</th><td class="\(entry.outcome == "failed" ? "failed" : "ok")">\(escape(entry.outcome))</td></tr>
            <tr><th>connection</th><td>\(escape(entry.connection)) (\(escape(entry.system)))</td></tr>
            <tr><th>object</th><td>\(escape(entry.object))</td></tr>
            <tr><th>document</th><td>\(escape(entry.billingObject)) \(escape(entry.billingID)) \(escape(entry.documentNumber))</td></tr>
            <tr><th>customer</th><td>\(escape(entry.externalCustomerID)) \(escape(entry.customerID))</td></tr>
            <tr><th>code</th><td class="failed" id="error-code">\(escape(entry.errorCode ?? entry.reason))</td></tr>
            <tr><th>message</th><td>\(escape(entry.errorMessage))</td></tr>
            <tr><th>path</th><td>\(escape(entry.errorPath))</td></tr>\(fields)
            <tr><th>attempts</th><td>\(entry.attempts)</td></tr>
            <tr><th>reported by</th><td>\(escape(entry.reporter))</td></tr>
            <tr><th>replayed</th><td id="replays">\(replays.isEmpty ? "never" : replays.map { escape($0.formatted(.iso8601)) }.joined(separator: ", "))</td></tr>
            </table>
            \(action)
            """)
    }
}
