import Contract
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Kafka
import Logging
import Metrics
import ServiceRuntime

/// Turns one signed Lago webhook into one event on `billing.events`, acknowledging it only once the
/// brokers stored it.
struct WebhookReceiver: Sendable {
    struct Organization: Sendable {
        let settings: OrganizationSettings
        let verifier: SignatureVerifier
    }

    let organizations: [String: Organization]
    let configuration: IngestConfiguration
    let ledger: DeliveryLedger
    let publisher: BillingEventPublisher
    let metrics = IngestMetrics()

    /// The configured organizations by URL segment: by name and, when configured, by Lago's id.
    /// Throws a configuration error for every key that cannot be used.
    static func organizations(_ configuration: IngestConfiguration) async throws -> [String: Organization] {
        var organizations: [String: Organization] = [:]
        var problems: [String] = []
        for settings in configuration.organizations {
            do {
                let organization = Organization(settings: settings, verifier: try await SignatureVerifier(settings))
                organizations[settings.name] = organization
                if let id = settings.id { organizations[id] = organization }
            } catch let error as ConfigurationError {
                problems += error.problems
            }
        }
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        return organizations
    }

    init(
        organizations: [String: Organization],
        configuration: IngestConfiguration,
        ledger: DeliveryLedger,
        publisher: BillingEventPublisher
    ) {
        self.organizations = organizations
        self.configuration = configuration
        self.ledger = ledger
        self.publisher = publisher
    }

    /// The answer to an accepted webhook: `{"status", "event_id", "webhook_type", "webhook_type_known"}`.
    struct Acknowledgement: ResponseGenerator {
        enum Status: String { case accepted, duplicate }
        let status: Status
        let eventID: String
        let webhookType: String
        let webhookTypeKnown: Bool

        func response(from request: Request, context: some RequestContext) throws -> Response {
            let document: JSONValue = [
                "status": .string(status.rawValue),
                "event_id": .string(eventID),
                "webhook_type": .string(webhookType),
                "webhook_type_known": .bool(webhookTypeKnown),
            ]
            var body: [UInt8] = []
            document.write(into: &body)
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
    }

    /// Handles one webhook and counts its outcome in `ingest_webhooks_total{outcome}`: `accepted`,
    /// `duplicate`, or the problem kind it was refused with (`invalid-signature`, `event-store-unavailable`, …).
    func receive(_ request: Request, context: some RequestContext) async throws -> Acknowledgement {
        do {
            let acknowledgement = try await process(request, context: context)
            metrics.count(outcome: acknowledgement.status.rawValue)
            return acknowledgement
        } catch let problem as Problem {
            metrics.count(outcome: problem.kind)
            throw problem
        }
    }

    private func process(_ request: Request, context: some RequestContext) async throws -> Acknowledgement {
        let name = try context.parameters.require("organization")
        guard let organization = organizations[name] else {
            throw Problem(.notFound, kind: "unknown-organization", detail: "No organization named \(name) is configured.")
        }
        try checkContentType(request.headers[.contentType])
        let body = try await collectBody(request)
        try await organization.verifier.verify(
            body: body,
            signature: request.headers[.lagoSignature],
            algorithmName: request.headers[.lagoSignatureAlgorithm]
        )
        let envelope = try LagoEnvelope.parse(body)
        let organizationID = try resolveOrganizationID(envelope, organization.settings)

        // Lago keeps X-Lago-Unique-Key across retries; without it, the body itself identifies the delivery.
        let deliveryID = request.headers[.lagoUniqueKey].flatMap { $0.isEmpty ? nil : $0 } ?? Self.contentID(body)
        let known = LagoWebhookTypes.known.contains(envelope.webhookType)
        let acknowledgement = { (status: Acknowledgement.Status) in
            Acknowledgement(status: status, eventID: deliveryID, webhookType: envelope.webhookType, webhookTypeKnown: known)
        }
        let seen: Bool
        do {
            seen = try await ledger.contains(organization: organizationID, deliveryID: deliveryID)
        } catch {
            context.logger.error("delivery ledger unavailable; asking the sender to retry", metadata: ["error": "\(error)"])
            throw unavailable("The delivery ledger could not be read; retry later.")
        }
        if seen { return acknowledgement(.duplicate) }

        let event = BillingEvent(
            key: MessageKey(organizationID: organizationID, externalCustomerID: envelope.externalCustomerID ?? ""),
            id: deliveryID,
            type: envelope.webhookType,
            typeKnown: known,
            source: "/lago/organizations/\(organizationID)",
            traceParent: request.headers[.traceParent],
            body: body
        )
        do {
            try await publisher.publish(event)
        } catch {
            context.logger.error("event not stored; asking the sender to retry", metadata: ["error": "\(error)"])
            throw unavailable("The event could not be stored in Kafka; retry later.")
        }
        ledger.record(organization: organizationID, deliveryID: deliveryID, eventType: envelope.webhookType)
        if !known {
            context.logger.warning("unknown webhook type accepted", metadata: ["lago.webhook_type": "\(envelope.webhookType)"])
            metrics.unknownTypes.increment()
        }
        return acknowledgement(.accepted)
    }

