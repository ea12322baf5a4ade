/// How to reach and authenticate to one Salesforce org.
public struct SalesforceConnectionSettings: Sendable {
    /// The OAuth grant used to obtain access tokens (Salesforce REST API guide, "OAuth 2.0 for server-to-server").
    public enum Grant: Sendable {
        /// Client credentials flow: the connected app runs as its configured integration user.
        case clientCredentials(clientID: String, clientSecret: String)
        /// JWT bearer flow: an RS256 assertion signed with the connected app's certificate key.
        /// `audience` is the login host (`https://login.salesforce.com`, `https://test.salesforce.com`,
        /// or the My Domain URL).
        case jwtBearer(clientID: String, username: String, privateKeyPEM: String, audience: String)
        /// Refresh token flow, for orgs that authorised the app interactively once.
        case refreshToken(clientID: String, clientSecret: String?, refreshToken: String)
    }

    /// A name for logs and metrics (the connection's name).
    public var name: String
    /// Where tokens are requested: `<loginURL>/services/oauth2/token`.
    public var loginURL: String
    public var grant: Grant
    /// REST API version without the `v`, e.g. `62.0`. Upsert collections need 46.0 or later.
    public var apiVersion: String
    /// Upper bound of one HTTP call, connection set-up included.
    public var requestTimeout: Duration

    public init(name: String, loginURL: String, grant: Grant, apiVersion: String = "62.0", requestTimeout: Duration = .seconds(30)) {
        self.name = name
        self.loginURL = loginURL
        self.grant = grant
        self.apiVersion = apiVersion
        self.requestTimeout = requestTimeout
    }
}
