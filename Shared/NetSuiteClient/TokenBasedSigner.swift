import Crypto
import Foundation

/// Token-based authentication (OAuth 1.0a, RFC 5849) as NetSuite requires it (reference B2):
/// HMAC-SHA256 over the RFC 5849 base string, key `consumerSecret&tokenSecret`, realm = the account id
/// in its canonical form (upper case, `_`).
struct TokenBasedSigner: Sendable {
    let consumerKey: String
    let consumerSecret: String
    let tokenID: String
    let tokenSecret: String
    let realm: String

    init(consumerKey: String, consumerSecret: String, tokenID: String, tokenSecret: String, accountID: String) {
        self.consumerKey = consumerKey
        self.consumerSecret = consumerSecret
        self.tokenID = tokenID
        self.tokenSecret = tokenSecret
        self.realm = Self.realm(accountID: accountID)
    }

    /// `123456-sb1` or `123456_sb1` → `123456_SB1`.
    static func realm(accountID: String) -> String {
        accountID.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// The `Authorization` header value for a request.
    /// - Parameters:
    ///   - baseURI: scheme, host and path as sent, without the query (RFC 5849 §3.4.1.2 normalizes it).
    ///   - query: the request's query parameters, decoded.
    func authorization(
        method: String, baseURI: String, query: [(String, String)], timestamp: Int = Int(Date().timeIntervalSince1970),
        nonce: String = TokenBasedSigner.nonce()
    ) -> String {
        let oauth = [
            ("oauth_consumer_key", consumerKey), ("oauth_token", tokenID), ("oauth_signature_method", "HMAC-SHA256"),
            ("oauth_timestamp", String(timestamp)), ("oauth_nonce", nonce), ("oauth_version", "1.0"),
        ]
        let base = Self.baseString(method: method, baseURI: Self.normalizedBaseURI(baseURI), parameters: oauth + query)
        let signature = Self.signature(of: base, consumerSecret: consumerSecret, tokenSecret: tokenSecret)
        let fields = [("realm", realm)] + oauth + [("oauth_signature", signature)]
        return "OAuth " + fields.map { "\($0.0)=\"\(OAuthEncoding.percentEncode($0.1))\"" }.joined(separator: ", ")
    }

    /// RFC 5849 §3.4.1: `METHOD&pct(base URI)&pct(normalized parameters)`; the parameters are
    /// percent-encoded, sorted by name then value, and joined as `k=v` with `&`.
    static func baseString(method: String, baseURI: String, parameters: [(String, String)]) -> String {
        let encoded = parameters.map { (OAuthEncoding.percentEncode($0.0), OAuthEncoding.percentEncode($0.1)) }
        let sorted = encoded.sorted { left, right in left.0 != right.0 ? left.0 < right.0 : left.1 < right.1 }
        let normalized = sorted.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        return "\(method.uppercased())&\(OAuthEncoding.percentEncode(baseURI))&\(OAuthEncoding.percentEncode(normalized))"
    }

    /// Base64 of HMAC-SHA256 with the key `pct(consumerSecret)&pct(tokenSecret)`.
    static func signature(of baseString: String, consumerSecret: String, tokenSecret: String) -> String {
        let key = SymmetricKey(data: Data("\(OAuthEncoding.percentEncode(consumerSecret))&\(OAuthEncoding.percentEncode(tokenSecret))".utf8))
        return Data(HMAC<SHA256>.authenticationCode(for: Data(baseString.utf8), using: key)).base64EncodedString()
    }

    /// RFC 5849 §3.4.1.2: lower-case scheme and host, no default port, no query or fragment.
    static func normalizedBaseURI(_ uri: String) -> String {
        guard let components = URLComponents(string: uri), let scheme = components.scheme?.lowercased(),
            let host = components.host?.lowercased()
        else { return uri }
        let isDefaultPort =
            components.port == nil || (scheme == "http" && components.port == 80) || (scheme == "https" && components.port == 443)
        let authority = isDefaultPort ? host : "\(host):\(components.port ?? 0)"
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        return "\(scheme)://\(authority)\(path)"
    }

    private static let nonceAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    /// 20 random alphanumeric characters (NetSuite: 6–64, unique per timestamp; 20 is ideal).
    static func nonce() -> String {
        // Eight random bytes per draw of the system generator (one system call each); a byte that
        // would bias the modulo is skipped.
        var generator = SystemRandomNumberGenerator()
        var characters: [Character] = []
        characters.reserveCapacity(20)
        while characters.count < 20 {
            var bits = generator.next()
            for _ in 0..<8 where characters.count < 20 {
                let byte = Int(bits & 0xFF)
                bits >>= 8
                if byte < 248 { characters.append(nonceAlphabet[byte % nonceAlphabet.count]) }
            }
        }
        return String(characters)
    }
}

/// RFC 3986 percent-encoding as OAuth 1.0 (RFC 5849 §3.6) and the URLs of this client use it.
enum OAuthEncoding {
    /// ASCII bytes that percent-encoding leaves as they are; every other byte is encoded.
    struct KeptBytes: Sendable {
        private let mask: (low: UInt64, high: UInt64)

        init(_ characters: String) {
            var mask: (low: UInt64, high: UInt64) = (0, 0)
            for byte in characters.utf8 where byte < 128 {
                if byte < 64 { mask.low |= 1 << byte } else { mask.high |= 1 << (byte - 64) }
            }
            self.mask = mask
        }

        func contains(_ byte: UInt8) -> Bool {
            byte < 64 ? mask.low >> byte & 1 == 1 : byte < 128 && mask.high >> (byte - 64) & 1 == 1
        }

        /// RFC 3986 unreserved characters.
        static let unreserved = KeptBytes("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// Every byte of the UTF-8 form outside `kept` becomes `%XX` (upper-case hex); spaces become
    /// `%20`, never `+`. Signing encodes every parameter and the whole base string on each request.
    static func percentEncode(_ text: String, keeping kept: KeptBytes = .unreserved) -> String {
        var text = text
        return text.withUTF8 { bytes in
            guard bytes.contains(where: { !kept.contains($0) }) else { return String(decoding: bytes, as: UTF8.self) }
            var encoded: [UInt8] = []
            encoded.reserveCapacity(bytes.count * 3)
            for byte in bytes {
                if kept.contains(byte) {
                    encoded.append(byte)
                } else {
                    encoded += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
                }
            }
            return String(decoding: encoded, as: UTF8.self)
        }
    }
}
