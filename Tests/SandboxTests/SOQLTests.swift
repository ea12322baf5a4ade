import Foundation
import Testing
@testable import SalesforceSandbox

// MARK: - Fixtures

/// Account and Opportunity, with `Opportunity.Account` as the only parent relationship.
private struct SOQLTestSchema: SOQLSchema {
    private static let objects: [String: [String: SOQLFieldKind]] = [
        "Account": [
            "Id": .id, "Name": .string, "AnnualRevenue": .number, "IsActive__c": .boolean,
            "Billing_Id__c": .string, "CreatedDate": .dateTime, "SystemModstamp": .dateTime,
        ],
        "Opportunity": ["Id": .id, "Name": .string, "AccountId": .id, "CloseDate": .date, "Amount": .number],
    ]
    private static let relationships: [String: [String: String]] = ["Opportunity": ["Account": "Account"]]

    func objectName(matching name: String) -> String? {
        Self.objects.keys.first { $0.lowercased() == name.lowercased() }
    }

    func field(_ path: [String], on object: String) -> (path: [String], kind: SOQLFieldKind)? {
        switch path.count {
        case 1:
            guard let (name, kind) = Self.field(named: path[0], on: object) else { return nil }
            return ([name], kind)
        case 2:
            guard let (relationship, parent) = Self.relationships[object]?.first(where: { $0.key.lowercased() == path[0].lowercased() }),
                  let (name, kind) = Self.field(named: path[1], on: parent)
            else { return nil }
            return ([relationship, name], kind)
        default:
            return nil
        }
    }

    private static func field(named name: String, on object: String) -> (String, SOQLFieldKind)? {
        objects[object]?.first { $0.key.lowercased() == name.lowercased() }.map { ($0.key, $0.value) }
    }
}

/// A record keyed by canonical dotted path, e.g. `"Account.Name"`.
private struct SOQLTestRow: SOQLRow {
    let values: [String: FieldValue]

    init(_ values: [String: FieldValue]) {
        self.values = values
    }

    func value(at path: [String]) -> FieldValue {
        values[path.joined(separator: ".")] ?? .null
    }

    var id: String {
        if case .string(let id) = values["Id"] { id } else { "" }
    }
}

private func resolveSOQL(_ text: String) throws(SOQLError) -> SOQLQuery {
    try SOQLParser.parse(text).resolved(against: SOQLTestSchema())
}

/// The error parsing and resolving `text` throws.
private func soqlFailure(_ text: String) throws -> SOQLError {
    try #require(throws: SOQLError.self) { try resolveSOQL(text) }
}

/// The message without Salesforce's location prefix.
private func soqlDetail(_ error: SOQLError) -> String {
    error.message.components(separatedBy: "\n").last ?? ""
}

private let soqlAccounts = [
    SOQLTestRow(["Id": .string("1"), "Name": .string("Acme"), "AnnualRevenue": .number(100), "IsActive__c": .boolean(true)]),
    SOQLTestRow(["Id": .string("2"), "Name": .string("beta"), "AnnualRevenue": .number(50)]),
    SOQLTestRow(["Id": .string("3"), "AnnualRevenue": .number(100), "IsActive__c": .boolean(false)]),
    SOQLTestRow(["Id": .string("4"), "Name": .string("ACME 100%"), "IsActive__c": .boolean(true)]),
]

private func soqlAccountIds(_ text: String) throws -> [String] {
    try resolveSOQL(text).run(over: soqlAccounts).map(\.id)
}

// MARK: - Parsing

@Suite struct SOQLParsingTests {
    @Test func keywordsAreCaseInsensitiveAndNamesKeepTheirSpellingUntilResolved() throws {
        let query = try SOQLParser.parse("select name from account where name = 'x' order BY name Desc nulls First limit 5 offset 2")
        #expect(query.object == "account")
        #expect(query.selection == .fields([["name"]]))
        #expect(query.limit == 5)
        #expect(query.offset == 2)
        #expect(query.orderBy.map(\.field) == [["name"]])
        #expect(query.orderBy.first?.direction == .descending)
        #expect(query.orderBy.first?.nullsFirst == true)
    }

