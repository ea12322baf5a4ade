import Contract
import CurlHTTP
import Foundation
import HTTPTypes
import Kafka
import TestSupport
import Testing

/// The topic contract (docs/asyncapi.yaml, docs/schemas/) against what the services really produce and
/// how they treat messages that break it. Schemas are checked by `Tools/scripts/contract.py`, which
/// uses Python's jsonschema: an implementation independent of the services' own checks.
@Suite("the topic contract", .serialized, .timeLimit(.minutes(5)))
struct ContractEndToEndTests {
    /// Marks the messages a test produces itself, so only the services' messages are validated.
    static let testSource = "/tests"

    @Test func theAsyncAPIDocumentParsesAndDescribesEveryTopic() async throws {
        let (status, output) = try await Self.contractScript(["check-document"] + Topic.all)
        #expect(status == 0, "\(output)")
        #expect(output.contains("\(Topic.all.count) channels"), "\(output)")
    }

    @Test func everyMessageTheServicesProduceMatchesItsSchema() async throws {
        try await withSyncStack { stack in
            for (name, body) in try SyncEndToEndTests.storyWithUpdate() {
                #expect(try await stack.post(body, uniqueKey: "contract-\(name)").status == .ok)
            }
            // A record Salesforce refuses: a failed result and a dead letter.
            let rejected = try #require(JSONValue.parse(try Fixtures.lago("customer.created")))
                .setting("REJECT Corp", at: "customer.name").setting("cust_reject_002", at: "customer.external_id")
                .setting("bbbbbbbb-1111-4222-8333-444455556666", at: "customer.lago_id")
            #expect(try await stack.post(Array(rejected.encoded()), uniqueKey: "contract-reject").status == .ok)
            _ = try await stack.waitForRecords("netsuite", "customerPayment", count: 1)
            _ = try await stack.waitForRecords("netsuite", "creditMemo", count: 2)
            _ = try await stack.waitForRecords("netsuite", "customer", count: 2)

            let counts = try await Self.expectServiceMessagesMatchSchemas(stack)
            for topic in [Topic.billingEvents, Topic.crmCommands, Topic.erpCommands, Topic.syncResults, Topic.deadLetters(of: Topic.crmCommands)] {
                #expect((counts[topic] ?? 0) > 0, "no message on \(topic) was validated: \(counts)")
            }
        }
    }

    /// A message that breaks the contract, and what its failed result must say.
    struct BrokenMessage {
        let id: String
        let topic: String
        let value: [UInt8]
        var schema: MessageSchema?
        let code: String
        let field: String?
    }

