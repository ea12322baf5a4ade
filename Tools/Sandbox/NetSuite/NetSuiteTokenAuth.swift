import Contract
import Crypto
import Foundation
import SandboxCore
import Synchronization

/// Why a login failed, for the login audit trail. NetSuite answers every failure with the same 401
/// INVALID_LOGIN and shows the reason only in its Login Audit Trail; the sandbox does the same.
struct LoginFailure: Error, Sendable, Equatable {
    /// NetSuite's names where documented (`InvalidSignature`, `InvalidTimestamp`, `nonce_rejected`,
    /// `nonce_used`, `consumer_key_unknown`); the sandbox's own otherwise.
    let reason: String
    let consumerKey: String?
    var detail: String?
}

/// The last failed logins, shown in the sandbox statistics.
final class LoginAudit: Sendable {
    private static let capacity = 100
    private let entries = Mutex<[JSONValue]>([])

    func record(_ failure: LoginFailure, at time: Date = Date()) {
        var entry: [String: JSONValue] = ["time": .string(time.formatted(.iso8601)), "reason": .string(failure.reason)]
        if let consumerKey = failure.consumerKey { entry["consumerKey"] = .string(consumerKey) }
        if let detail = failure.detail { entry["detail"] = .string(detail) }
        entries.withLock { entries in
            entries.append(.object(entry))
            if entries.count > Self.capacity { entries.removeFirst(entries.count - Self.capacity) }
        }
    }

    var snapshot: [JSONValue] { entries.withLock { $0 } }

    func reset() { entries.withLock { $0.removeAll() } }
}

/// Token-based authentication: OAuth 1.0a (RFC 5849) with HMAC-SHA256, as NetSuite verifies it.
final class TokenBasedAuthentication: Sendable {
    /// What the signature covers, besides the Authorization header.
    struct SignedRequest: Sendable {
        let method: String
        /// `scheme://host[:port]/path`, as RFC 5849 §3.4.1.2 normalizes it.
        let baseURI: String
        /// Decoded query parameters, in request order.
        let queryParameters: [(name: String, value: String)]
        let authorization: String
    }

    private let realm: String
    private let skewSeconds: Int
    private let credentialsByToken: [String: NetSuiteSettings.TokenCredential]
    private let consumerKeys: Set<String>
    /// Nonces seen, by timestamp. A timestamp outside the skew window is refused anyway, so older
    /// entries are dropped.
    private let nonces = Mutex<[Int: Set<String>]>([:])

    init(settings: NetSuiteSettings) {
        realm = settings.realm
        skewSeconds = settings.timestampSkewSeconds
        credentialsByToken = Dictionary(settings.tokenCredentials.map { ($0.tokenId, $0) }, uniquingKeysWith: { first, _ in first })
        consumerKeys = Set(settings.tokenCredentials.map(\.consumerKey))
    }

    func reset() { nonces.withLock { $0.removeAll() } }

