import Foundation
import SandboxCore

/// The NetSuite account the sandbox simulates: credentials, limits and faults. Every value has a
/// default that works for local development; the sandbox's configuration file overrides them.
public struct NetSuiteSettings: Sendable, Codable {
    /// The account ID, e.g. `123456` or `123456_SB1`. A TBA header's realm must be its canonical form
    /// (uppercase, `_` not `-`).
    public var accountId = "TSTDRV1234567"
    /// Scheme and host the clients call when the sandbox sits behind a proxy, e.g.
    /// `https://123456.suitetalk.api.netsuite.com`. Without it the sandbox uses `http://` and the
    /// request's Host header. It names the URL in OAuth 1.0 base strings, the token endpoint audience,
    /// links and `Location` headers.
    public var publicBaseURL: String?
    /// Token-based authentication (OAuth 1.0a) credentials: integration record plus access token.
    public var tokenCredentials = [TokenCredential.development]
    /// OAuth 2.0 client credentials (M2M): the integration record's client ID (the assertion's `iss`).
    public var clientId = "crossbill-sandbox-m2m-client"
    /// The certificate ID NetSuite shows for the uploaded certificate (the assertion's `kid`).
    public var certificateId = "crossbill-sandbox-certificate"
    /// PEM file with the uploaded certificate or public key (RSA for PS256/384/512, EC P-256/384/521
    /// for ES256/384/512). Without it every M2M token request answers `invalid_client`.
    public var certificateFile: String?
    /// Lifetime of an M2M access token (NetSuite: 60 minutes).
    public var accessTokenSeconds = 3600
    /// How far a TBA timestamp may be from the sandbox's clock (NetSuite: 5 minutes).
    public var timestampSkewSeconds = 300
    /// Requests in flight the account allows (a developer account: 5).
    public var concurrencyLimit = 5
    /// A record-type file to use instead of the bundled `netsuite-records.json`.
    public var recordsFile: String?
    public var faults = FaultSettings()

    public init() {}

    /// One TBA credential set: what an integration record and an access token give a client.
    public struct TokenCredential: Sendable, Codable, Equatable {
        public var consumerKey: String
        public var consumerSecret: String
        public var tokenId: String
        public var tokenSecret: String

        public init(consumerKey: String, consumerSecret: String, tokenId: String, tokenSecret: String) {
            self.consumerKey = consumerKey
            self.consumerSecret = consumerSecret
            self.tokenId = tokenId
            self.tokenSecret = tokenSecret
        }

        public static let development = TokenCredential(
            consumerKey: "crossbill-sandbox-consumer-key", consumerSecret: "crossbill-sandbox-consumer-secret",
            tokenId: "crossbill-sandbox-token-id", tokenSecret: "crossbill-sandbox-token-secret")

        private enum CodingKeys: String, CodingKey, CaseIterable {
            case consumerKey, consumerSecret, tokenId, tokenSecret
        }

        public init(from decoder: any Decoder) throws {
            try StrictKeys.check(decoder, allowed: CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            consumerKey = try container.decode(String.self, forKey: .consumerKey)
            consumerSecret = try container.decode(String.self, forKey: .consumerSecret)
            tokenId = try container.decode(String.self, forKey: .tokenId)
            tokenSecret = try container.decode(String.self, forKey: .tokenSecret)
        }
    }

    /// The realm a TBA header must carry: the account ID uppercased, with `_` (hosts use `-`).
    public var realm: String {
        accountId.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case accountId, publicBaseURL, tokenCredentials, clientId, certificateId, certificateFile, accessTokenSeconds
        case timestampSkewSeconds, concurrencyLimit, recordsFile, faults
    }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        accountId = try container.decodeIfPresent(String.self, forKey: .accountId) ?? accountId
        publicBaseURL = try container.decodeIfPresent(String.self, forKey: .publicBaseURL)
        tokenCredentials = try container.decodeIfPresent([TokenCredential].self, forKey: .tokenCredentials) ?? tokenCredentials
        clientId = try container.decodeIfPresent(String.self, forKey: .clientId) ?? clientId
        certificateId = try container.decodeIfPresent(String.self, forKey: .certificateId) ?? certificateId
        certificateFile = try container.decodeIfPresent(String.self, forKey: .certificateFile)
        accessTokenSeconds = try container.decodeIfPresent(Int.self, forKey: .accessTokenSeconds) ?? accessTokenSeconds
        timestampSkewSeconds = try container.decodeIfPresent(Int.self, forKey: .timestampSkewSeconds) ?? timestampSkewSeconds
        concurrencyLimit = try container.decodeIfPresent(Int.self, forKey: .concurrencyLimit) ?? concurrencyLimit
        recordsFile = try container.decodeIfPresent(String.self, forKey: .recordsFile)
        faults = try container.decodeIfPresent(FaultSettings.self, forKey: .faults) ?? faults
        let problems = validationProblems()
        guard problems.isEmpty else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: problems.joined(separator: "; ")))
        }
    }

    /// Every reason these settings cannot be used; empty when they can.
    public func validationProblems() -> [String] {
        var problems: [String] = []
        let accountCharacters = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
        if accountId.isEmpty || accountId.unicodeScalars.contains(where: { !accountCharacters.contains($0) }) {
            problems.append("accountId must be letters, digits, _ or -, not \(accountId)")
        }
        if let publicBaseURL, PublicBaseURL(publicBaseURL) == nil {
            problems.append("publicBaseURL must be http(s)://host[:port] without a path, not \(publicBaseURL)")
        }
        if tokenCredentials.contains(where: { $0.consumerKey.isEmpty || $0.tokenId.isEmpty }) {
            problems.append("tokenCredentials need a consumerKey and a tokenId")
        }
        if Set(tokenCredentials.map(\.tokenId)).count != tokenCredentials.count {
            problems.append("tokenCredentials: each tokenId can appear only once")
        }
        if accessTokenSeconds < 1 { problems.append("accessTokenSeconds must be at least 1") }
        if timestampSkewSeconds < 1 { problems.append("timestampSkewSeconds must be at least 1") }
        if concurrencyLimit < 1 { problems.append("concurrencyLimit must be at least 1") }
        problems += faults.validationProblems().map { "faults: \($0)" }
        return problems
    }
}

/// `publicBaseURL` in the form OAuth 1.0 signs: lowercase scheme and host, the port only when it is
/// not the scheme's default, no trailing slash.
struct PublicBaseURL: Sendable {
    let text: String

    init?(_ raw: String) {
        guard let components = URLComponents(string: raw), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host?.lowercased(), !host.isEmpty,
            components.path.isEmpty || components.path == "/", components.query == nil, components.fragment == nil,
            components.user == nil
        else { return nil }
        text = BaseURI.origin(scheme: scheme, authority: components.port.map { "\(host):\($0)" } ?? host)
    }
}

enum BaseURI {
    /// `scheme://authority` with the authority lowercased and a default port left out (RFC 5849 §3.4.1.2).
    static func origin(scheme: String, authority: String) -> String {
        var authority = authority.lowercased()
        let defaultPort = scheme == "https" ? ":443" : ":80"
        if authority.hasSuffix(defaultPort) {
            authority.removeLast(defaultPort.count)
        }
        return "\(scheme)://\(authority)"
    }
}
