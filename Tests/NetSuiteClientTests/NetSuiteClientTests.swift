import Contract
import Foundation
import NetSuiteClient
import NetSuiteSandbox
import SandboxCore
import TestSupport
import Testing

/// The client against the in-process NetSuite sandbox, over HTTP.
@Suite("NetSuite client against the sandbox", .timeLimit(.minutes(2)))
struct NetSuiteClientTests {
    // MARK: Token-based authentication and upserts

    @Test func upsertCreatesACustomerAndReturnsItsInternalID() async throws {
        try await SandboxFixture.run { sandbox throws in
            let client = sandbox.client()
            let id = try await client.upsert(
                recordType: "customer", externalID: "lago-cus-1", fields: Records.customer("Acme"), replaceSublists: [])
            let stored = try #require(try await sandbox.record("customer", id: id))
            #expect(stored["externalId"] == "lago-cus-1")
            #expect(stored["companyName"] == "Acme")
            #expect(try await sandbox.calls("record.upsert") == 1)
        }
    }

    @Test func aSecondUpsertOfTheSameExternalIDUpdatesTheSameRecord() async throws {
        try await SandboxFixture.run { sandbox throws in
            let client = sandbox.client()
            let first = try await client.upsert(
                recordType: "customer", externalID: "lago-cus-2", fields: Records.customer("Acme"), replaceSublists: [])
            let second = try await client.upsert(
                recordType: "customer", externalID: "lago-cus-2", fields: Records.customer("Acme Renamed"), replaceSublists: [])
            #expect(second == first)

            let customers = try await sandbox.records("customer").filter { $0["externalId"] == "lago-cus-2" }
            #expect(customers.count == 1)
            #expect(customers.first?["id"]?.stringValue == first)
            #expect(customers.first?["companyName"] == "Acme Renamed")
        }
    }

    @Test func internalIDFindsARecordAndIsNilForAnUnknownExternalID() async throws {
        try await SandboxFixture.run { sandbox throws in
            let client = sandbox.client()
            let id = try await client.upsert(
                recordType: "customer", externalID: "lago-cus-3", fields: Records.customer("Acme"), replaceSublists: [])
            #expect(try await client.internalID(recordType: "customer", externalID: "lago-cus-3") == id)
            #expect(try await client.internalID(recordType: "customer", externalID: "nobody-has-this") == nil)
        }
    }

    @Test func theRealmIsTheCanonicalAccountIDWhateverFormTheSettingsUse() async throws {
        try await SandboxFixture.run(configure: { $0.accountId = "TSTDRV1234567_SB1" }) { sandbox throws in
            let client = sandbox.client(accountID: "tstdrv1234567-sb1")
            #expect(try await client.internalID(recordType: "customer", externalID: "none") == nil)
        }
    }

    @Test func replaceSublistsReplacesTheInvoiceLinesAndWithoutItTheyMerge() async throws {
        try await SandboxFixture.run { sandbox throws in
            let client = sandbox.client()
            let customer = try await client.upsert(
                recordType: "customer", externalID: "lago-cus-4", fields: Records.customer("Acme"), replaceSublists: [])
            let invoice = try await client.upsert(
                recordType: "invoice", externalID: "lago-inv-4", fields: Records.invoice(customerID: customer, amounts: [10, 20]),
                replaceSublists: [])
            func amounts() async throws -> [Decimal] {
                let stored = try #require(try await sandbox.record("invoice", id: invoice))
                return (stored["item"]?["items"]?.arrayValue ?? []).compactMap { $0["amount"]?.numberValue }
            }
            #expect(try await amounts() == [10, 20])

            let replaced = try await client.upsert(
                recordType: "invoice", externalID: "lago-inv-4", fields: Records.invoice(customerID: customer, amounts: [30]),
                replaceSublists: ["item"])
            #expect(replaced == invoice)
            #expect(try await amounts() == [30])

            // Without `replace`, NetSuite merges sublists: a line without a line number is added.
            _ = try await client.upsert(
                recordType: "invoice", externalID: "lago-inv-4", fields: Records.invoice(customerID: customer, amounts: [40]),
                replaceSublists: [])
            #expect(try await amounts() == [30, 40])
            #expect(try await sandbox.records("invoice").count(where: { $0["externalId"] == "lago-inv-4" }) == 1)
        }
    }