    @Test func resolvingUsesTheSchemaSpelling() throws {
        let query = try resolveSOQL(
            "select name, account.billing_id__c from OPPORTUNITY where ACCOUNT.NAME = 'x' order by closedate"
        )
        #expect(query.object == "Opportunity")
        #expect(query.selection == .fields([["Name"], ["Account", "Billing_Id__c"]]))
        #expect(query.orderBy.map(\.field) == [["CloseDate"]])
        #expect(query.description == "SELECT Name, Account.Billing_Id__c FROM Opportunity WHERE Account.Name = 'x' ORDER BY CloseDate")
    }

    @Test func countSelection() throws {
        let query = try resolveSOQL("SELECT count() FROM Account WHERE Name != null LIMIT 3")
        #expect(query.selection == .count)
        #expect(query.description == "SELECT COUNT() FROM Account WHERE Name != null LIMIT 3")
    }

    @Test(arguments: [
        ("Name = 'a'", "Name = 'a'"),
        ("Name != 'a'", "Name != 'a'"),
        ("Name <> 'a'", "Name != 'a'"),
        ("AnnualRevenue < 1", "AnnualRevenue < 1"),
        ("AnnualRevenue <= -1.5", "AnnualRevenue <= -1.5"),
        ("AnnualRevenue > .5", "AnnualRevenue > 0.5"),
        ("AnnualRevenue >= 00012.50", "AnnualRevenue >= 12.5"),
        ("Name LIKE 'Ac%me_'", "Name LIKE 'Ac%me_'"),
        ("Name IN ('a', 'b', null)", "Name IN ('a', 'b', null)"),
        ("Name NOT IN ('a')", "Name NOT IN ('a')"),
        ("NOT Name = 'a'", "NOT Name = 'a'"),
        ("NOT (Name = 'a' OR Name = 'b')", "NOT (Name = 'a' OR Name = 'b')"),
        ("Name = 'a' AND Name = 'b' AND Name = 'c'", "Name = 'a' AND Name = 'b' AND Name = 'c'"),
        ("Name = 'a' OR (Name = 'b' AND (NOT Name = 'c'))", "Name = 'a' OR (Name = 'b' AND (NOT Name = 'c'))"),
        ("((Name = 'a'))", "Name = 'a'"),
        ("IsActive__c = TRUE OR IsActive__c = false", "IsActive__c = true OR IsActive__c = false"),
        ("CreatedDate > 2024-01-02T03:04:05Z", "CreatedDate > 2024-01-02T03:04:05.000Z"),
        ("CreatedDate > 2024-01-02T03:04:05.5+01:30", "CreatedDate > 2024-01-02T01:34:05.500Z"),
        ("CreatedDate > 2024-01-02t03:04:05.123-00:30", "CreatedDate > 2024-01-02T03:34:05.123Z"),
        ("Id = null", "Id = null"),
    ])
    func whereClause(written: String, normalised: String) throws {
        let query = try resolveSOQL("SELECT Id FROM Account WHERE \(written)")
        #expect(query.description == "SELECT Id FROM Account WHERE \(normalised)")
    }

    @Test func dateLiterals() throws {
        let query = try resolveSOQL("SELECT Id FROM Opportunity WHERE CloseDate IN (2024-02-29, 1999-12-31)")
        guard case .comparison(let comparison) = query.condition else {
            Issue.record("expected a comparison")
            return
        }
        #expect(comparison.predicate == .in([.date("2024-02-29"), .date("1999-12-31")]))
    }

    @Test(arguments: [
        ("2024-01-02T03:04:05Z", 1_704_164_645.0),
        ("2024-01-02T03:04:05z", 1_704_164_645.0),
        ("2024-01-02T03:04:05+01:00", 1_704_161_045.0),
        ("2024-01-02T03:04:05-02:30", 1_704_173_645.0),
        ("2024-01-02T03:04:05.250Z", 1_704_164_645.25),
        ("1970-01-01T00:00:00Z", 0.0),
    ])
    func dateTimeLiterals(written: String, secondsSince1970: Double) throws {
        let query = try resolveSOQL("SELECT Id FROM Account WHERE CreatedDate = \(written)")
        guard case .comparison(let comparison) = query.condition,
              case .compare(.equal, .dateTime(let instant)) = comparison.predicate
        else {
            Issue.record("expected a dateTime comparison")
            return
        }
        #expect(abs(instant.timeIntervalSince1970 - secondsSince1970) < 0.000_1)
    }

