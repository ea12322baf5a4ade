import Contract
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceRuntime

/// One simulated provider API (Salesforce or NetSuite), served by `SandboxServer`.
public protocol SandboxSystem: Sendable {
    /// `salesforce` or `netsuite`: names the system in logs and in the ports the sandbox reports.
    var name: String { get }
    /// Adds the simulated API's routes.
    func addRoutes(to router: Router<SandboxRequestContext>)
    /// The answer to a request the system refuses without handling it (an injected error, an outage,
    /// an unknown route), in the system's own error format.
    func errorResponse(status: HTTPResponse.Status, message: String) -> Response
    /// The answer when more requests are in flight than the account allows.
    func concurrencyLimitResponse() -> Response
    /// Whether a request changes records (commit-then-fail faults apply only to those).
    func isWrite(_ request: Request) -> Bool
    func expireSessions()
    /// Forgets every record, session and counter, and reloads the seed data.
    func reset()
    /// Stored records by type: the type names and how many of each.
    func recordCounts() -> [String: Int]
    /// Every stored record of one type as the inspection API shows it; nil for an unknown type.
    func records(ofType type: String) -> [JSONValue]?
    /// System-specific figures for `/_sandbox/stats`, e.g. the API budget used.
    func statisticsDetails() -> [String: JSONValue]
}

/// What a system shares with the server around it.
public struct SandboxEnvironment: Sendable {
    public let faults: FaultInjector
    public let statistics: RequestStatistics
    /// Requests in flight above this number are refused; nil for no limit.
    public let concurrencyLimit: Int?

    public init(faults: FaultInjector, statistics: RequestStatistics = RequestStatistics(), concurrencyLimit: Int?) {
        self.faults = faults
        self.statistics = statistics
        self.concurrencyLimit = concurrencyLimit
    }
}

/// Serves one simulated system on its own port: its API, under fault injection and counted, and the
/// inspection API under `/_sandbox`.
public enum SandboxServer {
    /// The prefix of the inspection and control API, which is never counted nor faulted.
    public static let controlPrefix = "/_sandbox"

    public static func application(
        system: some SandboxSystem,
        environment: SandboxEnvironment,
        host: String,
        port: Int,
        logger: Logger,
        onRunning: @escaping @Sendable (_ port: Int) async -> Void
    ) -> some ApplicationProtocol {
        let router = Router(context: SandboxRequestContext.self)
        router.addMiddleware {
            SimulationMiddleware(system: system, environment: environment)
        }
        addControlRoutes(to: router, system: system, environment: environment)
        system.addRoutes(to: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    private static func addControlRoutes(to router: Router<SandboxRequestContext>, system: some SandboxSystem, environment: SandboxEnvironment) {
        let control = router.group(RouterPath(controlPrefix)).add(middleware: ProblemMiddleware())
        control.get("health") { _, _ in json(["status": "ok", "system": .string(system.name)]) }
        control.get("records") { _, _ in
            json(.object(system.recordCounts().mapValues { .number(Decimal($0)) }))
        }
        control.get("records/:type") { _, context in
            let type = try context.parameters.require("type")
            guard let records = system.records(ofType: type) else {
                throw Problem(.notFound, kind: "unknown-record-type", detail: "\(system.name) has no record type \(type)")
            }
            return json(.array(records))
        }
        control.get("stats") { _, _ in
            var body = try JSONValue.parse(JSONEncoder().encode(environment.statistics.snapshot()))?.objectValue ?? [:]
            body.merge(system.statisticsDetails()) { _, detail in detail }
            return json(.object(body))
        }
        control.get("faults") { _, _ in
            try json(JSONValue.parse(JSONEncoder().encode(environment.faults.settings)) ?? .null)
        }
        control.put("faults") { request, context in
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            let settings: FaultSettings
            do {
                settings = try JSONDecoder().decode(FaultSettings.self, from: Data(body.readableBytesView))
            } catch {
                throw Problem(.badRequest, kind: "invalid-fault-settings", detail: describe(error))
            }
            environment.faults.apply(settings)
            return try json(JSONValue.parse(JSONEncoder().encode(settings)) ?? .null)
        }
        control.post("sessions/expire") { _, _ in
            system.expireSessions()
            return Response(status: .noContent)
        }
        control.post("reset") { _, _ in
            system.reset()
            environment.statistics.reset()
            environment.faults.reseed()
            return Response(status: .noContent)
        }
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: value.encoded()))
        )
    }

    /// A decoding error as one line that names the offending key.
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map(\.stringValue).joined(separator: ".")
            return keys.isEmpty ? "" : " at \(keys)"
        }
        switch error {
        case .dataCorrupted(let context): return "\(context.debugDescription)\(path(context))"
        case .keyNotFound(let key, let context): return "missing \(key.stringValue)\(path(context))"
        case .typeMismatch(let type, let context): return "expected \(type)\(path(context))"
        case .valueNotFound(let type, let context): return "expected \(type)\(path(context))"
        @unknown default: return "\(error)"
        }
    }
}

/// Wraps every API request: counts it, enforces the concurrency limit, and applies the faults drawn
/// for it. Unknown routes and other framework errors are answered in the system's own format.
struct SimulationMiddleware<System: SandboxSystem>: RouterMiddleware {
    typealias Context = SandboxRequestContext
    let system: System
    let environment: SandboxEnvironment

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path.hasPrefix(SandboxServer.controlPrefix) {
            return try await next(request, context)
        }
        let statistics = environment.statistics
        let inFlight = statistics.requestStarted()
        var status = 0
        defer { statistics.requestFinished(status: status) }

        let response = try await simulate(request, context: context, inFlight: inFlight, next: next)
        status = response.status.code
        return response
    }

    private func simulate(
        _ request: Request,
        context: Context,
        inFlight: Int,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let statistics = environment.statistics
        if let limit = environment.concurrencyLimit, inFlight > limit {
            statistics.rejectedOverConcurrencyLimit()
            return system.concurrencyLimitResponse()
        }
        let decision = environment.faults.decide(isWrite: system.isWrite(request))
        if decision.latency > .zero {
            try await Task.sleep(for: decision.latency)
        }
        if decision.inOutage {
            statistics.faultInjected("outage")
            return system.errorResponse(status: .serviceUnavailable, message: "The service is unavailable (simulated outage).")
        }
        if decision.dropConnection {
            statistics.faultInjected("droppedConnection")
            return drop(context)
        }
        if let code = decision.errorStatus {
            statistics.faultInjected("error\(code)")
            return system.errorResponse(status: .init(code: code), message: "Simulated failure.")
        }
        if decision.expireSessions {
            statistics.faultInjected("sessionExpired")
            system.expireSessions()
        }

        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            return system.errorResponse(status: error.status, message: (error as? HTTPError)?.body ?? error.status.reasonPhrase)
        }
        guard let failure = decision.failAfterCommit, (200..<300).contains(response.status.code) else {
            return response
        }
        statistics.faultInjected("commitThenFail")
        switch failure {
        case .error:
            return system.errorResponse(status: .internalServerError, message: "An unexpected error occurred (simulated, after the write was saved).")
        case .drop:
            return drop(context)
        }
    }

    /// Closes the connection; the response returned is never delivered.
    private func drop(_ context: Context) -> Response {
        context.channel.close(mode: .all, promise: nil)
        return Response(status: .internalServerError)
    }
}
