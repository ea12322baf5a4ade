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
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in nonceAlphabet.randomElement(using: &generator)! })
    }
}

/// RFC 3986 percent-encoding as OAuth 1.0 (RFC 5849 §3.6) and the URLs of this client use it.
enum OAuthEncoding {
    /// RFC 3986 unreserved characters: never encoded.
    private static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)

    /// Every byte of the UTF-8 form outside `allowed` becomes `%XX` (upper-case hex); spaces become
    /// `%20`, never `+`.
    static func percentEncode(_ text: String, allowing allowed: Set<UInt8> = unreserved) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if allowed.contains(byte) {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
