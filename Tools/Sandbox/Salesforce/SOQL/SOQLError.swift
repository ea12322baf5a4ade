import Foundation

/// A query the sandbox refuses, with the error code and message Salesforce would return.
public struct SOQLError: Error, Sendable, Equatable {
    /// Salesforce's `errorCode`, such as `MALFORMED_QUERY`, `INVALID_FIELD` or `INVALID_TYPE`.
    public let code: String
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

extension SOQLError {
    static let malformedQuery = "MALFORMED_QUERY"
    static let invalidField = "INVALID_FIELD"
    static let invalidType = "INVALID_TYPE"
    static let numberOutsideValidRange = "NUMBER_OUTSIDE_VALID_RANGE"

    /// An error about one spot in the query, prefixed the way Salesforce does it:
    /// the query line around the spot, a caret under it, then its row and column.
    init(code: String, message: String, query: String, offset: Int) {
        let point = SOQLSourcePoint(in: query, offset: offset)
        let caret = String(repeating: " ", count: point.caretIndent) + "^"
        self.init(
            code: code,
            message: "\n\(point.excerpt)\n\(caret)\nERROR at Row:\(point.row):Column:\(point.column)\n\(message)"
        )
    }
}

/// Where an offset, counted in Unicode scalars, falls in the query text.
struct SOQLSourcePoint {
    /// 1-based line number.
    let row: Int
    /// 1-based position within the line.
    let column: Int
    /// The part of the line Salesforce quotes: about 40 characters before the spot and 35 after, widened to whole words.
    let excerpt: String
    /// How far into `excerpt` the spot is.
    let caretIndent: Int

    init(in query: String, offset: Int) {
        let scalars = Array(query.unicodeScalars)
        let target = min(max(offset, 0), scalars.count)

        var row = 1
        var lineStart = 0
        for index in 0..<target where scalars[index].isSOQLLineBreak(before: scalars.dropFirst(index + 1).first) {
            row += 1
            lineStart = index + 1
        }
        var lineEnd = target
        while lineEnd < scalars.count, scalars[lineEnd] != "\n", scalars[lineEnd] != "\r" {
            lineEnd += 1
        }

        var excerptStart = max(lineStart, target - 40)
        while excerptStart > lineStart, !scalars[excerptStart - 1].isSOQLWhitespace {
            excerptStart -= 1
        }
        var excerptEnd = min(lineEnd, target + 35)
        while excerptEnd < lineEnd, !scalars[excerptEnd].isSOQLWhitespace {
            excerptEnd += 1
        }

        self.row = row
        self.column = target - lineStart + 1
        self.excerpt = String(String.UnicodeScalarView(scalars[excerptStart..<excerptEnd]))
        self.caretIndent = target - excerptStart
    }
}

extension Unicode.Scalar {
    /// The whitespace SOQL skips between tokens.
    var isSOQLWhitespace: Bool {
        self == " " || self == "\t" || self == "\n" || self == "\r" || self == "\u{0C}"
    }

    /// Whether this scalar ends a line; in a CR LF pair only the LF counts.
    fileprivate func isSOQLLineBreak(before next: Unicode.Scalar?) -> Bool {
        self == "\n" || (self == "\r" && next != "\n")
    }
}