    @Test func messagesThatBreakTheContractGoToTheDeadLetterQueueWhileTheRestGoesOn() async throws {
        try await withSyncStack { stack in
            let producer = try KafkaProducer(
                configuration: KafkaProducerConfiguration(
                    client: KafkaClientConfiguration(
                        bootstrapServers: stack.bootstrapServers, statisticsInterval: .zero,
                        // Large enough for the oversized message under test.
                        additionalProperties: ["message.max.bytes": "2000000"])),
                logger: quietLogger)
            defer { producer.close(flushTimeout: .seconds(2)) }

            let valid: [(topic: String, id: String, value: [UInt8], schema: MessageSchema)] = [
                (Topic.billingEvents, "valid-billing-a", try Self.customerEvent(name: "Contract A", id: "a"), .billingEvent),
                (Topic.crmCommands, "valid-crm-c", try Self.salesforceAccountCommand(name: "Contract C", id: "c"), .syncCommand),
                (Topic.erpCommands, "valid-erp-e", try Self.netsuiteCustomerCommand(name: "Contract E", id: "e"), .syncCommand),
            ]
            let validAfter: [(topic: String, id: String, value: [UInt8], schema: MessageSchema)] = [
                (Topic.billingEvents, "valid-billing-b", try Self.customerEvent(name: "Contract B", id: "b"), .billingEvent),
                (Topic.crmCommands, "valid-crm-d", try Self.salesforceAccountCommand(name: "Contract D", id: "d"), .syncCommand),
                (Topic.erpCommands, "valid-erp-f", try Self.netsuiteCustomerCommand(name: "Contract F", id: "f"), .syncCommand),
            ]
            let broken = try Self.brokenMessages()

            for message in valid { try await Self.produce(producer, message.topic, id: message.id, value: message.value, schema: message.schema) }
            for message in broken { try await Self.produce(producer, message.topic, id: message.id, value: message.value, schema: message.schema) }
            for message in validAfter { try await Self.produce(producer, message.topic, id: message.id, value: message.value, schema: message.schema) }

            // The valid messages around the broken ones are processed.
            let accounts = try await stack.waitForRecords("salesforce", "Account", count: 4)
            #expect(Set(accounts.compactMap { $0["Name"]?.stringValue }) == ["Contract A", "Contract B", "Contract C", "Contract D"])
            let customers = try await stack.waitForRecords("netsuite", "customer", count: 4)
            let customerIDs = Set(customers.compactMap { $0["externalId"]?.stringValue })
            #expect(customerIDs.isSuperset(of: ["contract-e", "contract-f"]), "\(customerIDs)")

            // Each broken message: one failed result naming the reason and the field…
            let results = try makeConsumer(bootstrapServers: stack.bootstrapServers, topics: [Topic.syncResults])
            let brokenIDs = Set(broken.map(\.id))
            let failed = await Self.collectMessages(from: results, timeout: .seconds(30)) { messages in
                Set(messages.compactMap { Self.result($0) }.filter { $0.outcome == .failed }.map(\.source.eventID)).isSuperset(of: brokenIDs)
            }.compactMap { Self.result($0) }.filter { $0.outcome == .failed }
            await results.close()
            for message in broken {
                let matching = failed.filter { $0.source.eventID == message.id }
                #expect(matching.count == 1, "\(message.id): \(matching.count) failed results")
                #expect(matching.first?.error?.code == message.code, "\(message.id)")
                #expect(matching.first?.reason == message.code, "\(message.id)")
                #expect(matching.first?.error?.path == message.field, "\(message.id)")
            }

            // … and one dead letter on its topic's queue, saying why and where the original is.
            let deadLetterTopics = [Topic.billingEvents, Topic.crmCommands, Topic.erpCommands].map(Topic.deadLetters(of:))
            let deadLetterConsumer = try makeConsumer(bootstrapServers: stack.bootstrapServers, topics: deadLetterTopics)
            let deadLetters = await collect(broken.count, from: deadLetterConsumer, timeout: .seconds(30))
            await deadLetterConsumer.close()
            #expect(deadLetters.count == broken.count)
            for message in broken {
                let letter = deadLetters.first { $0.header(MessageHeader.id) == message.id }
                #expect(letter?.topic == Topic.deadLetters(of: message.topic), "\(message.id)")
                #expect(letter?.header(DeadLetterHeader.errorCode) == message.code, "\(message.id)")
                #expect(letter?.header(DeadLetterHeader.errorField) == message.field, "\(message.id)")
                #expect(letter?.header(DeadLetterHeader.sourceTopic) == message.topic, "\(message.id)")
                #expect(letter?.header(DeadLetterHeader.sourceOffset) != nil, "\(message.id)")
                // The value travels with it, but for one over the size limit.
                let expectedValue = message.value.count > MessageContract.maximumValueBytes ? [] : message.value
                #expect(letter?.value == expectedValue, "\(message.id)")
            }

            _ = try await Self.expectServiceMessagesMatchSchemas(stack)
        }
    }

    // MARK: - Messages

