import Contract
import CurlHTTP
import Foundation
import HTTPTypes
import Kafka
import TestSupport
import Testing

/// The notifier as a real process: provider events on `alerts.provider-errors`, signed webhook
/// deliveries to a receiver on loopback, retries, a crash in the middle of a delivery, coalescing.
@Suite("notifier, end to end", .serialized, .timeLimit(.minutes(5)))
struct NotifierEndToEndTests {
    static let token = "dashboard-token-for-tests-0123456789"
    static let secret = "webhook-secret-for-tests"

    /// Starts a notifier against `bootstrap`, delivering to `receiverURL`.
    static func startNotifier(
        bootstrap: String, receiverURL: String, databasePath: String, coalesceMs: Int = 1000, extra: [String: String] = [:]
    ) throws -> ServiceProcess {
        try ServiceProcess("notifier", environment: [
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_FETCH_WAIT_MAX_MS": "10", "KAFKA_MAX_IN_FLIGHT": "1", "HTTP_PORT": "0", "LOG_FORMAT": "json", "LOG_LEVEL": "info",
            "NOTIFIER_DATABASE_PATH": databasePath,
            "NOTIFIER_DASHBOARD_TOKEN": token,
            "NOTIFIER_ENDPOINTS": "hook",
            "NOTIFIER_ENDPOINT_HOOK_URL": receiverURL,
            "NOTIFIER_ENDPOINT_HOOK_SECRET": secret,
            "NOTIFIER_ENDPOINT_HOOK_EVENTS": "customer.accounting_provider_error,customer.crm_provider_error",
            "NOTIFIER_ALLOW_PRIVATE_ADDRESSES": "true",
            "NOTIFIER_COALESCE_WINDOW_MS": "\(coalesceMs)",
            "NOTIFIER_RETRY_INITIAL_MS": "200",
            "NOTIFIER_RETRY_MAX_MS": "1000",
            "NOTIFIER_DELIVERY_TIMEOUT_MS": "30000",
        ].merging(extra) { _, new in new })
    }

    static func listeningURL(_ process: ServiceProcess) async throws -> String {
        try await SyncStack.listeningURL(process)
    }

    /// A person without a name: Salesforce takes the Account, NetSuite refuses the customer.
    static func namelessPerson() throws -> [UInt8] {
        let person = try #require(JSONValue.parse(try Fixtures.lago("customer.created")))
            .setting("individual", at: "customer.customer_type").setting(.null, at: "customer.firstname")
            .setting(.null, at: "customer.lastname")
        return Array(person.encoded())
    }

    /// A failed NetSuite result, as erp-writer reports one, keyed by its customer.
    static func failedResult(commandID: String, billingID: String = "inv-storm-1", code: String = "USER_ERROR") throws -> KafkaOutgoingMessage {
        let result = SyncResult(
            outcome: .failed, commandID: commandID, connection: "ns", system: .netsuite, object: "invoice",
            source: SourceDocument(eventID: "event-\(commandID)", eventType: "invoice.created", billingObject: "invoice", billingID: billingID,
                                   documentNumber: "INV-001", customerID: "cust-lago-1"),
            attempts: 1, reason: code, error: ProviderError(code: code, message: "Invalid item reference", path: "item.items[0].item", httpStatus: 400),
            reporter: "erp-writer")
        return KafkaOutgoingMessage(
            topic: Topic.syncResults, key: Array("org-1/cust_ext_1".utf8), value: Array(try JSONEncoder().encode(result)),
            headers: [
                KafkaHeader(name: MessageHeader.id, value: "\(commandID)/failed"),
                KafkaHeader(name: MessageHeader.type, value: "crossbill.sync.result"),
                KafkaHeader(name: MessageHeader.dataSchema, value: MessageSchema.syncResult.uri),
            ])
    }

    static func producer(_ bootstrap: String) throws -> KafkaProducer {
        try KafkaProducer(
            configuration: KafkaProducerConfiguration(client: KafkaClientConfiguration(bootstrapServers: bootstrap, statisticsInterval: .zero)),
            logger: quietLogger)
    }

    static func startBroker() async throws -> (ServiceProcess, String) {
        let broker = try ServiceProcess("dev-broker", arguments: ["--control-port", "0", "--partitions", "3"])
        let bootstrap = String(try await broker.waitForLine(containing: "bootstrap ").dropFirst("bootstrap ".count))
        return (broker, bootstrap)
    }