    @Test(arguments: [
        ("CreatedDate > 2024-01-02T03:04:05", "line 1:62 no viable alternative at character '<EOF>'"),
        ("CreatedDate > 2024-01-02T03:04Z", "line 1:59 no viable alternative at character 'Z'"),
        ("CreatedDate > 2024-01-02T03:04:05+0100", "line 1:65 no viable alternative at character '0'"),
        ("CreatedDate > 2024-01-02T25:00:00Z", "invalid dateTime '2024-01-02T25:00:00Z'"),
        ("CloseDate > 2023-02-29", "invalid date '2023-02-29'"),
        ("CloseDate > 2024-13-01", "invalid date '2024-13-01'"),
    ])
    func malformedTemporalLiterals(condition: String, message: String) throws {
        let object = condition.hasPrefix("CloseDate") ? "Opportunity" : "Account"
        let error = try soqlFailure("SELECT Id FROM \(object) WHERE \(condition)")
        #expect(error.code == "MALFORMED_QUERY")
        #expect(soqlDetail(error) == message)
    }

    @Test func numbersBeyondDecimalRangeAreMalformed() throws {
        let error = try soqlFailure("SELECT Id FROM Account WHERE AnnualRevenue = 1" + String(repeating: "0", count: 200))
        #expect(error.code == "MALFORMED_QUERY")
        #expect(soqlDetail(error).hasPrefix("invalid number '1000"))
    }

