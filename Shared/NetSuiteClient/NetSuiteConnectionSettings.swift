import Foundation

/// How to reach and authenticate to one NetSuite account.
public struct NetSuiteConnectionSettings: Sendable {
    public enum Authentication: Sendable {
        /// Token-based authentication (OAuth 1.0a, HMAC-SHA256), realm = the account id.
        case tokenBased(consumerKey: String, consumerSecret: String, tokenID: String, tokenSecret: String)
        /// OAuth 2.0 client credentials (machine to machine): a JWT assertion signed with the
        /// certificate's private key, `kid` = the certificate id from NetSuite's mapping page.
        /// `privateKeyPEM` is an RSA key (2048 bits or more) for PS256 or a P-256 key for ES256.
        /// `scopes` (`rest_webservices`, `restlets`, `suite_analytics`) go into the assertion
        /// comma-separated, as NetSuite documents; none means `rest_webservices`.
        case clientCredentials(clientID: String, certificateID: String, privateKeyPEM: String, algorithm: AssertionAlgorithm, scopes: [String])
    }

    /// Signature algorithms NetSuite accepts for client-credentials assertions.
    public enum AssertionAlgorithm: String, Sendable {
        case ps256 = "PS256"
        case es256 = "ES256"
    }

    /// A name for logs and metrics (the connection's name).
    public var name: String
    /// The account id as NetSuite shows it, e.g. `1234567` or `1234567_SB1`.
    public var accountID: String
    /// The account's REST domain, e.g. `https://1234567.suitetalk.api.netsuite.com`; requests go to
    /// `<baseURL>/services/rest/record/v1/…` and tokens to `<baseURL>/services/rest/auth/oauth2/v1/token`.
    public var baseURL: String
    public var authentication: Authentication
    /// In-flight requests never exceed this (the account's concurrency limit, or the share of it this
    /// integration may use).
    public var concurrencyLimit: Int
    /// Upper bound of one HTTP call, connection set-up included.
    public var requestTimeout: Duration

    public init(
        name: String, accountID: String, baseURL: String, authentication: Authentication,
        concurrencyLimit: Int = 5, requestTimeout: Duration = .seconds(60)
    ) {
        self.name = name
        self.accountID = accountID
        self.baseURL = baseURL
        self.authentication = authentication
        self.concurrencyLimit = concurrencyLimit
        self.requestTimeout = requestTimeout
    }

    /// The host form of an account id: lower case, `_` replaced by `-` (`1234567_SB1` → `1234567-sb1`).
    public static func defaultBaseURL(accountID: String) -> String {
        "https://\(accountID.lowercased().replacingOccurrences(of: "_", with: "-")).suitetalk.api.netsuite.com"
    }
}
