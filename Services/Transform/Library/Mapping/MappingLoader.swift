import Contract
import Foundation

/// Loads mapping files: the defaults shipped for a system, merged with a connection's own file.
///
/// A connection's file has the same shape as the defaults. An object with the name of a default
/// object changes only the settings it gives: its fields are added to the default's, replacing fields
/// with the same target (custom fields), and `"enabled": false` turns the object off. An object with a
/// new name is added. `items` entries are merged over the defaults.
public enum MappingLoader {
    public static let billingObjects: Set<String> = [
        "customer", "subscription", "plan", "add_on", "coupon", "applied_coupon", "invoice", "credit_note", "payment",
    ]

    /// The defaults for `system`, with `overridePath` merged when given.
    public static func load(system: TargetSystem, overridePath: String? = nil) throws(MappingError) -> MappingSet {
        let name = "\(system.rawValue).json"
        guard let url = Bundle.module.url(forResource: "Mappings/\(name)", withExtension: nil),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { throw MappingError(file: name, line: 0, field: "", message: "the default mappings are missing from the build") }
        var set = try parse(text, file: "defaults/\(name)", expecting: system)
        if let overridePath {
            guard let text = try? String(contentsOfFile: overridePath, encoding: .utf8) else {
                throw MappingError(file: overridePath, line: 0, field: "", message: "cannot read the file")
            }
            set = try merge(set, with: text, file: overridePath)
        }
        return set
    }

    static func parse(_ text: String, file: String, expecting system: TargetSystem) throws(MappingError) -> MappingSet {
        let document = try MappingDocument(text: text, file: file)
        guard document.system == system else {
            throw MappingError(file: file, line: document.systemLine, field: "system", message: "is \(document.system.rawValue), expected \(system.rawValue)")
        }
        var objects: [ObjectMapping] = []
        for object in document.objects {
            objects.append(try object.complete())
        }
        return MappingSet(system: system, objects: objects, items: document.items.merged(over: .empty))
    }

    static func merge(_ defaults: MappingSet, with text: String, file: String) throws(MappingError) -> MappingSet {
        let document = try MappingDocument(text: text, file: file)
        guard document.system == defaults.system else {
            throw MappingError(file: file, line: document.systemLine, field: "system", message: "is \(document.system.rawValue), but the connection writes to \(defaults.system.rawValue)")
        }
        var set = defaults
        for object in document.objects {
            if let index = set.objects.firstIndex(where: { $0.name == object.name }) {
                set.objects[index] = try object.applied(over: set.objects[index])
            } else {
                set.objects.append(try object.complete())
            }
        }
        set.items = document.items.merged(over: set.items)
        return set
    }
}

/// A parsed mapping file, before defaults are applied.
private struct MappingDocument {
    let system: TargetSystem
    let systemLine: Int
    let objects: [PartialObject]
    let items: PartialItems

    init(text: String, file: String) throws(MappingError) {
        let root: LocatedJSON
        do {
            root = try LocatedJSON.parse(text)
        } catch {
            throw MappingError(file: file, line: error.line, field: "", message: "not valid JSON: \(error.message)")
        }
        let reader = try MappingObjectReader(root, file: file, context: "")
        try reader.allowOnly(["about", "system", "objects", "items"])
        let systemName = try reader.requiredString("system")
        guard let system = TargetSystem(rawValue: systemName) else {
            throw reader.fail("unknown system \(systemName); expected salesforce or netsuite", at: reader.node("system"), key: "system")
        }
        self.system = system
        self.systemLine = reader.node("system")?.line ?? 1
        var objects: [PartialObject] = []
        for node in try reader.array("objects") ?? [] {
            let object = try PartialObject(node, file: file, system: system)
            if objects.contains(where: { $0.name == object.name }) {
                throw MappingError(file: file, line: node.line, field: "objects[\(object.name)]", message: "two objects have this name")
            }
            objects.append(object)
        }
        self.objects = objects
        self.items = try reader.node("items").map { node throws(MappingError) in try PartialItems(node, file: file) } ?? PartialItems()
    }
}

