import Contract
import Foundation

/// One connection's mappings: how each billing object becomes target records (DESIGN.md §4).
/// Loaded from the shipped defaults, then merged with the connection's own file.
public struct MappingSet: Sendable {
    public var system: TargetSystem
    public var objects: [ObjectMapping]
    /// NetSuite item resolution for invoice and credit-note lines.
    public var items: ItemTable

    public func mappings(for billingObject: String) -> [ObjectMapping] {
        objects.filter { $0.enabled && $0.source == billingObject }
    }
}

/// How one billing object becomes one target record.
public struct ObjectMapping: Sendable {
    /// Unique within the set; a connection's file overrides the default mapping of the same name.
    public var name: String
    public var enabled: Bool
    /// The billing object: `customer`, `subscription`, `plan`, `add_on`, `coupon`, `applied_coupon`,
    /// `invoice`, `credit_note` or `payment`.
    public var source: String
    /// Salesforce sObject or NetSuite record type.
    public var target: String
    /// Salesforce: the external-ID field upserts match on.
    public var externalIDField: String?
    /// Source paths of the external ID; the first present one is used.
    public var externalID: [String]
    /// Salesforce: source path of an existing record's Id to update instead of upserting.
    public var recordID: String?
    /// Source path of the document number shown in results.
    public var documentNumber: String?
    /// Every filter must pass, or the object is skipped.
    public var filters: [Filter]
    public var fields: [FieldMapping]
    public var references: [ReferenceMapping]
    public var sublists: [SublistMapping]
}

/// A condition on a source value.
public struct Filter: Sendable {
    public enum Test: Sendable {
        case oneOf([JSONValue])
        case noneOf([JSONValue])
        case atLeast(Decimal)
        case atMost(Decimal)
        /// ISO dates and timestamps, compared by their date.
        case onOrAfter(String)
        case onOrBefore(String)
        case present(Bool)
    }

    public var path: String
    public var test: Test
}

/// One target field.
public struct FieldMapping: Sendable {
    public enum Value: Sendable {
        /// Source paths, first present wins.
        case source([String])
        case constant(JSONValue)
    }

    public var target: String
    public var value: Value
    public var converter: Converter?
    /// Strings longer than this are cut to fit the target field.
    public var maxLength: Int?
    /// Leave the field out when the value is null, instead of clearing it.
    public var omitNull: Bool
}

/// How a source value is turned into the target's representation.
public enum Converter: Sendable {
    /// Integer minor units → decimal, by the currency's exponent (found at `currencyPath`).
    case cents(currencyPath: String, negate: Bool)
    /// A decimal carried as a string (`"0.002"`) → number.
    case decimal(negate: Bool)
    /// A date or timestamp → a date in `format` (tokens yyyy, MM, M, dd, d).
    case date(format: String)
    /// A timestamp → ISO 8601 UTC with milliseconds.
    case datetime
    case string
    case boolean
    /// Source value → target value; unmapped values take `fallback`, or fail.
    case enumeration(values: [String: JSONValue], fallback: JSONValue?)
    /// A NetSuite reference by internal id from a constant or source: → `{"id": value}`.
    case netsuiteReference
}

/// A pointer to a parent record.
public struct ReferenceMapping: Sendable {
    public var path: String
    public var object: String
    public var externalIDField: String?
    /// Source paths of the parent's external ID; the reference is left out when none is present.
    public var source: [String]
    public var match: [String: JSONValue]?
    public var createOnly: Bool
}

/// NetSuite: lines of a sublist (`item`, `apply`), built from the object.
public struct SublistMapping: Sendable {
    public var target: String
    /// Replace the record's existing lines instead of merging.
    public var replace: Bool
    public var lines: [LineMapping]
}

/// A group of lines: one per element of `each`, or one line when `each` is nil.
public struct LineMapping: Sendable {
    public var each: String?
    /// Where the line's fee is, relative to the element (credit-note items carry it under `fee`);
    /// nil when the element is the fee.
    public var feePath: String?
    public var filters: [Filter]
    public var item: ItemRule?
    public var fields: [FieldMapping]
    public var references: [ReferenceMapping]
}

/// How a line's NetSuite item is chosen.
public enum ItemRule: Sendable {
    /// From the fee on the line: billable metric or add-on one-to-one, else the default of the fee kind.
    case fee
    /// The default item of a kind (`coupon`, `prepaid_credit`, `credit_note`, …).
    case kind(String)
}

/// NetSuite items for lines: one-to-one mappings, defaults per fee kind, and a fallback.
public struct ItemTable: Sendable {
    public var billableMetrics: [String: String]
    public var addOns: [String: String]
    /// By kind: `subscription_fee`, `minimum_commitment`, `coupon`, `prepaid_credit`, `credit_note`, and
    /// `tax` for the taxes line (accounts without SuiteTax tax details).
    public var defaults: [String: String]
    public var fallback: String?

    public static let empty = ItemTable(billableMetrics: [:], addOns: [:], defaults: [:], fallback: nil)
}
