import Hummingbird
import Kafka
import Logging
import Prometheus

/// A check `/readyz` runs; throwing means not ready, and the error's description says why.
public typealias ReadinessCheck = @Sendable () async throws -> Void

extension Router {
    /// Adds `/healthz` (the process serves requests), `/readyz` (its dependencies answer) and
    /// `/metrics` (Prometheus text format).
    public func addOperationalRoutes(registry: PrometheusCollectorRegistry, readiness: [String: ReadinessCheck]) {
        get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        get("/readyz") { _, _ in
            var failures: [String: String] = [:]
            for (name, check) in readiness {
                do { try await check() } catch { failures[name] = "\(error)" }
            }
            guard failures.isEmpty else {
                let detail = failures.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
                throw Problem(.serviceUnavailable, kind: "not-ready", detail: detail)
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ready"}"#)))
        }
        get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
    }
}

extension Router where Context == BasicRequestContext {
    /// A service's router: errors as problem+json, `/healthz`, `/metrics`, and `/readyz` checking the
    /// Kafka brokers through the service's producer and its state store.
    public static func service(
        registry: PrometheusCollectorRegistry, producer: KafkaProducer, storeName: String = "store", storeCheck: @escaping ReadinessCheck
    ) -> Router<BasicRequestContext> {
        let router = Router()
        router.addMiddleware { ProblemMiddleware() }
        router.addOperationalRoutes(
            registry: registry,
            readiness: ["kafka": { try await producer.checkConnectivity() }, storeName: storeCheck])
        return router
    }
}
