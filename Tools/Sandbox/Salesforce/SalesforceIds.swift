/// Salesforce record ids: a 3-character key prefix naming the object, 12 more characters, and (in the
/// 18-character form the API returns) a 3-character suffix that makes the id case-insensitive.
public enum SalesforceIds {
    private static let suffixAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345")
    private static let digits = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    /// The 18-character id of the `sequence`-th record of an object.
    public static func make(keyPrefix: String, sequence: Int) -> String {
        // The pod marker and the sequence in base 62 fill the 12 characters after the prefix.
        var body: [Character] = []
        var remaining = sequence
        repeat {
            body.append(digits[remaining % digits.count])
            remaining /= digits.count
        } while remaining > 0
        let padded = String(repeating: "0", count: max(0, 9 - body.count)) + String(body.reversed())
        return withChecksum(keyPrefix + "000" + padded)
    }

    /// The 18-character form of a 15-character id.
    public static func withChecksum(_ id15: String) -> String {
        let characters = Array(id15)
        var suffix = ""
        for chunk in 0..<3 {
            var bits = 0
            for position in 0..<5 where characters[chunk * 5 + position].isUppercase {
                bits |= 1 << position
            }
            suffix.append(suffixAlphabet[bits])
        }
        return id15 + suffix
    }

    /// The canonical 18-character form of a 15- or 18-character id, or nil when it is not an id.
    public static func canonical(_ text: String) -> String? {
        guard text.count == 15 || text.count == 18, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            return nil
        }
        let id15 = String(text.prefix(15))
        let full = withChecksum(id15)
        // An 18-character id whose suffix does not match is malformed (the suffix compares case-insensitively).
        if text.count == 18 && text.suffix(3).uppercased() != full.suffix(3) { return nil }
        return full
    }
}