/// An object as a file gives it; settings it leaves out come from the default of the same name.
private struct PartialObject {
    let name: String
    let reader: MappingObjectReader
    let system: TargetSystem
    let line: Int

    init(_ node: LocatedJSON, file: String, system: TargetSystem) throws(MappingError) {
        let probe = try MappingObjectReader(node, file: file, context: "objects")
        let name = try probe.requiredString("name")
        reader = try MappingObjectReader(node, file: file, context: "objects[\(name)]")
        try reader.allowOnly([
            "name", "enabled", "source", "target", "externalIdField", "externalId", "recordId", "documentNumber",
            "filters", "fields", "references", "sublists",
        ])
        self.name = name
        self.system = system
        self.line = node.line
    }

    /// A new object: everything required must be given.
    func complete() throws(MappingError) -> ObjectMapping {
        for key in ["source", "target", "externalId"] where reader.node(key) == nil {
            throw reader.fail("required for a new object", key: key)
        }
        if system == .salesforce, reader.node("externalIdField") == nil {
            throw reader.fail("required for Salesforce objects", key: "externalIdField")
        }
        let empty = ObjectMapping(
            name: name, enabled: true, source: "", target: "", externalIDField: nil, externalID: [], recordID: nil,
            documentNumber: nil, filters: [], fields: [], references: [], sublists: [])
        return try applied(over: empty)
    }

    func applied(over base: ObjectMapping) throws(MappingError) -> ObjectMapping {
        var object = base
        if let enabled = try reader.bool("enabled") { object.enabled = enabled }
        if let source = try reader.string("source") {
            guard MappingLoader.billingObjects.contains(source) else {
                throw reader.fail("unknown billing object \(source); expected one of \(MappingLoader.billingObjects.sorted().joined(separator: ", "))", at: reader.node("source"), key: "source")
            }
            object.source = source
        }
        if let target = try reader.string("target") { object.target = target }
        if let field = try reader.string("externalIdField") { object.externalIDField = field }
        if let paths = try reader.strings("externalId") { object.externalID = paths }
        if let path = try reader.string("recordId") { object.recordID = path }
        if let path = try reader.string("documentNumber") { object.documentNumber = path }
        if let nodes = try reader.array("filters") { object.filters = try parseFilters(nodes, context: "\(reader.context).filters") }
        if let nodes = try reader.array("fields") {
            for field in try parseFields(nodes, context: "\(reader.context).fields") {
                if let index = object.fields.firstIndex(where: { $0.target == field.target }) {
                    object.fields[index] = field
                } else {
                    object.fields.append(field)
                }
            }
        }
        if let nodes = try reader.array("references") { object.references = try parseReferences(nodes, context: "\(reader.context).references") }
        if let nodes = try reader.array("sublists") {
            guard system == .netsuite else { throw reader.fail("sublists exist only in NetSuite", key: "sublists") }
            object.sublists = try nodes.map { node throws(MappingError) in try parseSublist(node, context: "\(reader.context).sublists") }
        }
        return object
    }

    private var file: String { reader.file }

    private func parseFilters(_ nodes: [LocatedJSON], context: String) throws(MappingError) -> [Filter] {
        var filters: [Filter] = []
        for node in nodes {
            let filter = try MappingObjectReader(node, file: file, context: context)
            try filter.allowOnly(["path", "in", "notIn", "min", "max", "from", "to", "present"])
            let path = try filter.requiredString("path")
            let tests = filter.keys.filter { $0 != "path" }
            guard tests.count == 1, let kind = tests.first, let value = filter.node(kind) else {
                throw filter.fail("give exactly one of in, notIn, min, max, from, to, present", key: path)
            }
            let test: Filter.Test
            switch kind {
            case "in", "notIn":
                guard case .array(let items) = value.value else { throw filter.fail("expected a list", at: value, key: kind) }
                test = kind == "in" ? .oneOf(items.map(\.plain)) : .noneOf(items.map(\.plain))
            case "min", "max":
                guard case .number(let number) = value.value else { throw filter.fail("expected a number", at: value, key: kind) }
                test = kind == "min" ? .atLeast(number) : .atMost(number)
            case "from", "to":
                guard case .string(let date) = value.value, ISODate.day(of: date) != nil else {
                    throw filter.fail("expected a date (YYYY-MM-DD)", at: value, key: kind)
                }
                test = kind == "from" ? .onOrAfter(date) : .onOrBefore(date)
            default:
                guard case .bool(let flag) = value.value else { throw filter.fail("expected true or false", at: value, key: kind) }
                test = .present(flag)
            }
            filters.append(Filter(path: path, test: test))
        }
        return filters
    }

