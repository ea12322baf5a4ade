import Foundation

/// One lexical unit of a SOQL query.
struct SOQLToken: Sendable {
    enum Kind: Sendable, Equatable {
        /// A name or keyword; SOQL decides which by position.
        case identifier
        /// A single-quoted string with its escapes undecoded, since `\%` and `\_` are legal only in a LIKE pattern.
        case string(content: String)
        case number(Decimal)
        case date(String)
        case dateTime(Date)
        /// An operator, bracket, comma or dot, or any other character the parser will refuse.
        case symbol
        case end
    }

    let kind: Kind
    /// The token as written (`<EOF>` at the end), which is how Salesforce quotes it in errors.
    let text: String
    /// Where the token starts, counted in Unicode scalars.
    let offset: Int

    func isKeyword(_ keyword: String) -> Bool {
        kind == .identifier && text.uppercased() == keyword
    }

    func isSymbol(_ symbol: String) -> Bool {
        kind == .symbol && text == symbol
    }
}

enum SOQLLexer {
    /// Splits a query into tokens, ending with an `.end` token.
    static func tokens(in query: String) throws(SOQLError) -> [SOQLToken] {
        var scanner = SOQLScanner(query: query)
        var tokens: [SOQLToken] = []
        while true {
            let token = try scanner.nextToken()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }
}

private struct SOQLScanner {
    let query: String
    let scalars: [Unicode.Scalar]
    var index = 0
    /// End of the last token, where errors about a missing token point.
    var lastTokenEnd = 0

    init(query: String) {
        self.query = query
        self.scalars = Array(query.unicodeScalars)
    }

    func peek(_ distance: Int = 0) -> Unicode.Scalar? {
        let position = index + distance
        return scalars.indices.contains(position) ? scalars[position] : nil
    }

    func text(from start: Int) -> String {
        String(String.UnicodeScalarView(scalars[start..<index]))
    }

    mutating func nextToken() throws(SOQLError) -> SOQLToken {
        while let scalar = peek(), scalar.isSOQLWhitespace {
            index += 1
        }
        let start = index
        guard let first = peek() else {
            return SOQLToken(kind: .end, text: "<EOF>", offset: lastTokenEnd)
        }

        let kind: SOQLToken.Kind
        if first.isSOQLIdentifierStart {
            while let scalar = peek(), scalar.isSOQLIdentifierPart {
                index += 1
            }
            kind = .identifier
        } else if first == "'" {
            kind = try scanString()
        } else if let temporal = try scanDateOrDateTime() {
            kind = temporal
        } else if startsNumber() {
            kind = try scanNumber()
        } else {
            index += 1
            if let second = peek(), ["!=", "<>", "<=", ">="].contains("\(first)\(second)") {
                index += 1
            }
            kind = .symbol
        }
        lastTokenEnd = index
        return SOQLToken(kind: kind, text: text(from: start), offset: start)
    }

    private mutating func scanString() throws(SOQLError) -> SOQLToken.Kind {
        let contentStart = index + 1
        index += 1
        while let scalar = peek() {
            if scalar == "'" {
                let content = text(from: contentStart)
                index += 1
                return .string(content: content)
            }
            // Skipping the escaped character keeps `\'` inside the string; the parser checks the escape itself.
            index += scalar == "\\" ? 2 : 1
        }
        index = scalars.count
        throw lexicalError("mismatched character '<EOF>' expecting '''")
    }

    private func startsNumber() -> Bool {
        let afterSign = peek() == "-" ? 1 : 0
        if peek(afterSign)?.isSOQLDigit == true { return true }
        return peek(afterSign) == "." && peek(afterSign + 1)?.isSOQLDigit == true
    }

    private mutating func scanNumber() throws(SOQLError) -> SOQLToken.Kind {
        let start = index
        if peek() == "-" { index += 1 }
        skipDigits()
        if peek() == ".", peek(1)?.isSOQLDigit == true {
            index += 1
            skipDigits()
        }
        guard let number = Decimal(string: text(from: start), locale: nil) else {
            throw SOQLError(code: SOQLError.malformedQuery, message: "invalid number '\(text(from: start))'", query: query, offset: start)
        }
        return .number(number)
    }

    private mutating func skipDigits() {
        while let scalar = peek(), scalar.isSOQLDigit {
            index += 1
        }
    }