    @Test func aFailedNetSuiteWriteGivesOneEventAndOneSignedDelivery() async throws {
        let receiver = WebhookReceiver(secret: Self.secret)
        try await receiver.serve { url in
            try await withSyncStack { stack in
                let notifier = try Self.startNotifier(
                    bootstrap: stack.bootstrapServers, receiverURL: url, databasePath: stack.directory.appendingPathComponent("notifier.sqlite").path)
                do {
                    _ = try await Self.listeningURL(notifier)
                    #expect(try await stack.post(try Self.namelessPerson(), uniqueKey: "notifier-person").status == .ok)

                    let deliveries = try await receiver.waitForDeliveries(1)
                    #expect(deliveries.count == 1)
                    let delivery = try #require(deliveries.first)
                    #expect(delivery.signatureValid)
                    #expect(delivery.event == "customer.accounting_provider_error")
                    let event = try #require(delivery.json)
                    #expect(event.at("webhook_type") == "customer.accounting_provider_error")
                    #expect(event.at("object_type") == "accounting_provider_customer_error")
                    #expect(event.at("organization_id") == .string(SyncStack.organization))
                    let details = "accounting_provider_customer_error"
                    #expect(event.at("\(details).lago_customer_id") == "99a6094e-199b-4101-896a-54e927ce7bd7")
                    #expect(event.at("\(details).external_customer_id") == "cust_acme_001")
                    #expect(event.at("\(details).accounting_provider") == "netsuite")
                    #expect(event.at("\(details).accounting_provider_code") == "ns")
                    #expect(event.at("\(details).provider_error.error_code") == "USER_ERROR")
                    #expect(event.at("\(details).provider_error.path") == "firstName")
                    #expect(event.at("\(details).document.type") == "customer")
                    #expect(event.at("\(details).occurrences") == 1)
                    #expect(event.at("\(details).dashboard_url")?.stringValue?.contains("/dashboard/failures/") == true)

                    // On the topic: exactly that one error, and the Account's first sync announced.
                    let alerts = try makeConsumer(bootstrapServers: stack.bootstrapServers, topics: [Topic.providerErrorAlerts])
                    var events = await ContractEndToEndTests.collectMessages(from: alerts, timeout: .seconds(40)) { messages in
                        let types = Set(messages.compactMap { $0.header(MessageHeader.type) })
                        return types.isSuperset(of: ["customer.accounting_provider_error", "customer.crm_provider_created"])
                    }
                    // A while longer: a second copy of either would show up here.
                    events += await ContractEndToEndTests.collectMessages(from: alerts, timeout: .seconds(2)) { _ in false }
                    await alerts.close()
                    let types = events.compactMap { $0.header(MessageHeader.type) }
                    #expect(types.filter { $0 == "customer.accounting_provider_error" }.count == 1, "\(types)")
                    #expect(types.filter { $0 == "customer.crm_provider_created" }.count == 1, "\(types)")
                    #expect(events.first { $0.header(MessageHeader.type) == "customer.accounting_provider_error" }?.value == delivery.body)
                    // Still one delivery: nothing was sent twice.
                    #expect(receiver.deliveries.count == 1)
                    _ = try await ContractEndToEndTests.expectServiceMessagesMatchSchemas(stack)
                } catch {
                    _ = try? await notifier.terminate()
                    throw error
                }
                try await notifier.terminate()
            }
        }
    }

    /// The dashboard in a real browser (Debian's chromium, headless, driven by Selenium): it refuses
    /// without the token, shows the failure with it, and its Retry button replays the failed command.
    @Test func theDashboardInABrowserShowsTheFailureAndReplaysIt() async throws {
        let receiver = WebhookReceiver(secret: Self.secret)
        try await receiver.serve { url in
            try await withSyncStack { stack in
                let notifier = try Self.startNotifier(
                    bootstrap: stack.bootstrapServers, receiverURL: url, databasePath: stack.directory.appendingPathComponent("notifier.sqlite").path)
                do {
                    let base = try await Self.listeningURL(notifier)
                    #expect(try await stack.post(try Self.namelessPerson(), uniqueKey: "dashboard-person").status == .ok)
                    // The failure is in the history once its dead letter is kept for the replay.
                    _ = try await receiver.waitForDeliveries(1)
                    let failedCommand = try #require(try await Self.openFailure(base: base, http: stack.http)?["command_id"]?.stringValue)

                    let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
                    let browser = try ServiceProcess.system(python, arguments: [Repository.path("Tests/Browser/dashboard.py"), base, Self.token, "USER_ERROR"])
                    let status = try await browser.waitForExit(timeout: .seconds(120))
                    #expect(status == 0, "\(browser.output.joined(separator: "\n"))")
                    #expect(browser.output.contains { $0.contains("Replayed to erp.commands") }, "\(browser.output)")

                    // The replay put the failed command back on erp.commands: it is there twice now.
                    let commands = try makeConsumer(bootstrapServers: stack.bootstrapServers, topics: [Topic.erpCommands])
                    let seen = await ContractEndToEndTests.collectMessages(from: commands, timeout: .seconds(20)) { messages in
                        messages.filter { $0.header(MessageHeader.id) == failedCommand }.count >= 2
                    }
                    await commands.close()
                    #expect(seen.filter { $0.header(MessageHeader.id) == failedCommand }.count == 2)
                } catch {
                    _ = try? await notifier.terminate()
                    throw error
                }
                try await notifier.terminate()
            }
        }
    }

