import Ingest
import ServiceRuntime
import Testing

@Suite("Ingest configuration")
struct IngestConfigurationTests {
    @Test func readsOrganizationsAndSettingsFromEnvironmentStyleKeys() throws {
        let loader = ServiceConfigurationLoader(values: [
            "INGEST_ORGANIZATIONS": "acme,globex",
            "INGEST_ORGANIZATION_ACME_ID": "org-1",
            "INGEST_ORGANIZATION_ACME_HMAC_KEY": "k1",
            "INGEST_ORGANIZATION_GLOBEX_JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----",
            "INGEST_ORGANIZATION_GLOBEX_JWT_ISSUER": "https://billing.example",
            "INGEST_MAX_BODY_BYTES": "2048",
            "INGEST_PRODUCE_TIMEOUT_MS": "750",
        ])
        let configuration = try IngestConfiguration(config: loader.reader)
        try loader.validate()
        #expect(configuration.organizations.map(\.name) == ["acme", "globex"])
        #expect(configuration.organizations[0].id == "org-1")
        #expect(configuration.organizations[0].hmacKey == "k1")
        #expect(configuration.organizations[1].jwtIssuer == "https://billing.example")
        #expect(configuration.maximumBodyBytes == 2048)
        #expect(configuration.produceTimeout == .milliseconds(750))
    }

    @Test func reportsEveryProblemAtOnce() throws {
        let loader = ServiceConfigurationLoader(values: [
            "INGEST_ORGANIZATIONS": "acme,globex",
            "INGEST_ORGANIZATION_ACME_HMAC_KEY": "k1",
            "INGEST_ORGANIZATION_GLOBEX_ID": "acme",
            "INGEST_ORGANIZATION_GLOBEX_JWT_PUBLIC_KEY": "pem",
            "INGEST_MAX_BODY_BYTES": "0",
            "INGEST_PRODUCE_TIMEOUT_MS": "-5",
        ])
        let error = try #require(throws: ConfigurationError.self) { try IngestConfiguration(config: loader.reader) }
        let text = error.description
        #expect(text.contains("ingest.organization.globex.jwtIssuer"))
        #expect(text.contains("acme names both acme and globex"))
        #expect(text.contains("ingest.maxBodyBytes"))
        #expect(text.contains("ingest.produceTimeoutMs"))
    }

    @Test func malformedValuesAreReportedNotReplacedByDefaults() throws {
        let loader = ServiceConfigurationLoader(values: [
            "INGEST_ORGANIZATIONS": "acme",
            "INGEST_ORGANIZATION_ACME_HMAC_KEY": "k1",
            "INGEST_RETRY_AFTER_SECONDS": "soon",
        ])
        _ = try IngestConfiguration(config: loader.reader)
        #expect(throws: ConfigurationError.self) { try loader.validate() }
    }
}