    private func parseFields(_ nodes: [LocatedJSON], context: String) throws(MappingError) -> [FieldMapping] {
        var fields: [FieldMapping] = []
        for node in nodes {
            let probe = try MappingObjectReader(node, file: file, context: context)
            let target = try probe.requiredString("target")
            let field = try MappingObjectReader(node, file: file, context: "\(context)[\(target)]")
            try field.allowOnly(["target", "source", "constant", "convert", "currency", "negate", "format", "values", "default", "maxLength", "omitNull"])
            let value: FieldMapping.Value
            switch (try field.strings("source"), field.node("constant")) {
            case (let paths?, nil): value = .source(paths)
            case (nil, let constant?): value = .constant(constant.plain)
            default: throw field.fail("give either source or constant")
            }
            let converter = try parseConverter(field)
            fields.append(FieldMapping(
                target: target, value: value, converter: converter, maxLength: try field.int("maxLength"),
                omitNull: try field.bool("omitNull") ?? false))
        }
        return fields
    }

    private func parseConverter(_ field: MappingObjectReader) throws(MappingError) -> Converter? {
        let negate = try field.bool("negate") ?? false
        func refuse(_ keys: [String], for kind: String) throws(MappingError) {
            for key in keys where field.node(key) != nil {
                throw field.fail("does not apply to convert \(kind)", at: field.node(key), key: key)
            }
        }
        guard let kind = try field.string("convert") else {
            try refuse(["currency", "negate", "format", "values", "default"], for: "(none)")
            return nil
        }
        switch kind {
        case "cents":
            try refuse(["format", "values", "default"], for: kind)
            return .cents(currencyPath: try field.string("currency") ?? "currency", negate: negate)
        case "decimal":
            try refuse(["currency", "format", "values", "default"], for: kind)
            return .decimal(negate: negate)
        case "date":
            try refuse(["currency", "negate", "values", "default"], for: kind)
            let format = try field.string("format") ?? "yyyy-MM-dd"
            guard DateFormat.isValid(format) else {
                throw field.fail("use the tokens yyyy, MM, M, dd and d with any separators", at: field.node("format"), key: "format")
            }
            return .date(format: format)
        case "datetime", "string", "boolean", "netsuiteReference":
            try refuse(["currency", "negate", "format", "values", "default"], for: kind)
            switch kind {
            case "datetime": return .datetime
            case "string": return .string
            case "boolean": return .boolean
            default: return .netsuiteReference
            }
        case "enum":
            try refuse(["currency", "negate", "format"], for: kind)
            guard let valuesNode = field.node("values"), case .object(let members) = valuesNode.value else {
                throw field.fail("convert enum needs values: {\"source value\": target value}", key: "values")
            }
            return .enumeration(
                values: Dictionary(members.map { ($0.key, $0.value.plain) }, uniquingKeysWith: { _, last in last }),
                fallback: field.node("default")?.plain)
        default:
            throw field.fail("unknown converter \(kind); expected cents, decimal, date, datetime, string, boolean, enum or netsuiteReference", at: field.node("convert"), key: "convert")
        }
    }