    /// A 503 that tells the sender when to retry: nothing was stored, so a retry loses nothing.
    private func unavailable(_ detail: String) -> Problem {
        Problem(
            .serviceUnavailable, kind: "event-store-unavailable", detail: detail,
            headers: [.retryAfter: String(configuration.retryAfterSeconds)]
        )
    }

    private func checkContentType(_ value: String?) throws {
        guard let value, Self.mediaType(of: value) == "application/json" else {
            throw Problem(
                .unsupportedMediaType, kind: "unsupported-media-type",
                detail: "Send the webhook as application/json, not \(value ?? "without a Content-Type")."
            )
        }
    }

    private func collectBody(_ request: Request) async throws -> [UInt8] {
        let limit = configuration.maximumBodyBytes
        let tooLarge = Problem(.contentTooLarge, kind: "body-too-large", detail: "The body exceeds \(limit) bytes.")
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit { throw tooLarge }
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge
        }
    }

    private func resolveOrganizationID(_ envelope: LagoEnvelope, _ settings: OrganizationSettings) throws -> String {
        switch (settings.id, envelope.organizationID) {
        case (let configured?, let sent?) where configured != sent:
            throw Problem(
                .badRequest, kind: "organization-mismatch",
                detail: "The webhook's organization_id \(sent) is not this endpoint's organization."
            )
        case (let configured?, _): return configured
        case (nil, let sent?): return sent
        case (nil, nil): return settings.name
        }
    }

    /// A Content-Type's media type, lower-cased, without parameters or surrounding blanks.
    private static func mediaType(of value: String) -> String {
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        let type = value.utf8.prefix { $0 != UInt8(ascii: ";") }.drop(while: isBlank)
        let end = type.lastIndex { !isBlank($0) }.map { type.index(after: $0) } ?? type.startIndex
        return String(decoding: type[..<end], as: UTF8.self).lowercased()
    }

    private static func contentID(_ body: [UInt8]) -> String {
        "sha256:" + hexEncoded(SHA256.hash(data: body))
    }
}

extension HTTPField.Name {
    static let lagoSignature = HTTPField.Name("X-Lago-Signature")!
    static let lagoSignatureAlgorithm = HTTPField.Name("X-Lago-Signature-Algorithm")!
    static let lagoUniqueKey = HTTPField.Name("X-Lago-Unique-Key")!
    static let traceParent = HTTPField.Name("traceparent")!
}

/// Ingest's metric handles, created once: a lookup per request would cost a registry lock each time.
struct IngestMetrics: Sendable {
    let unknownTypes = Counter(label: "ingest_unknown_webhook_types_total")
    private let outcomes: [String: Counter]

    init() {
        let kinds = ["accepted", "duplicate", "invalid-signature", "unknown-organization", "invalid-json",
                     "not-a-lago-webhook", "organization-mismatch", "body-too-large", "unsupported-media-type",
                     "event-store-unavailable"]
        outcomes = Dictionary(uniqueKeysWithValues: kinds.map {
            ($0, Counter(label: "ingest_webhooks_total", dimensions: [("outcome", $0)]))
        })
    }

    func count(outcome: String) {
        (outcomes[outcome] ?? Counter(label: "ingest_webhooks_total", dimensions: [("outcome", outcome)])).increment()
    }
}

/// Lower-case hexadecimal digits of some bytes.
func hexEncoded(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: text, as: UTF8.self)
}