    /// The newest open failure the API lists, once its dead letter is kept.
    static func openFailure(base: String, http: CurlHTTPClient) async throws -> JSONValue? {
        for _ in 0..<100 {
            let response = try await http.execute(HTTPClientRequest(
                url: "\(base)/api/v1/failures?connection=ns", headers: [.authorization: "Bearer \(token)"]))
            if let failure = JSONValue.parse(Data(response.body))?.arrayValue?.first { return failure }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    @Test func aFailingReceiverGetsRetriesWithTheSameDeliveryIDUntilItSucceeds() async throws {
        try await withTemporaryDirectory(prefix: "notifier") { directory in
            let receiver = WebhookReceiver(secret: Self.secret, failFirst: [500, 503])
            let (broker, bootstrap) = try await Self.startBroker()
            try await receiver.serve { url in
                let notifier = try Self.startNotifier(bootstrap: bootstrap, receiverURL: url, databasePath: directory.appendingPathComponent("notifier.sqlite").path)
                let api = try await Self.listeningURL(notifier)
                let producer = try Self.producer(bootstrap)
                _ = try await producer.send(try Self.failedResult(commandID: "retry-1"))
                let deliveries = try await receiver.waitForDeliveries(3)
                #expect(deliveries.count == 3)
                #expect(Set(deliveries.map(\.id)).count == 1, "one delivery id across retries")
                #expect(deliveries.allSatisfy { $0.signatureValid })
                // The delivery log says it was delivered at the third attempt.
                let http = CurlHTTPClient(logger: quietLogger)
                var log: JSONValue?
                for _ in 0..<50 {
                    let response = try await http.execute(HTTPClientRequest(
                        url: "\(api)/api/v1/deliveries", headers: [.authorization: "Bearer \(Self.token)"]))
                    log = JSONValue.parse(Data(response.body))?.arrayValue?.first
                    if log?["status"] == "delivered" { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(log?["status"] == "delivered")
                #expect(log?["attempts"] == 3)
                http.shutdown()
                producer.close(flushTimeout: .seconds(1))
                try await notifier.terminate()
            }
            try await broker.terminate()
        }
    }

    @Test func aNotifierKilledMidDeliveryDeliversAfterRestartWithTheSameID() async throws {
        try await withTemporaryDirectory(prefix: "notifier") { directory in
            // The first request hangs; the notifier is killed while it waits.
            let receiver = WebhookReceiver(secret: Self.secret, stallFirst: 1)
            let (broker, bootstrap) = try await Self.startBroker()
            let database = directory.appendingPathComponent("notifier.sqlite").path
            try await receiver.serve { url in
                let first = try Self.startNotifier(bootstrap: bootstrap, receiverURL: url, databasePath: database)
                _ = try await Self.listeningURL(first)
                let producer = try Self.producer(bootstrap)
                _ = try await producer.send(try Self.failedResult(commandID: "crash-1", billingID: "inv-crash-1"))
                _ = try await producer.send(try Self.failedResult(commandID: "crash-2", billingID: "inv-crash-2"))
                // Kill once both are out: one is answered, the other hangs.
                _ = try await receiver.waitForDeliveries(2)
                try await first.kill()

                let second = try Self.startNotifier(bootstrap: bootstrap, receiverURL: url, databasePath: database)
                _ = try await Self.listeningURL(second)
                let deliveries = try await receiver.waitForDeliveries(3, timeout: .seconds(30))
                try await Task.sleep(for: .seconds(2))
                let all = receiver.deliveries
                // Both alerts arrive; the one cut off arrives again with its id. A delivery answered just as
                // the process died may come again too (at least once, same id); nothing else repeats.
                let ids = all.map(\.id)
                #expect(Set(ids).count == 2, "\(ids)")
                #expect(deliveries.count >= 3)
                #expect(ids.count <= 4, "\(ids)")
                #expect(Set(ids).allSatisfy { id in ids.filter { $0 == id }.count <= 2 }, "\(ids)")
                #expect(all.allSatisfy { $0.signatureValid })
                producer.close(flushTimeout: .seconds(1))
                try await second.terminate()
            }
            try await broker.terminate()
        }
    }

    @Test func aStormOfIdenticalFailuresYieldsOneCoalescedAlert() async throws {
        try await withTemporaryDirectory(prefix: "notifier") { directory in
            let receiver = WebhookReceiver(secret: Self.secret)
            let (broker, bootstrap) = try await Self.startBroker()
            try await receiver.serve { url in
                let notifier = try Self.startNotifier(
                    bootstrap: bootstrap, receiverURL: url, databasePath: directory.appendingPathComponent("notifier.sqlite").path, coalesceMs: 3000)
                _ = try await Self.listeningURL(notifier)
                let producer = try Self.producer(bootstrap)
                for index in 0..<20 {
                    _ = try await producer.send(try Self.failedResult(commandID: "storm-\(index)"))
                }
                let deliveries = try await receiver.waitForDeliveries(1)
                try await Task.sleep(for: .seconds(4))
                #expect(receiver.deliveries.count == 1)
                let event = try #require(deliveries.first?.json)
                #expect(event.at("accounting_provider_customer_error.occurrences") == 20)
                #expect(event.at("accounting_provider_customer_error.document.number") == "INV-001")
                let alerts = try makeConsumer(bootstrapServers: bootstrap, topics: [Topic.providerErrorAlerts])
                var events = await ContractEndToEndTests.collectMessages(from: alerts, timeout: .seconds(40)) { !$0.isEmpty }
                events += await ContractEndToEndTests.collectMessages(from: alerts, timeout: .seconds(2)) { _ in false }
                await alerts.close()
                #expect(events.count == 1)
                producer.close(flushTimeout: .seconds(1))
                try await notifier.terminate()
            }
            try await broker.terminate()
        }
    }

    /// sync.results is consumed too: a result that breaks the contract goes to sync.results.dlq with a
    /// failed result naming the field, and the results around it are recorded.
    @Test func resultsThatBreakTheContractGoToTheDeadLetterQueue() async throws {
        try await withTemporaryDirectory(prefix: "notifier") { directory in
            let (broker, bootstrap) = try await Self.startBroker()
            let notifier = try Self.startNotifier(bootstrap: bootstrap, receiverURL: "http://127.0.0.1:9/hook", databasePath: directory.appendingPathComponent("notifier.sqlite").path)
            let api = try await Self.listeningURL(notifier)
            let producer = try KafkaProducer(
                configuration: KafkaProducerConfiguration(client: KafkaClientConfiguration(
                    bootstrapServers: bootstrap, statisticsInterval: .zero, additionalProperties: ["message.max.bytes": "2000000"])),
                logger: quietLogger)
            let valid = try Self.failedResult(commandID: "valid-before")
            func broken(_ id: String, _ value: [UInt8], schema: String? = MessageSchema.syncResult.uri) -> KafkaOutgoingMessage {
                var headers = [KafkaHeader(name: MessageHeader.id, value: id), KafkaHeader(name: MessageHeader.source, value: ContractEndToEndTests.testSource)]
                if let schema { headers.append(KafkaHeader(name: MessageHeader.dataSchema, value: schema)) }
                return KafkaOutgoingMessage(topic: Topic.syncResults, key: valid.key, value: value, headers: headers)
            }
            func edited(_ change: (inout [String: JSONValue]) -> Void) -> [UInt8] {
                guard case .object(var members) = JSONValue.parse(valid.value) else { return [] }
                change(&members)
                return Array(JSONValue.object(members).encoded())
            }
            let cases: [(message: KafkaOutgoingMessage, code: String, field: String?)] = [
                (broken("bad-type", edited { $0["attempts"] = "three" }), "invalid_message", "attempts"),
                (broken("bad-missing", edited { $0["outcome"] = nil }), "invalid_message", "outcome"),
                (broken("bad-version", valid.value, schema: "urn:crossbill:schema:sync-result:2"), "unsupported_schema", MessageHeader.dataSchema),
                (broken("bad-json", Array("{\"outcome\"".utf8)), "invalid_json", nil),
                (broken("bad-size", edited { $0["reason"] = .string(String(repeating: "x", count: MessageContract.maximumValueBytes)) }), "message_too_large", nil),
            ]
            _ = try await producer.send(valid)
            for entry in cases { _ = try await producer.send(entry.message) }
            _ = try await producer.send(try Self.failedResult(commandID: "valid-after", billingID: "inv-after"))

            let deadLetters = try makeConsumer(bootstrapServers: bootstrap, topics: [Topic.deadLetters(of: Topic.syncResults)])
            let letters = await collect(cases.count, from: deadLetters, timeout: .seconds(30))
            await deadLetters.close()
            let results = try makeConsumer(bootstrapServers: bootstrap, topics: [Topic.syncResults])
            let refusals = await ContractEndToEndTests.collectMessages(from: results, timeout: .seconds(30)) { messages in
                messages.compactMap { ContractEndToEndTests.result($0) }.filter { $0.reporter == "notifier" }.count >= cases.count
            }.compactMap { ContractEndToEndTests.result($0) }.filter { $0.reporter == "notifier" }
            await results.close()
            for entry in cases {
                let id = entry.message.headers.first { $0.name == MessageHeader.id }?.stringValue
                let letter = letters.first { $0.header(MessageHeader.id) == id }
                #expect(letter?.header(DeadLetterHeader.errorCode) == entry.code, "\(id ?? "")")
                #expect(letter?.header(DeadLetterHeader.errorField) == entry.field, "\(id ?? "")")
                let refusal = refusals.first { $0.source.eventID == id }
                #expect(refusal?.outcome == .failed, "\(id ?? "")")
                #expect(refusal?.error?.code == entry.code, "\(id ?? "")")
                #expect(refusal?.error?.path == entry.field, "\(id ?? "")")
            }
            // The valid results around them are in the history.
            let http = CurlHTTPClient(logger: quietLogger)
            var commands: Set<String> = []
            for _ in 0..<100 where !commands.isSuperset(of: ["valid-before", "valid-after"]) {
                let response = try await http.execute(HTTPClientRequest(url: "\(api)/api/v1/results", headers: [.authorization: "Bearer \(Self.token)"]))
                commands = Set(JSONValue.parse(Data(response.body))?.arrayValue?.compactMap { $0["command_id"]?.stringValue } ?? [])
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(commands.isSuperset(of: ["valid-before", "valid-after"]), "\(commands)")
            http.shutdown()
            producer.close(flushTimeout: .seconds(1))
            try await notifier.terminate()
            try await broker.terminate()
        }
    }

    @Test func aLoopbackEndpointIsRefusedUnlessAllowedAndTheAPINeedsTheToken() async throws {
        try await withTemporaryDirectory(prefix: "notifier") { directory in
            let (broker, bootstrap) = try await Self.startBroker()
            let refused = try Self.startNotifier(
                bootstrap: bootstrap, receiverURL: "http://127.0.0.1:9/hook", databasePath: directory.appendingPathComponent("refused.sqlite").path,
                extra: ["NOTIFIER_ALLOW_PRIVATE_ADDRESSES": "false"])
            #expect(try await refused.waitForExit() == 2)
            #expect(refused.output.joined().contains("notifier.endpoint.hook.url"), "\(refused.output.suffix(5))")

            let notifier = try Self.startNotifier(bootstrap: bootstrap, receiverURL: "http://127.0.0.1:9/hook", databasePath: directory.appendingPathComponent("notifier.sqlite").path)
            let api = try await Self.listeningURL(notifier)
            let http = CurlHTTPClient(logger: quietLogger)
            let anonymous = try await http.execute(HTTPClientRequest(url: "\(api)/api/v1/results"))
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.headers[.contentType] == "application/problem+json")
            let wrong = try await http.execute(HTTPClientRequest(url: "\(api)/api/v1/results", headers: [.authorization: "Bearer nope"]))
            #expect(wrong.status == .unauthorized)
            let page = try await http.execute(HTTPClientRequest(url: "\(api)/dashboard"))
            #expect(page.status == .unauthorized)
            #expect(page.bodyText.contains("id=\"login\""))
            let allowed = try await http.execute(HTTPClientRequest(url: "\(api)/api/v1/results", headers: [.authorization: "Bearer \(Self.token)"]))
            #expect(allowed.status == .ok)
            http.shutdown()
            try await notifier.terminate()
            try await broker.terminate()
        }
    }
}