    static func brokenMessages() throws -> [BrokenMessage] {
        func without(_ key: String, in value: [UInt8]) -> [UInt8] {
            guard case .object(var members) = JSONValue.parse(value) else { return value }
            members[key] = nil
            return Array(JSONValue.object(members).encoded())
        }
        func replacing(_ key: String, with replacement: JSONValue, in value: [UInt8]) -> [UInt8] {
            Array((JSONValue.parse(value) ?? .null).setting(replacement, at: key).encoded())
        }
        /// Valid JSON, too large: a long name.
        func oversized(_ value: [UInt8], at path: String) -> [UInt8] {
            replacing(path, with: .string(String(repeating: "x", count: MessageContract.maximumValueBytes)), in: value)
        }
        let event = try customerEvent(name: "Broken", id: "broken")
        let account = try salesforceAccountCommand(name: "Broken", id: "broken")
        let customer = try netsuiteCustomerCommand(name: "Broken", id: "broken")
        let notJSON = Array("{\"webhook_type\": ".utf8)
        return [
            BrokenMessage(id: "bad-billing-type", topic: Topic.billingEvents, value: replacing("webhook_type", with: 42, in: event), code: "invalid_message", field: "webhook_type"),
            BrokenMessage(id: "bad-billing-missing", topic: Topic.billingEvents, value: without("object_type", in: event), code: "invalid_message", field: "object_type"),
            BrokenMessage(id: "bad-billing-version", topic: Topic.billingEvents, value: event, schema: MessageSchema(name: "billing-event", version: 2), code: "unsupported_schema", field: MessageHeader.dataSchema),
            BrokenMessage(id: "bad-billing-json", topic: Topic.billingEvents, value: notJSON, code: "invalid_json", field: nil),
            BrokenMessage(id: "bad-billing-size", topic: Topic.billingEvents, value: oversized(event, at: "customer.name"), code: "message_too_large", field: nil),
            BrokenMessage(id: "bad-crm-type", topic: Topic.crmCommands, value: replacing("fields", with: "Name", in: account), schema: .syncCommand, code: "invalid_message", field: "fields"),
            BrokenMessage(id: "bad-crm-missing", topic: Topic.crmCommands, value: without("external_id", in: account), schema: .syncCommand, code: "invalid_message", field: "external_id"),
            BrokenMessage(id: "bad-crm-version", topic: Topic.crmCommands, value: account, schema: MessageSchema(name: "sync-command", version: 9), code: "unsupported_schema", field: MessageHeader.dataSchema),
            BrokenMessage(id: "bad-crm-json", topic: Topic.crmCommands, value: notJSON, schema: .syncCommand, code: "invalid_json", field: nil),
            BrokenMessage(id: "bad-crm-size", topic: Topic.crmCommands, value: oversized(account, at: "fields.Name"), schema: .syncCommand, code: "message_too_large", field: nil),
            BrokenMessage(id: "bad-erp-type", topic: Topic.erpCommands, value: replacing("references", with: ["path": 1], in: customer), schema: .syncCommand, code: "invalid_message", field: "references"),
            BrokenMessage(id: "bad-erp-missing", topic: Topic.erpCommands, value: without("source", in: customer), schema: .syncCommand, code: "invalid_message", field: "source"),
            BrokenMessage(id: "bad-erp-version", topic: Topic.erpCommands, value: customer, schema: nil, code: "unsupported_schema", field: MessageHeader.dataSchema),
            BrokenMessage(id: "bad-erp-json", topic: Topic.erpCommands, value: notJSON, schema: .syncCommand, code: "invalid_json", field: nil),
            BrokenMessage(id: "bad-erp-size", topic: Topic.erpCommands, value: oversized(customer, at: "fields.companyName"), schema: .syncCommand, code: "message_too_large", field: nil),
        ]
    }

    static func customerEvent(name: String, id: String) throws -> [UInt8] {
        let event = try #require(JSONValue.parse(try Fixtures.lago("customer.created")))
            .setting(.string(name), at: "customer.name")
            .setting(.string("cust_contract_\(id)"), at: "customer.external_id")
            .setting(.string("contract-\(id)"), at: "customer.lago_id")
        return Array(event.encoded())
    }

    static func salesforceAccountCommand(name: String, id: String) throws -> [UInt8] {
        try command(SyncCommand(
            id: "command-\(id)", connection: "sf", system: .salesforce, object: "Account",
            externalIDField: "Billing_Id__c", externalID: "contract-\(id)",
            fields: ["Name": .string(name), "Billing_Id__c": .string("contract-\(id)")],
            source: SourceDocument(eventID: "event-\(id)", eventType: "customer.created", billingObject: "customer", billingID: "contract-\(id)")))
    }

    static func netsuiteCustomerCommand(name: String, id: String) throws -> [UInt8] {
        try command(SyncCommand(
            id: "command-\(id)", connection: "ns", system: .netsuite, object: "customer", externalID: "contract-\(id)",
            fields: ["entityId": .string("cust_contract_\(id)"), "companyName": .string(name), "subsidiary": ["id": "1"]],
            source: SourceDocument(eventID: "event-\(id)", eventType: "customer.created", billingObject: "customer", billingID: "contract-\(id)")))
    }