    @Test func aValidationErrorIsRejectedWithCodeDetailAndPath() async throws {
        try await SandboxFixture.run { sandbox throws in
            let client = sandbox.client()
            let customer = try await client.upsert(
                recordType: "customer", externalID: "lago-cus-5", fields: Records.customer("Acme"), replaceSublists: [])
            let error = await #expect(throws: NetSuiteCallError.self) {
                try await client.upsert(
                    recordType: "invoice", externalID: "lago-inv-5",
                    fields: Records.invoice(customerID: customer, amounts: [10], item: "9999"), replaceSublists: [])
            }
            guard case .rejected(let status, let details)? = error else {
                Issue.record("expected a rejection, got \(String(describing: error))")
                return
            }
            #expect(status == 400)
            let detail = try #require(details.first)
            #expect(detail.code == "INVALID_CONTENT")
            #expect(detail.detail.contains("9999"))
            #expect(detail.path == "item.items[0].item")
            #expect(try await sandbox.records("invoice").isEmpty)
        }
    }

    @Test func anExternalIDOutsideTheSafeCharactersIsEncodedAndStillSigned() async throws {
        try await SandboxFixture.run { sandbox throws in
            let client = sandbox.client()
            // The sandbox refuses the ID itself (NetSuite allows letters, digits, `_` and `-`), which
            // shows the request got past the signature check with the encoded path.
            let error = await #expect(throws: NetSuiteCallError.self) {
                try await client.upsert(
                    recordType: "customer", externalID: "a b/ü|c", fields: Records.customer("Acme"), replaceSublists: [])
            }
            guard case .rejected(400, let details)? = error else {
                Issue.record("expected a 400 rejection, got \(String(describing: error))")
                return
            }
            #expect(details.first?.code == "INVALID_CONTENT")
            #expect(details.first?.detail.contains("a b/ü|c") == true)
        }
    }

    @Test func aWrongTokenSecretIsAnAuthenticationError() async throws {
        try await SandboxFixture.run { sandbox throws in
            let client = sandbox.client(sandbox.tokenBased(tokenSecret: "not-the-secret"))
            let error = await #expect(throws: NetSuiteCallError.self) {
                try await client.upsert(recordType: "customer", externalID: "lago-cus-6", fields: Records.customer("Acme"), replaceSublists: [])
            }
            guard case .authentication(let message)? = error else {
                Issue.record("expected an authentication error, got \(String(describing: error))")
                return
            }
            #expect(message.contains("INVALID_LOGIN"))
            #expect(!message.contains("not-the-secret"))
            #expect(try await sandbox.records("customer").allSatisfy { $0["externalId"] != "lago-cus-6" })
        }
    }

    // MARK: Failures worth a retry

    @Test func serverErrorsAreTransient() async throws {
        try await SandboxFixture.run(configure: { $0.faults.errorRates = [503: 1] }) { sandbox throws in
            let error = await #expect(throws: NetSuiteCallError.self) {
                try await sandbox.client().internalID(recordType: "customer", externalID: "x")
            }
            guard case .transient(503, _)? = error else {
                Issue.record("expected a transient 503, got \(String(describing: error))")
                return
            }
        }
    }

    @Test func theAccountConcurrencyLimitIsTransient() async throws {
        // The client allows more requests than the account: NetSuite answers 429 to the extra ones.
        try await SandboxFixture.run(configure: { settings in
            settings.concurrencyLimit = 1
            settings.faults.latencyMs = .init(min: 100, max: 100)
        }) { sandbox throws in
            let client = sandbox.client(concurrencyLimit: 4)
            let outcomes = await withTaskGroup(of: NetSuiteCallError?.self) { group in
                for index in 0..<4 {
                    group.addTask {
                        do throws(NetSuiteCallError) {
                            _ = try await client.internalID(recordType: "customer", externalID: "cus-\(index)")
                            return nil
                        } catch {
                            return error
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let limited = outcomes.compactMap { outcome -> Int? in
                if case .transient(let status, _)? = outcome { return status }
                return nil
            }
            #expect(!limited.isEmpty)
            #expect(limited.allSatisfy { $0 == 429 })
            #expect(limited.count + outcomes.count(where: { $0 == nil }) == 4)
        }
    }

    @Test func noResponseIsTransientWithoutStatus() async throws {
        try await SandboxFixture.run { sandbox throws in
            // Nothing listens on port 9 (discard) on the loopback interface.
            let connection = NetSuiteConnectionSettings(
                name: "nowhere", accountID: sandbox.settings.accountId, baseURL: "http://127.0.0.1:9",
                authentication: sandbox.tokenBased(), requestTimeout: .seconds(5))
            let client = NetSuiteClient(settings: connection, http: sandbox.http, logger: quietLogger)
            let error = await #expect(throws: NetSuiteCallError.self) {
                try await client.internalID(recordType: "customer", externalID: "x")
            }
            guard case .transient(nil, _)? = error else {
                Issue.record("expected a transient error without status, got \(String(describing: error))")
                return
            }
        }
    }

    // MARK: Concurrency

    @Test func inFlightRequestsNeverExceedTheClientLimit() async throws {
        try await SandboxFixture.run(configure: { settings in
            settings.concurrencyLimit = 2
            settings.faults.latencyMs = .init(min: 20, max: 40)
        }) { sandbox throws in
            let client = sandbox.client(concurrencyLimit: 2)
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        try await client.upsert(
                            recordType: "customer", externalID: "lago-cus-c\(index)", fields: Records.customer("Customer \(index)"),
                            replaceSublists: [])
                    }
                }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(ids.count == 20)
            #expect(client.peakInFlightRequests == 2)
            #expect(client.requestCount == 20)
            let stats = try await sandbox.stats()
            #expect(stats["rejectedOverConcurrencyLimit"] == 0)
            #expect(stats["maxConcurrency"]?.numberValue ?? 99 <= 2)
        }
    }

    // MARK: OAuth 2.0 client credentials (M2M)

    static func clientCredentials(
        _ settings: NetSuiteSettings, pem: String, algorithm: NetSuiteConnectionSettings.AssertionAlgorithm, certificateID: String? = nil
    ) -> NetSuiteConnectionSettings.Authentication {
        .clientCredentials(
            clientID: settings.clientId, certificateID: certificateID ?? settings.certificateId, privateKeyPEM: pem, algorithm: algorithm,
            scopes: ["rest_webservices"])
    }

    @Test func clientCredentialsWithPS256WorkAndTheTokenIsReused() async throws {
        try await withTemporaryFile(LagoSigning.jwtPublicKeyPEM) { certificate throws in
            try await SandboxFixture.run(configure: { $0.certificateFile = certificate }) { sandbox throws in
                let client = sandbox.client(Self.clientCredentials(sandbox.settings, pem: LagoSigning.jwtPrivateKeyPEM, algorithm: .ps256))
                let id = try await client.upsert(
                    recordType: "customer", externalID: "lago-cus-m1", fields: Records.customer("Acme"), replaceSublists: [])
                #expect(try await client.internalID(recordType: "customer", externalID: "lago-cus-m1") == id)
                #expect(try await client.internalID(recordType: "customer", externalID: "lago-cus-m2") == nil)
                #expect(try await sandbox.calls("oauth2.token") == 1)
                #expect(client.requestCount == 4)
            }
        }
    }

    @Test func clientCredentialsWithES256Work() async throws {
        try await withTemporaryFile(TestKeys.es256PublicKeyPEM) { certificate throws in
            try await SandboxFixture.run(configure: { $0.certificateFile = certificate }) { sandbox throws in
                let client = sandbox.client(Self.clientCredentials(sandbox.settings, pem: TestKeys.es256PrivateKeyPEM, algorithm: .es256))
                #expect(try await client.internalID(recordType: "customer", externalID: "nobody") == nil)
                #expect(try await sandbox.calls("oauth2.token") == 1)
            }
        }
    }

    @Test func concurrentFirstRequestsShareOneTokenRequest() async throws {
        try await withTemporaryFile(LagoSigning.jwtPublicKeyPEM) { certificate throws in
            try await SandboxFixture.run(configure: { settings in
                settings.certificateFile = certificate
                settings.faults.latencyMs = .init(min: 30, max: 30)
            }) { sandbox throws in
                let client = sandbox.client(
                    Self.clientCredentials(sandbox.settings, pem: LagoSigning.jwtPrivateKeyPEM, algorithm: .ps256), concurrencyLimit: 3)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<6 {
                        group.addTask { _ = try await client.internalID(recordType: "customer", externalID: "x\(index)") }
                    }
                    try await group.waitForAll()
                }
                #expect(try await sandbox.calls("oauth2.token") == 1)
                #expect(client.peakInFlightRequests <= 3)
            }
        }
    }

    @Test func aRefusedCachedTokenIsReplacedOnce() async throws {
        try await withTemporaryFile(LagoSigning.jwtPublicKeyPEM) { certificate throws in
            try await SandboxFixture.run(configure: { $0.certificateFile = certificate }) { sandbox throws in
                let client = sandbox.client(Self.clientCredentials(sandbox.settings, pem: LagoSigning.jwtPrivateKeyPEM, algorithm: .ps256))
                #expect(try await client.internalID(recordType: "customer", externalID: "x") == nil)
                sandbox.system.expireSessions()
                #expect(try await client.internalID(recordType: "customer", externalID: "x") == nil)
                #expect(try await sandbox.calls("oauth2.token") == 2)
                // token, read, refused read, token, read
                #expect(client.requestCount == 5)
            }
        }
    }

    @Test func aRefusedAssertionIsAnAuthenticationError() async throws {
        try await withTemporaryFile(LagoSigning.jwtPublicKeyPEM) { certificate throws in
            try await SandboxFixture.run(configure: { $0.certificateFile = certificate }) { sandbox throws in
                let client = sandbox.client(
                    Self.clientCredentials(
                        sandbox.settings, pem: LagoSigning.jwtPrivateKeyPEM, algorithm: .ps256, certificateID: "another-certificate"))
                let error = await #expect(throws: NetSuiteCallError.self) {
                    try await client.internalID(recordType: "customer", externalID: "x")
                }
                guard case .authentication(let message)? = error else {
                    Issue.record("expected an authentication error, got \(String(describing: error))")
                    return
                }
                #expect(message.contains("invalid_client"))
                #expect(client.requestCount == 1)
            }
        }
    }

    @Test func anUnreadablePrivateKeyIsAnAuthenticationErrorWithoutARequest() async throws {
        try await SandboxFixture.run { sandbox throws in
            let client = sandbox.client(Self.clientCredentials(sandbox.settings, pem: "not a key", algorithm: .ps256))
            let error = await #expect(throws: NetSuiteCallError.self) {
                try await client.internalID(recordType: "customer", externalID: "x")
            }
            guard case .authentication? = error else {
                Issue.record("expected an authentication error, got \(String(describing: error))")
                return
            }
            #expect(client.requestCount == 0)
        }
    }
}

/// A P-256 key pair made for these tests only (`openssl ecparam -name prime256v1 -genkey`). Never use
/// it anywhere else.
enum TestKeys {
    static let es256PrivateKeyPEM = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfsbYQ+SNrInHLyWF
        EikK1KVSGgWT67l/BV8+uHouxhyhRANCAATAxDLuTlxoQeW1Vp2dkC9b9YlPkJ4o
        jXR2fpOSsxMMflPiO97Arhl/6ulk4Nt1E1D/J/eu1PY2NrbPkOFzsrCi
        -----END PRIVATE KEY-----
        """
    static let es256PublicKeyPEM = """
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEwMQy7k5caEHltVadnZAvW/WJT5Ce
        KI10dn6TkrMTDH5T4jvewK4Zf+rpZODbdRNQ/yf3rtT2Nja2z5Dhc7Kwog==
        -----END PUBLIC KEY-----
        """
}