    /// Reads `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ss[.SSS](Z|±hh:mm)`; nil when the text does not start like a date.
    private mutating func scanDateOrDateTime() throws(SOQLError) -> SOQLToken.Kind? {
        let start = index
        guard fits(shape: "9999-99-99") else { return nil }
        let year = number(at: start, length: 4)
        let month = number(at: start + 5, length: 2)
        let day = number(at: start + 8, length: 2)
        index += 10
        guard year >= 1, (1...12).contains(month), (1...Self.daysIn(month: month, year: year)).contains(day) else {
            throw SOQLError(code: SOQLError.malformedQuery, message: "invalid date '\(text(from: start))'", query: query, offset: start)
        }
        guard peek() == "T" || peek() == "t" else { return .date(text(from: start)) }
        index += 1

        let timeStart = index
        try consume(shape: "99:99:99")
        let hour = number(at: timeStart, length: 2)
        let minute = number(at: timeStart + 3, length: 2)
        let second = number(at: timeStart + 6, length: 2)
        var fraction = 0.0
        if peek() == "." {
            index += 1
            let fractionStart = index
            try consume(shape: "9")
            skipDigits()
            fraction = Double("0.\(text(from: fractionStart))") ?? 0
        }

        var zoneOffsetSeconds = 0
        var zoneIsValid = true
        switch peek() {
        case "Z", "z":
            index += 1
        case "+", "-":
            let sign = peek() == "-" ? -1 : 1
            index += 1
            let zoneStart = index
            try consume(shape: "99:99")
            let zoneHours = number(at: zoneStart, length: 2)
            let zoneMinutes = number(at: zoneStart + 3, length: 2)
            zoneIsValid = zoneHours < 24 && zoneMinutes < 60
            zoneOffsetSeconds = sign * (zoneHours * 3600 + zoneMinutes * 60)
        default:
            throw noViableAlternative()
        }
        guard hour < 24, minute < 60, second < 60, zoneIsValid else {
            throw SOQLError(code: SOQLError.malformedQuery, message: "invalid dateTime '\(text(from: start))'", query: query, offset: start)
        }

        let localSeconds = Self.daysSinceEpoch(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
        return .dateTime(Date(timeIntervalSince1970: Double(localSeconds - zoneOffsetSeconds) + fraction))
    }

    /// Whether the text ahead matches `shape`, where `9` stands for any digit.
    private func fits(shape: String) -> Bool {
        shape.unicodeScalars.enumerated().allSatisfy { distance, expected in
            guard let actual = peek(distance) else { return false }
            return expected == "9" ? actual.isSOQLDigit : actual == expected
        }
    }

    /// Consumes text matching `shape`, failing at the first character that does not fit, as Salesforce's lexer does.
    private mutating func consume(shape: String) throws(SOQLError) {
        for expected in shape.unicodeScalars {
            guard let actual = peek(), expected == "9" ? actual.isSOQLDigit : actual == expected else {
                throw noViableAlternative()
            }
            index += 1
        }
    }

    /// The value of `length` digits at `position`, which the caller has already checked are digits.
    private func number(at position: Int, length: Int) -> Int {
        scalars[position..<(position + length)].reduce(0) { $0 * 10 + Int($1.value - 48) }
    }

    private func noViableAlternative() -> SOQLError {
        lexicalError("no viable alternative at character '\(peek().map(String.init) ?? "<EOF>")'")
    }

    /// Salesforce repeats the line and column inside the message of a lexer error. Its lexer counts columns from 0,
    /// and the prefix treats that count as 1-based, so the caret lands on the character before the failing one.
    private func lexicalError(_ detail: String) -> SOQLError {
        let startsLine = index == 0 || scalars[index - 1] == "\n" || scalars[index - 1] == "\r"
        let offset = startsLine ? index : index - 1
        let point = SOQLSourcePoint(in: query, offset: offset)
        return SOQLError(code: SOQLError.malformedQuery, message: "line \(point.row):\(point.column) \(detail)", query: query, offset: offset)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date in year 1 or later.
    private static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        // Counting years from March puts each leap day at the end of its year, so a year's length never depends on the month.
        let marchYear = month <= 2 ? year - 1 : year
        let monthsSinceMarch = month <= 2 ? month + 9 : month - 3
        let daysBeforeYear = marchYear * 365 + marchYear / 4 - marchYear / 100 + marchYear / 400
        let daysBeforeMonth = (153 * monthsSinceMarch + 2) / 5
        let daysFromMarchOfYearZeroToEpoch = 719_468
        return daysBeforeYear + daysBeforeMonth + day - 1 - daysFromMarchOfYearZeroToEpoch
    }
}

extension Unicode.Scalar {
    var isSOQLDigit: Bool { ("0"..."9").contains(self) }

    fileprivate var isSOQLIdentifierStart: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || self == "_"
    }

    fileprivate var isSOQLIdentifierPart: Bool { isSOQLIdentifierStart || isSOQLDigit }
}