    private static func command(_ command: SyncCommand) throws -> [UInt8] {
        Array(try JSONEncoder().encode(command))
    }

    /// Produces a message the way another system would: keyed by customer, CloudEvents headers, the
    /// schema header when given.
    static func produce(_ producer: KafkaProducer, _ topic: String, id: String, value: [UInt8], schema: MessageSchema?) async throws {
        var headers = [
            KafkaHeader(name: MessageHeader.id, value: id),
            KafkaHeader(name: MessageHeader.type, value: "customer.created"),
            KafkaHeader(name: MessageHeader.source, value: testSource),
        ]
        if let schema { headers.append(KafkaHeader(name: MessageHeader.dataSchema, value: schema.uri)) }
        _ = try await producer.send(KafkaOutgoingMessage(
            topic: topic, key: Array("\(SyncStack.organization)/cust_contract_\(id)".utf8), value: value, headers: headers))
    }

    static func result(_ message: KafkaMessage) -> SyncResult? {
        try? JSONDecoder().decode(SyncResult.self, from: Data(message.value))
    }

    // MARK: - Checking

    /// Reads every topic from the beginning until it is quiet, and validates every message a service
    /// produced against its schema. Returns how many messages of each topic were validated.
    static func expectServiceMessagesMatchSchemas(_ stack: SyncStack) async throws -> [String: Int] {
        let everything = try makeConsumer(bootstrapServers: stack.bootstrapServers, topics: Topic.all)
        var messages: [KafkaMessage] = []
        var quietPolls = 0
        let deadline = ContinuousClock.now + .seconds(40)
        while ContinuousClock.now < deadline, quietPolls < 3 {
            let batch = await everything.poll(timeout: .seconds(1))
            messages += batch
            quietPolls = batch.isEmpty && !messages.isEmpty ? quietPolls + 1 : 0
        }
        await everything.close()
        let produced = messages.filter { $0.topic.hasSuffix(".dlq") || $0.header(MessageHeader.source) != testSource }
        let lines = produced.map { message -> String in
            let headers = Dictionary(message.headers.map { ($0.name, String(decoding: $0.value, as: UTF8.self)) }) { _, last in last }
            let line: JSONValue = [
                "topic": .string(message.topic), "key": .string(message.keyString ?? ""),
                "headers": .object(headers.mapValues { .string($0) }),
                "value": .string(String(decoding: message.value, as: UTF8.self)),
            ]
            return String(decoding: line.encoded(), as: UTF8.self)
        }
        let jsonLines = lines.joined(separator: "\n")
        let file = stack.directory.appendingPathComponent("contract-messages.jsonl")
        try jsonLines.write(to: file, atomically: true, encoding: .utf8)
        let (status, output) = try await contractScript(["validate", file.path])
        #expect(status == 0, "\(output.split(separator: "\n").suffix(40).joined(separator: " | "))")
        // The file goes with the stack; a failure attaches the messages, which `swift test --attachments-path` keeps.
        if status != 0 { Attachment.record(jsonLines, named: "contract-messages.jsonl") }
        var counts: [String: Int] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: "\t")
            if parts.count == 2, let count = Int(parts[1]) { counts[String(parts[0])] = count }
        }
        return counts
    }

    /// Runs `Tools/scripts/contract.py` with Debian's Python, which has the python3-yaml and
    /// python3-jsonschema packages `make test` installs; returns its exit status and output.
    static func contractScript(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        let python = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "python3"
        let script = try ServiceProcess.system(python, arguments: [Repository.path("Tools/scripts/contract.py")] + arguments)
        let status = try await script.waitForExit()
        return (status, script.output.joined(separator: "\n"))
    }

    /// Reads messages until `done` holds for what arrived, or the time is up.
    static func collectMessages(from consumer: KafkaConsumer, timeout: Duration, until done: ([KafkaMessage]) -> Bool) async -> [KafkaMessage] {
        var messages: [KafkaMessage] = []
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, !done(messages) {
            messages += await consumer.poll(timeout: .milliseconds(500))
        }
        return messages
    }
}
