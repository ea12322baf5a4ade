import Contract
import Foundation
import SandboxCore

/// How a record is shown: where its links point and how much of it.
struct RenderOptions: Sendable {
    /// `scheme://host[:port]` of the links.
    let origin: String
    /// `?expandSubResources=true`: sublist lines inline instead of links.
    var expandSubResources = false
    /// `?fields=a,b`, lowercased; nil for every field.
    var fields: Set<String>?

    func includes(_ name: String) -> Bool { fields?.contains(name.lowercased()) ?? true }
}

enum RecordPaths {
    static let recordService = "/services/rest/record/v1"

    /// Links name record types in lowercase (unverified: NetSuite's own links may keep the camelCase name).
    static func record(_ key: RecordKey, origin: String) -> String {
        "\(origin)\(recordService)/\(key.type.lowercased())/\(key.id)"
    }

    static func selfLink(_ href: String) -> JSONValue {
        [["rel": "self", "href": .string(href)]]
    }
}

extension AccountData {
    /// A record as `GET /record/v1/{type}/{id}` returns it. Empty fields are left out, as NetSuite does.
    func render(_ record: StoredRecord, type: RecordType, options: RenderOptions) -> JSONValue {
        let url = RecordPaths.record(record.key, origin: options.origin)
        var body: [String: JSONValue] = ["links": RecordPaths.selfLink(url), "id": .string(String(record.key.id))]
        let values = effectiveValues(of: record, type: type)
        for field in type.fields where options.includes(field.name) {
            if let value = values[field.name] { body[field.name] = render(value, kind: field.kind, origin: options.origin) }
        }
        for sublist in type.sublists where options.includes(sublist.name) {
            let lines = record.sublists[sublist.name] ?? []
            let sublistURL = "\(url)/\(sublist.name.lowercased())"
            body[sublist.name] = options.expandSubResources
                ? renderLines(lines, of: sublist, url: sublistURL, origin: options.origin) : ["links": RecordPaths.selfLink(sublistURL)]
        }
        return .object(body)
    }

    /// A sublist as a collection: every line, one page.
    func renderLines(_ lines: [StoredLine], of sublist: SublistDefinition, url: String, origin: String) -> JSONValue {
        let items = lines.map { line in
            var body: [String: JSONValue] = ["links": [], "line": .number(Decimal(line.line))]
            for field in sublist.lineFields {
                if let value = line.values[field.name] { body[field.name] = render(value, kind: field.kind, origin: origin) }
            }
            return JSONValue.object(body)
        }
        return [
            "links": RecordPaths.selfLink(url), "items": .array(items), "totalResults": .number(Decimal(items.count)),
            "count": .number(Decimal(items.count)), "hasMore": false, "offset": 0,
        ]
    }

    private func render(_ value: FieldValue, kind: FieldKind, origin: String) -> JSONValue {
        switch value {
        case .text(let text), .date(let text): return .string(text)
        case .number(let number): return .number(number)
        case .boolean(let flag): return .bool(flag)
        case .dateTime(let date): return .string(date.formatted(.iso8601))
        case .reference(let key):
            return ["links": RecordPaths.selfLink(RecordPaths.record(key, origin: origin)), "id": .string(String(key.id)), "refName": .string(refName(of: key))]
        case .option(let id):
            guard case .enumeration(let options) = kind, let option = options.first(where: { $0.id == id }) else { return .string(id) }
            return ["id": .string(option.id), "refName": .string(option.refName)]
        case .subrecord(let values):
            guard case .subrecord(let fields) = kind else { return .null }
            var body: [String: JSONValue] = [:]
            for field in fields {
                if let nested = values[field.name] { body[field.name] = render(nested, kind: field.kind, origin: origin) }
            }
            return .object(body)
        }
    }

    /// The name NetSuite shows for a referenced record, from its type's template (e.g. `Invoice #{tranId}`).
    func refName(of key: RecordKey) -> String {
        guard let type = schema.recordType(named: key.type), let record = record(key) else { return "" }
        var result = ""
        var remainder = Substring(type.refNameTemplate)
        while let open = remainder.firstIndex(of: "{"), let close = remainder[open...].firstIndex(of: "}") {
            result += remainder[..<open]
            let name = String(remainder[remainder.index(after: open)..<close])
            result += name == "id" ? String(key.id) : text(of: record.values[name], in: type.field(named: name))
            remainder = remainder[remainder.index(after: close)...]
        }
        result += remainder
        return result.trimmingCharacters(in: .whitespaces)
    }

    private func text(of value: FieldValue?, in field: FieldDefinition?) -> String {
        switch value {
        case .text(let text)?, .date(let text)?: text
        case .number(let number)?: "\(number)"
        case .boolean(let flag)?: flag ? "T" : "F"
        case .reference(let key)?: refName(of: key)
        case .option(let id)?:
            if case .enumeration(let options)? = field?.kind { options.first { $0.id == id }?.refName ?? id } else { id }
        case .dateTime(let date)?: date.formatted(.iso8601)
        case .subrecord?, nil: ""
        }
    }
}