    private func parseReferences(_ nodes: [LocatedJSON], context: String) throws(MappingError) -> [ReferenceMapping] {
        var references: [ReferenceMapping] = []
        for node in nodes {
            let probe = try MappingObjectReader(node, file: file, context: context)
            let path = try probe.requiredString("path")
            let reference = try MappingObjectReader(node, file: file, context: "\(context)[\(path)]")
            try reference.allowOnly(["path", "object", "externalIdField", "source", "match", "createOnly"])
            let source = try reference.strings("source") ?? []
            let match = reference.node("match")?.plain.objectValue
            guard source.isEmpty != (match == nil) else { throw reference.fail("give either source or match") }
            if system == .salesforce, !source.isEmpty, reference.node("externalIdField") == nil {
                throw reference.fail("required for Salesforce references by external ID", key: "externalIdField")
            }
            references.append(ReferenceMapping(
                path: path, object: try reference.requiredString("object"), externalIDField: try reference.string("externalIdField"),
                source: source, match: match, createOnly: try reference.bool("createOnly") ?? false))
        }
        return references
    }

    private func parseSublist(_ node: LocatedJSON, context: String) throws(MappingError) -> SublistMapping {
        let probe = try MappingObjectReader(node, file: file, context: context)
        let target = try probe.requiredString("target")
        let sublist = try MappingObjectReader(node, file: file, context: "\(context)[\(target)]")
        try sublist.allowOnly(["target", "replace", "lines"])
        var lines: [LineMapping] = []
        for (index, lineNode) in (try sublist.array("lines") ?? []).enumerated() {
            let line = try MappingObjectReader(lineNode, file: file, context: "\(sublist.context).lines[\(index)]")
            try line.allowOnly(["each", "feePath", "filters", "item", "fields", "references"])
            var item: ItemRule?
            if let rule = try line.string("item") {
                if rule == "fee" {
                    item = .fee
                } else if ItemTable.kinds.contains(rule) {
                    item = .kind(rule)
                } else {
                    throw line.fail("expected fee or one of \(ItemTable.kinds.sorted().joined(separator: ", "))", at: line.node("item"), key: "item")
                }
            }
            lines.append(LineMapping(
                each: try line.string("each"),
                feePath: try line.string("feePath"),
                filters: try parseFilters(try line.array("filters") ?? [], context: "\(line.context).filters"),
                item: item,
                fields: try parseFields(try line.array("fields") ?? [], context: "\(line.context).fields"),
                references: try parseReferences(try line.array("references") ?? [], context: "\(line.context).references")))
        }
        return SublistMapping(target: target, replace: try sublist.bool("replace") ?? true, lines: lines)
    }
}

/// The `items` section of a file.
private struct PartialItems {
    var billableMetrics: [String: String] = [:]
    var addOns: [String: String] = [:]
    var defaults: [String: String] = [:]
    var fallback: String?

    init() {}

    init(_ node: LocatedJSON, file: String) throws(MappingError) {
        let reader = try MappingObjectReader(node, file: file, context: "items")
        try reader.allowOnly(["billableMetrics", "addOns", "defaults", "fallback"])
        billableMetrics = try reader.stringMap("billableMetrics") ?? [:]
        addOns = try reader.stringMap("addOns") ?? [:]
        defaults = try reader.stringMap("defaults") ?? [:]
        for kind in defaults.keys where !ItemTable.kinds.contains(kind) {
            throw reader.fail("unknown fee kind \(kind); expected one of \(ItemTable.kinds.sorted().joined(separator: ", "))", at: reader.node("defaults"), key: "defaults.\(kind)")
        }
        fallback = try reader.string("fallback")
    }

    func merged(over table: ItemTable) -> ItemTable {
        ItemTable(
            billableMetrics: table.billableMetrics.merging(billableMetrics) { _, new in new },
            addOns: table.addOns.merging(addOns) { _, new in new },
            defaults: table.defaults.merging(defaults) { _, new in new },
            fallback: fallback ?? table.fallback)
    }
}

extension ItemTable {
    /// Kinds with a default item.
    static let kinds: Set<String> = ["subscription_fee", "minimum_commitment", "coupon", "prepaid_credit", "credit_note", "tax"]
}