    /// Checks a request signed with TBA; throws the reason when it is not authentic.
    func verify(_ request: SignedRequest, now: Date = Date()) throws(LoginFailure) {
        guard let parameters = Self.parameters(ofHeader: request.authorization) else {
            throw LoginFailure(reason: "MalformedAuthorizationHeader", consumerKey: nil)
        }
        let consumerKey = parameters["oauth_consumer_key"]
        func failure(_ reason: String, _ detail: String? = nil) -> LoginFailure {
            LoginFailure(reason: reason, consumerKey: consumerKey, detail: detail)
        }
        let required = ["realm", "oauth_consumer_key", "oauth_token", "oauth_nonce", "oauth_timestamp", "oauth_signature_method", "oauth_signature"]
        if let missing = required.first(where: { parameters[$0] == nil }) { throw failure("MissingParameter", missing) }
        guard parameters["oauth_signature_method"] == "HMAC-SHA256" else {
            // HMAC-SHA1 support ended in NetSuite 2023.1.
            throw failure("UnsupportedSignatureMethod", parameters["oauth_signature_method"])
        }
        if let version = parameters["oauth_version"], version != "1.0" { throw failure("UnsupportedVersion", version) }
        guard parameters["realm"] == realm else { throw failure("InvalidAccount", "realm \(parameters["realm"] ?? "")") }
        let nowSeconds = Int(now.timeIntervalSince1970)
        // At most 12 digits, so the difference below cannot overflow.
        guard let text = parameters["oauth_timestamp"], text.count <= 12, text.allSatisfy({ $0.isASCII && $0.isNumber }),
            let timestamp = Int(text), abs(timestamp - nowSeconds) <= skewSeconds
        else {
            throw failure("InvalidTimestamp")
        }
        guard let nonce = parameters["oauth_nonce"], (6...64).contains(nonce.count),
            nonce.utf8.allSatisfy(PercentCoding.isASCIIAlphanumeric)
        else { throw failure("nonce_rejected") }
        guard let consumerKey, consumerKeys.contains(consumerKey) else { throw failure("consumer_key_unknown") }
        guard let token = parameters["oauth_token"], let credential = credentialsByToken[token], credential.consumerKey == consumerKey else {
            throw failure("InvalidToken")
        }

        var signed = parameters.filter { $0.key != "realm" && $0.key != "oauth_signature" }.map { (name: $0.key, value: $0.value) }
        signed += request.queryParameters
        let baseString = Self.baseString(method: request.method, baseURI: request.baseURI, parameters: signed)
        let key = SymmetricKey(data: Data((PercentCoding.encode(credential.consumerSecret) + "&" + PercentCoding.encode(credential.tokenSecret)).utf8))
        guard let signature = parameters["oauth_signature"].flatMap({ Data(base64Encoded: $0) }),
            HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Data(baseString.utf8), using: key)
        else { throw failure("InvalidSignature") }

        let fresh = nonces.withLock { nonces in
            nonces = nonces.filter { $0.key >= nowSeconds - skewSeconds }
            return nonces[timestamp, default: []].insert(nonce).inserted
        }
        guard fresh else { throw failure("nonce_used") }
    }

    /// `Authorization: OAuth k="v", …` as decoded name-value pairs; nil when malformed or a
    /// parameter repeats.
    static func parameters(ofHeader header: String) -> [String: String]? {
        guard header.utf8.count > 6, header.prefix(6).lowercased() == "oauth " else { return nil }
        // HTTP's optional white space is spaces and tabs.
        func trimmed(_ text: Substring) -> Substring {
            let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
            guard let first = text.firstIndex(where: { !isBlank($0) }), let last = text.lastIndex(where: { !isBlank($0) }) else { return "" }
            return text[first...last]
        }
        var result: [String: String] = [:]
        for part in header.dropFirst(6).split(separator: ",") {
            let item = trimmed(part)
            guard let equals = item.firstIndex(of: "=") else { return nil }
            let name = String(trimmed(item[..<equals]))
            var value = trimmed(item[item.index(after: equals)...])
            if value.utf8.count >= 2, value.first == "\"", value.last == "\"" {
                value = value.dropFirst().dropLast()
            }
            guard let decoded = PercentCoding.decode(value), result.updateValue(decoded, forKey: name) == nil else { return nil }
        }
        return result
    }

    /// RFC 5849 §3.4.1: method, base URI and normalized parameters, each percent-encoded, joined by `&`.
    static func baseString(method: String, baseURI: String, parameters: [(name: String, value: String)]) -> String {
        let encoded: [(name: String, value: String)] = parameters.map { (PercentCoding.encode($0.name), PercentCoding.encode($0.value)) }
        let sorted = encoded.sorted { (left, right) -> Bool in
            left.name == right.name ? left.value < right.value : left.name < right.name
        }
        let normalized = sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
        return [method.uppercased(), PercentCoding.encode(baseURI), PercentCoding.encode(normalized)].joined(separator: "&")
    }

}