    @Test func stringEscapes() throws {
        let query = try resolveSOQL(#"SELECT Id FROM Account WHERE Name = 'a\nb\Nc\rd\Re\tf\Tg\bh\Bi\fj\Fk\"l\'m\\n\u00e9'"#)
        guard case .comparison(let comparison) = query.condition else {
            Issue.record("expected a comparison")
            return
        }
        #expect(comparison.predicate == .compare(.equal, .string("a\nb\nc\rd\re\tf\tg\u{08}h\u{08}i\u{0C}j\u{0C}k\"l'm\\né")))
    }

    @Test func likePatternEscapesMeanLiteralWildcards() throws {
        let query = try resolveSOQL(#"SELECT Id FROM Account WHERE Name LIKE '100\%\_x%_'"#)
        guard case .comparison(let comparison) = query.condition else {
            Issue.record("expected a comparison")
            return
        }
        #expect(comparison.predicate == .like(SOQLLikePattern(elements: [.literal("100%_x"), .anySequence, .anyCharacter])))
        #expect(query.description == #"SELECT Id FROM Account WHERE Name LIKE '100\%\_x%_'"#)
    }

    @Test func unknownEscapeIsMalformed() throws {
        let error = try soqlFailure(#"SELECT Id FROM Account WHERE Name = 'ab\q'"#)
        #expect(error.code == "MALFORMED_QUERY")
        #expect(soqlDetail(error) == #"Invalid string literal 'ab\q'. Illegal character sequence '\q' in string literal."#)
    }

    @Test(arguments: [#"'50\%'"#, #"'a\_b'"#, #"'\u12'"#, #"'\uZZZZ'"#, #"'\x'"#])
    func escapesOutsideTheirPlaceAreMalformed(literal: String) throws {
        let error = try soqlFailure("SELECT Id FROM Account WHERE Name = \(literal)")
        #expect(error.code == "MALFORMED_QUERY")
        #expect(soqlDetail(error).hasPrefix("Invalid string literal "))
    }

    @Test func unterminatedStringIsMalformed() throws {
        let error = try soqlFailure("SELECT Id FROM Account WHERE Name = 'abc")
        #expect(error.code == "MALFORMED_QUERY")
        #expect(soqlDetail(error) == "line 1:40 mismatched character '<EOF>' expecting '''")
    }

    @Test func doubleQuotesAreMalformed() throws {
        let error = try soqlFailure(#"SELECT Id FROM Account WHERE Name = "abc""#)
        #expect(error.code == "MALFORMED_QUERY")
        #expect(soqlDetail(error) == #"unexpected token: '"'"#)
    }

    @Test func duplicateFieldIsMalformed() throws {
        let error = try soqlFailure("SELECT Id, Name, name FROM Account")
        #expect(error.code == "MALFORMED_QUERY")
        #expect(soqlDetail(error) == "duplicate field selected: name")
    }

    @Test(arguments: [
        ("Name = 'a' AND Name = 'b' OR Name = 'c'", "OR"),
        ("Name = 'a' OR Name = 'b' AND Name = 'c'", "AND"),
        ("(Name = 'a' OR Name = 'b') AND Name = 'c' OR Name = 'd'", "OR"),
        ("Name = 'a' AND NOT Name = 'b'", "NOT"),
        ("NOT Name = 'a' AND Name = 'b'", "AND"),
        ("NOT NOT Name = 'a'", "NOT"),
    ])
    func andOrAndNotNeedParentheses(condition: String, token: String) throws {
        let error = try soqlFailure("SELECT Id FROM Account WHERE \(condition)")
        #expect(error.code == "MALFORMED_QUERY")
        #expect(soqlDetail(error) == "unexpected token: '\(token)'")
    }

    @Test func orderByDefaults() throws {
        let query = try resolveSOQL("SELECT Id FROM Account ORDER BY Name, AnnualRevenue DESC, Id ASC NULLS LAST, CreatedDate DESC NULLS FIRST")
        #expect(query.orderBy.map(\.direction) == [.ascending, .descending, .ascending, .descending])
        #expect(query.orderBy.map(\.nullsFirst) == [true, false, false, true])
        #expect(query.description == "SELECT Id FROM Account ORDER BY Name, AnnualRevenue DESC, Id NULLS LAST, CreatedDate DESC NULLS FIRST")
    }

    @Test func limitAndOffset() throws {
        #expect(try resolveSOQL("SELECT Id FROM Account LIMIT 0").limit == 0)
        #expect(try resolveSOQL("SELECT Id FROM Account OFFSET 2000").offset == 2000)

        let tooFar = try soqlFailure("SELECT Id FROM Account LIMIT 10 OFFSET 2001")
        #expect(tooFar == SOQLError(code: "NUMBER_OUTSIDE_VALID_RANGE", message: "Maximum SOQL offset allowed is 2000"))
    }

    @Test(arguments: [
        ("SELECT Id FROM Account LIMIT -1", "-1"),
        ("SELECT Id FROM Account LIMIT 1.5", "1.5"),
        ("SELECT Id FROM Account OFFSET 5 LIMIT 2", "LIMIT"),
        ("SELECT Id FROM Account LIMIT 5 WHERE Name = 'a'", "WHERE"),
        ("SELECT Id FROM Account ORDER BY Name WHERE Name = 'a'", "WHERE"),
        ("SELECT Id FROM Account WHERE Name = 'a' x", "x"),
        ("SELECT Id FROM Account x y", "x"),
        ("SELECT Id FROM Account;", ";"),
        ("SELECT * FROM Account", "*"),
        ("SELECT Id FROM Account WHERE Name IN ()", ")"),
        ("SELECT Id FROM Account WHERE Name NOT LIKE 'a'", "LIKE"),
        ("SELECT Id FROM Account WHERE Name LIKE null", "null"),
        ("SELECT FROM Account", "FROM"),
        ("SELECT Id FROM Account WHERE", "<EOF>"),
        ("", "<EOF>"),
    ])
    func unexpectedTokens(text: String, token: String) throws {
        let error = try soqlFailure(text)
        #expect(error.code == "MALFORMED_QUERY")
        #expect(soqlDetail(error) == "unexpected token: '\(token)'")
    }

    @Test(arguments: [
        "SELECT COUNT(Id) FROM Account",
        "SELECT SUM(AnnualRevenue) FROM Account",
        "SELECT Id, (SELECT Id FROM Opportunities) FROM Account",
        "SELECT TYPEOF What WHEN Account THEN Name END FROM Event",
        "SELECT Id FROM Account GROUP BY Name",
        "SELECT Id FROM Account WHERE Name = 'a' GROUP BY Name HAVING COUNT(Id) > 1",
        "SELECT Id FROM Account WITH SECURITY_ENFORCED",
        "SELECT Id FROM Account USING SCOPE Mine",
        "SELECT Id FROM Account LIMIT 1 FOR UPDATE",
        "SELECT Id FROM Account a WHERE a.Name = 'x'",
        "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Opportunity)",
        "SELECT Id FROM Account WHERE CALENDAR_YEAR(CreatedDate) = 2024",
        "SELECT Id FROM Account ORDER BY DAY_ONLY(CreatedDate)",
        "SELECT Id FROM Account WHERE CreatedDate > TODAY",
        "SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS:30",
        "SELECT Id FROM Account WHERE CreatedDate = N_WEEKS_AGO:2",
        "SELECT Id FROM Account WHERE Name INCLUDES ('a')",
        "SELECT Id FROM Account WHERE " + String(repeating: "(", count: 101) + "Name = 'a'" + String(repeating: ")", count: 101),
    ])
    func unsupportedFeaturesSaySo(text: String) throws {
        let error = try soqlFailure(text)
        #expect(error.code == "MALFORMED_QUERY")
        #expect(soqlDetail(error).hasPrefix("the sandbox does not support "))
    }

    @Test func countMustStandAloneAndCannotBeOrdered() throws {
        #expect(soqlDetail(try soqlFailure("SELECT COUNT(), Name FROM Account")) == "COUNT() must be the only element in the SELECT list")
        #expect(soqlDetail(try soqlFailure("SELECT COUNT() FROM Account ORDER BY Name")) == "COUNT() can't be used with an ORDER BY clause")
    }

    @Test func hundredLevelsOfParenthesesAreAccepted() throws {
        let nested = String(repeating: "(", count: 100) + "Name = 'a'" + String(repeating: ")", count: 100)
        #expect(try resolveSOQL("SELECT Id FROM Account WHERE \(nested)").description == "SELECT Id FROM Account WHERE Name = 'a'")
    }

    @Test func errorsPointIntoTheQueryLikeSalesforce() throws {
        let error = try soqlFailure("SELECT Id FROM Account WHERE Name = 'a' OR Name = 'b' AND Name = 'c'")
        #expect(error.message == "\nFROM Account WHERE Name = 'a' OR Name = 'b' AND Name = 'c'\n                                            ^\nERROR at Row:1:Column:55\nunexpected token: 'AND'")
    }

    @Test func errorsOnLaterLinesCountRowsAndColumnsFromThatLine() throws {
        let error = try soqlFailure("SELECT Id\r\nFROM Account\nWHERE Nmae = 'x'")
        #expect(error.message.hasPrefix("\nWHERE Nmae = 'x'\n      ^\nERROR at Row:3:Column:7\nNo such column 'Nmae'"))
    }

    /// Salesforce quotes about 40 characters before the error and 35 after, widened to whole words.
    @Test func longLinesAreQuotedAroundTheError() throws {
        let error = try soqlFailure("SELECT Id, Name, AnnualRevenue, IsActive__c, Billing_Id__c, CreatedDate, Nmae, SystemModstamp FROM Account WHERE Name = 'x'")
        #expect(error.message.hasPrefix("\nIsActive__c, Billing_Id__c, CreatedDate, Nmae, SystemModstamp FROM Account WHERE\n                                         ^\nERROR at Row:1:Column:74\n"))
    }

    @Test func neverCrashes() {
        let valid = #"SELECT Id, Account.Name FROM Opportunity WHERE (Amount > -1.5 AND CloseDate <= 2024-02-29) OR Name LIKE 'a\_b%' OR AccountId NOT IN ('x', null) ORDER BY Name DESC NULLS FIRST LIMIT 10 OFFSET 5"#
        var texts = valid.indices.map { String(valid[..<$0]) }
        let alphabet = Array("SELECTFROMWHERE IdName'\\\"%_()<>=!.,-0123456789T:Z+ ANDORNOTINLIKE\n\r\u{0C}é😀")
        var seed: UInt64 = 42
        for _ in 0..<3_000 {
            var text = ""
            for _ in 0..<30 {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                text.append(alphabet[Int(seed >> 33) % alphabet.count])
            }
            texts += [text, "SELECT Id FROM Account WHERE " + text, "SELECT Id FROM Account WHERE Name = '" + text]
        }
        for text in texts {
            if let query = try? resolveSOQL(text) {
                _ = query.run(over: soqlAccounts)
                _ = query.description
            }
        }
    }
}

// MARK: - Resolution

@Suite struct SOQLResolutionTests {
    @Test func unknownObject() throws {
        let error = try soqlFailure("SELECT Id FROM Acount")
        #expect(error.code == "INVALID_TYPE")
        #expect(error.message == "\nSELECT Id FROM Acount\n               ^\nERROR at Row:1:Column:16\nsObject type 'Acount' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.")
    }

    @Test func unknownField() throws {
        let error = try soqlFailure("SELECT Nmae FROM Account")
        #expect(error.code == "INVALID_FIELD")
        #expect(error.message == "\nSELECT Nmae FROM Account\n       ^\nERROR at Row:1:Column:8\nNo such column 'Nmae' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.")
    }

    @Test(arguments: ["SELECT Id FROM Account WHERE Nmae = 'x'", "SELECT Id FROM Account ORDER BY Nmae"])
    func unknownFieldOutsideTheSelectList(text: String) throws {
        let error = try soqlFailure(text)
        #expect(error.code == "INVALID_FIELD")
        #expect(soqlDetail(error).hasPrefix("No such column 'Nmae' on entity 'Account'."))
    }

    @Test func unknownFieldOnParent() throws {
        let error = try soqlFailure("SELECT Account.Nmae FROM Opportunity")
        #expect(error.code == "INVALID_FIELD")
        #expect(soqlDetail(error) == "No such column 'Nmae' on entity 'Account'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.")
    }

    @Test func unknownRelationship() throws {
        let error = try soqlFailure("SELECT Acount.Name FROM Opportunity")
        #expect(error.code == "INVALID_FIELD")
        #expect(soqlDetail(error) == "Didn't understand relationship 'Acount' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.")
    }

    @Test(arguments: [
        ("Opportunity", "CloseDate = '2024-01-01'", "value of filter criterion for field 'CloseDate' must be of type date and should not be enclosed in quotes"),
        ("Opportunity", "CloseDate > 2024-01-01T00:00:00Z", "value of filter criterion for field 'CloseDate' must be of type date and should not be enclosed in quotes"),
        ("Opportunity", "CloseDate IN (2024-01-01, 5)", "value of filter criterion for field 'CloseDate' must be of type date and should not be enclosed in quotes"),
        ("Account", "CreatedDate > '2024-01-01T00:00:00Z'", "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes"),
        ("Account", "CreatedDate > 2024-01-01", "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes"),
        ("Account", "AnnualRevenue = '5'", "value of filter criterion for field 'AnnualRevenue' must be of type double and should not be enclosed in quotes"),
        ("Account", "AnnualRevenue LIKE '5%'", "value of filter criterion for field 'AnnualRevenue' must be of type double and should not be enclosed in quotes"),
        ("Account", "AnnualRevenue = true", "value of filter criterion for field 'AnnualRevenue' must be of type double and should not be enclosed in quotes"),
        ("Account", "IsActive__c = 'true'", "value of filter criterion for field 'IsActive__c' must be of type boolean and should not be enclosed in quotes"),
        ("Account", "IsActive__c = 1", "value of filter criterion for field 'IsActive__c' must be of type boolean and should not be enclosed in quotes"),
        ("Account", "Name = 5", "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes"),
        ("Account", "Name NOT IN ('a', 2024-01-01)", "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes"),
        ("Account", "Name = false", "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes"),
        ("Opportunity", "AccountId = 5", "value of filter criterion for field 'AccountId' must be of type id and should be enclosed in quotes"),
        ("Opportunity", "Account.CreatedDate = '2024'", "value of filter criterion for field 'CreatedDate' must be of type dateTime and should not be enclosed in quotes"),
    ])
    func literalMustMatchFieldType(object: String, condition: String, message: String) throws {
        let error = try soqlFailure("SELECT Id FROM \(object) WHERE \(condition)")
        #expect(error.code == "INVALID_FIELD")
        #expect(soqlDetail(error) == message)
    }

    @Test func typeErrorPointsAtTheOffendingLiteral() throws {
        let error = try soqlFailure("SELECT Id FROM Opportunity WHERE CloseDate IN (2024-01-01, '2024-01-02')")
        #expect(error.message.hasPrefix("\nOpportunity WHERE CloseDate IN (2024-01-01, '2024-01-02')\n                                            ^\nERROR at Row:1:Column:60\n"))
    }

    @Test(arguments: [
        "Name = null", "AnnualRevenue != null", "CreatedDate = null", "Id IN (null, '001')",
        "Id = '001'", "Name LIKE 'a%'", "Id LIKE '001%'", "AnnualRevenue > -3", "IsActive__c = false",
    ])
    func literalsOfTheRightTypeAreAccepted(condition: String) throws {
        _ = try resolveSOQL("SELECT Id FROM Account WHERE \(condition)")
    }

    @Test func nullCheckboxMeansFalse() throws {
        #expect(try resolveSOQL("SELECT Id FROM Account WHERE IsActive__c = null").description == "SELECT Id FROM Account WHERE IsActive__c = false")
        #expect(try resolveSOQL("SELECT Id FROM Account WHERE IsActive__c NOT IN (null)").description == "SELECT Id FROM Account WHERE IsActive__c NOT IN (false)")
    }

    @Test func resolvingTwiceChangesNothing() throws {
        let once = try resolveSOQL("select account.name from opportunity where amount > 1 order by closedate desc")
        #expect(try once.resolved(against: SOQLTestSchema()).description == once.description)
    }
}

// MARK: - Evaluation

@Suite struct SOQLEvaluationTests {
    @Test(arguments: [
        ("Name = 'acme'", ["1"]),
        ("Name = 'ACME 100%'", ["4"]),
        ("Name != 'acme'", ["2", "3", "4"]),
        ("Name <> 'ACME'", ["2", "3", "4"]),
        ("Name = null", ["3"]),
        ("Name != null", ["1", "2", "4"]),
        ("Name > 'B'", ["2"]),
        ("Name < 'b'", ["1", "4"]),
        ("Name >= 'acme'", ["1", "2", "4"]),
        ("AnnualRevenue >= 100", ["1", "3"]),
        ("AnnualRevenue < 100", ["2"]),
        ("AnnualRevenue <= 100.0", ["1", "2", "3"]),
        ("AnnualRevenue > null", []),
        ("Name IN ('BETA', 'acme')", ["1", "2"]),
        ("Name IN ('beta', null)", ["2", "3"]),
        ("Name NOT IN ('beta')", ["1", "3", "4"]),
        ("Name NOT IN ('beta', null)", ["1", "4"]),
        ("NOT Name = 'acme'", ["2", "3", "4"]),
        ("NOT (Name = 'acme' OR AnnualRevenue = 50)", ["3", "4"]),
        ("Name LIKE 'acme%'", ["1", "4"]),
        ("NOT Name LIKE 'acme%'", ["2", "3"]),
        ("IsActive__c = true", ["1", "4"]),
        ("IsActive__c = false", ["2", "3"]),
        ("IsActive__c = null", ["2", "3"]),
        ("IsActive__c != null", ["1", "4"]),
        ("IsActive__c != false", ["1", "4"]),
        ("AnnualRevenue = 100 AND (Name = null OR IsActive__c = true)", ["1", "3"]),
    ])
    func filtering(condition: String, ids: [String]) throws {
        #expect(try soqlAccountIds("SELECT Id FROM Account WHERE \(condition)") == ids)
    }

    @Test(arguments: [
        ("acme%", "Acme Corp", true),
        ("%CORP", "Acme Corp", true),
        ("a_me", "ACME", true),
        ("a_me", "acmme", false),
        (#"100\%"#, "100%", true),
        (#"100\%"#, "1000", false),
        (#"a\_b"#, "a_b", true),
        (#"a\_b"#, "axb", false),
        ("%", "", true),
        ("_", "", false),
        ("%a%b%", "xxaxxbxx", true),
        ("%a%b%", "xxbxxaxx", false),
        ("a%a", "aaa", true),
        ("a%a", "ab", false),
        ("", "", true),
        ("", "x", false),
    ])
    func like(pattern: String, name: String, matches: Bool) throws {
        let query = try resolveSOQL("SELECT Id FROM Account WHERE Name LIKE '\(pattern)'")
        #expect(query.matches(SOQLTestRow(["Name": .string(name)])) == matches)
        #expect(query.matches(SOQLTestRow([:])) == false)
    }

    @Test func datesAndDateTimesCompareChronologically() throws {
        let opportunity = SOQLTestRow(["CloseDate": .date("2024-03-01"), "Account.CreatedDate": .dateTime(Date(timeIntervalSince1970: 1_704_164_645))])
        #expect(try resolveSOQL("SELECT Id FROM Opportunity WHERE CloseDate > 2024-02-29").matches(opportunity))
        #expect(try resolveSOQL("SELECT Id FROM Opportunity WHERE CloseDate < 2024-02-29").matches(opportunity) == false)
        #expect(try resolveSOQL("SELECT Id FROM Opportunity WHERE Account.CreatedDate = 2024-01-02T04:04:05+01:00").matches(opportunity))
        #expect(try resolveSOQL("SELECT Id FROM Opportunity WHERE Account.CreatedDate < 2024-01-02T03:04:05.001Z").matches(opportunity))
    }

    @Test func missingParentReadsAsNull() throws {
        let orphan = SOQLTestRow(["Id": .string("006")])
        #expect(try resolveSOQL("SELECT Id FROM Opportunity WHERE Account.Name = null").matches(orphan))
        #expect(try resolveSOQL("SELECT Id FROM Opportunity WHERE Account.Name != 'x'").matches(orphan))
        #expect(try resolveSOQL("SELECT Id FROM Opportunity WHERE Account.Name LIKE '%'").matches(orphan) == false)
    }

    @Test func noConditionMatchesEverything() throws {
        #expect(try soqlAccountIds("SELECT Id FROM Account") == ["1", "2", "3", "4"])
    }

    @Test(arguments: [
        ("Name", ["3", "1", "4", "2"]),
        ("Name ASC NULLS LAST", ["1", "4", "2", "3"]),
        ("Name DESC", ["2", "4", "1", "3"]),
        ("Name DESC NULLS FIRST", ["3", "2", "4", "1"]),
        ("AnnualRevenue", ["4", "2", "1", "3"]),
        ("AnnualRevenue DESC", ["1", "3", "2", "4"]),
        ("AnnualRevenue DESC NULLS FIRST, Name", ["4", "3", "1", "2"]),
        ("IsActive__c, Id DESC", ["2", "3", "4", "1"]),
    ])
    func ordering(orderBy: String, ids: [String]) throws {
        #expect(try soqlAccountIds("SELECT Id FROM Account ORDER BY \(orderBy)") == ids)
    }

    @Test func sortingIsStable() throws {
        let rows = (1...50).map { SOQLTestRow(["Id": .string(String($0)), "AnnualRevenue": .number(Decimal($0 % 3))]) }
        let sorted = try resolveSOQL("SELECT Id FROM Account ORDER BY AnnualRevenue").run(over: rows).map(\.id)
        let expected = [0, 1, 2].flatMap { remainder in (1...50).filter { $0 % 3 == remainder }.map(String.init) }
        #expect(sorted == expected)
    }

    @Test func offsetThenLimitAfterSorting() throws {
        #expect(try soqlAccountIds("SELECT Id FROM Account ORDER BY AnnualRevenue LIMIT 2 OFFSET 1") == ["2", "1"])
        #expect(try soqlAccountIds("SELECT Id FROM Account LIMIT 0") == [])
        #expect(try soqlAccountIds("SELECT Id FROM Account OFFSET 10") == [])
        #expect(try soqlAccountIds("SELECT Id FROM Account WHERE AnnualRevenue != null LIMIT 10") == ["1", "2", "3"])
    }

    @Test func countQueriesCountTheRowsRun() throws {
        #expect(try resolveSOQL("SELECT COUNT() FROM Account WHERE Name LIKE 'acme%'").run(over: soqlAccounts).count == 2)
        #expect(try resolveSOQL("SELECT COUNT() FROM Account LIMIT 3").run(over: soqlAccounts).count == 3)
    }
}
