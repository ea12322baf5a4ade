import Foundation
import Synchronization

/// What can go wrong on purpose, per simulated system. Set at start (configuration file) and at run
/// time (`PUT /_sandbox/faults`); every random choice comes from one seeded generator, so a run with
/// the same seed and the same request order sees the same faults.
public struct FaultSettings: Sendable, Equatable, Codable {
    /// Added to every API request, uniformly between `min` and `max` milliseconds.
    public var latencyMs: LatencyRange
    /// Probability of answering with an error status instead of handling the request, by status
    /// (`{"503": 0.02, "500": 0.01}`); each system renders the status in its own error format.
    public var errorRates: [Int: Double]
    /// Probability of closing the connection without any response, before the request is handled.
    public var dropConnectionRate: Double
    /// Probability that a write is applied and then its response fails: the case that makes naive
    /// clients create duplicates when they retry.
    public var commitThenFailRate: Double
    /// How a committed write's response fails: an error status (`error`) or a dropped connection (`drop`).
    public var commitThenFailMode: CommitFailureMode
    /// Probability that every session of the system expires just before a request is handled.
    public var sessionExpiryRate: Double
    /// Windows, relative to when these settings were applied, in which every request gets 503.
    public var outages: [OutageWindow]

    public enum CommitFailureMode: String, Sendable, Codable { case error, drop }

    public struct LatencyRange: Sendable, Equatable, Codable {
        public var min: Int
        public var max: Int
        public init(min: Int, max: Int) {
            self.min = min
            self.max = max
        }
    }

    public struct OutageWindow: Sendable, Equatable, Codable {
        public var startsAfterSeconds: Double
        public var durationSeconds: Double
        public init(startsAfterSeconds: Double, durationSeconds: Double) {
            self.startsAfterSeconds = startsAfterSeconds
            self.durationSeconds = durationSeconds
        }
    }

    public init(
        latencyMs: LatencyRange = .init(min: 0, max: 0),
        errorRates: [Int: Double] = [:],
        dropConnectionRate: Double = 0,
        commitThenFailRate: Double = 0,
        commitThenFailMode: CommitFailureMode = .error,
        sessionExpiryRate: Double = 0,
        outages: [OutageWindow] = []
    ) {
        self.latencyMs = latencyMs
        self.errorRates = errorRates
        self.dropConnectionRate = dropConnectionRate
        self.commitThenFailRate = commitThenFailRate
        self.commitThenFailMode = commitThenFailMode
        self.sessionExpiryRate = sessionExpiryRate
        self.outages = outages
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case latencyMs, errorRates, dropConnectionRate, commitThenFailRate, commitThenFailMode, sessionExpiryRate, outages
    }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = FaultSettings()
        latencyMs = try container.decodeIfPresent(LatencyRange.self, forKey: .latencyMs) ?? defaults.latencyMs
        let rates = try container.decodeIfPresent([String: Double].self, forKey: .errorRates) ?? [:]
        errorRates = [:]
        for (status, rate) in rates {
            guard let code = Int(status) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .errorRates, in: container, debugDescription: "errorRates keys are HTTP statuses, not \(status)")
            }
            errorRates[code] = rate
        }
        dropConnectionRate = try container.decodeIfPresent(Double.self, forKey: .dropConnectionRate) ?? 0
        commitThenFailRate = try container.decodeIfPresent(Double.self, forKey: .commitThenFailRate) ?? 0
        commitThenFailMode = try container.decodeIfPresent(CommitFailureMode.self, forKey: .commitThenFailMode) ?? .error
        sessionExpiryRate = try container.decodeIfPresent(Double.self, forKey: .sessionExpiryRate) ?? 0
        outages = try container.decodeIfPresent([OutageWindow].self, forKey: .outages) ?? []
        let problems = validationProblems()
        guard problems.isEmpty else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: problems.joined(separator: "; ")))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(latencyMs, forKey: .latencyMs)
        try container.encode(Dictionary(uniqueKeysWithValues: errorRates.map { ("\($0.key)", $0.value) }), forKey: .errorRates)
        try container.encode(dropConnectionRate, forKey: .dropConnectionRate)
        try container.encode(commitThenFailRate, forKey: .commitThenFailRate)
        try container.encode(commitThenFailMode, forKey: .commitThenFailMode)
        try container.encode(sessionExpiryRate, forKey: .sessionExpiryRate)
        try container.encode(outages, forKey: .outages)
    }

    /// Every reason these settings cannot be used; empty when they can.
    public func validationProblems() -> [String] {
        var problems: [String] = []
        func checkRate(_ name: String, _ rate: Double) {
            if !(0...1).contains(rate) { problems.append("\(name) must be between 0 and 1, not \(rate)") }
        }
        if latencyMs.min < 0 || latencyMs.max < latencyMs.min {
            problems.append("latencyMs needs 0 <= min <= max, not min \(latencyMs.min) max \(latencyMs.max)")
        }
        for (status, rate) in errorRates.sorted(by: { $0.key < $1.key }) {
            if !(400...599).contains(status) { problems.append("errorRates: \(status) is not an HTTP error status (400-599)") }
            checkRate("errorRates[\(status)]", rate)
        }
        if errorRates.values.reduce(0, +) > 1 { problems.append("errorRates add up to more than 1") }
        checkRate("dropConnectionRate", dropConnectionRate)
        checkRate("commitThenFailRate", commitThenFailRate)
        checkRate("sessionExpiryRate", sessionExpiryRate)
        for outage in outages where outage.startsAfterSeconds < 0 || outage.durationSeconds <= 0 {
            problems.append("outages need startsAfterSeconds >= 0 and durationSeconds > 0")
        }
        return problems
    }
}

/// What the fault injector chose for one request.
public struct FaultDecision: Sendable, Equatable {
    public var latency: Duration = .zero
    public var inOutage = false
    public var errorStatus: Int?
    public var dropConnection = false
    public var expireSessions = false
    /// Set when a write must be applied and its response then fail.
    public var failAfterCommit: FaultSettings.CommitFailureMode?

    public static let none = FaultDecision()
}

/// Draws fault decisions from seeded randomness.
public final class FaultInjector: Sendable {
    private struct State {
        var settings: FaultSettings
        var appliedAt: ContinuousClock.Instant
        var random: SeededRandom
    }

    private let seed: UInt64
    private let state: Mutex<State>

    public init(settings: FaultSettings, seed: UInt64) {
        self.seed = seed
        state = Mutex(State(settings: settings, appliedAt: .now, random: SeededRandom(seed: seed)))
    }

    public var settings: FaultSettings { state.withLock { $0.settings } }

    /// Replaces the settings; outage windows count from now.
    public func apply(_ settings: FaultSettings) {
        state.withLock {
            $0.settings = settings
            $0.appliedAt = .now
        }
    }

    /// Back to the first random draw, so a test can replay the same sequence of faults.
    public func reseed() {
        state.withLock { $0.random = SeededRandom(seed: seed) }
    }

    /// Chooses the faults of one request. The same number of draws happens for every request, so the
    /// sequence depends only on the seed and the order of requests.
    public func decide(isWrite: Bool) -> FaultDecision {
        state.withLock { state in
            let settings = state.settings
            let latencyDraw = state.random.nextUnit()
            let errorDraw = state.random.nextUnit()
            let dropDraw = state.random.nextUnit()
            let sessionDraw = state.random.nextUnit()
            let commitDraw = state.random.nextUnit()

            var decision = FaultDecision()
            let elapsed = ContinuousClock.now - state.appliedAt
            decision.inOutage = settings.outages.contains { window in
                let start = Duration.milliseconds(Int64(window.startsAfterSeconds * 1000))
                let end = start + .milliseconds(Int64(window.durationSeconds * 1000))
                return elapsed >= start && elapsed < end
            }
            let spread = Double(settings.latencyMs.max - settings.latencyMs.min)
            decision.latency = .milliseconds(settings.latencyMs.min) + .microseconds(Int64(latencyDraw * spread * 1000))
            var cumulative = 0.0
            for (status, rate) in settings.errorRates.sorted(by: { $0.key < $1.key }) {
                cumulative += rate
                if errorDraw < cumulative {
                    decision.errorStatus = status
                    break
                }
            }
            decision.dropConnection = dropDraw < settings.dropConnectionRate
            decision.expireSessions = sessionDraw < settings.sessionExpiryRate
            if isWrite && commitDraw < settings.commitThenFailRate {
                decision.failAfterCommit = settings.commitThenFailMode
            }
            return decision
        }
    }
}

/// SplitMix64: small, fast and fully determined by its seed.
struct SeededRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func nextUnit() -> Double {
        Double(next() >> 11) / Double(UInt64(1) << 53)
    }
}

/// Rejects keys a decoder does not know, so a misspelt setting is an error instead of being ignored.
public enum StrictKeys {
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public static func check<Keys: CodingKey & CaseIterable>(_ decoder: any Decoder, allowed: Keys.Type) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        let known = Set(Keys.allCases.map(\.stringValue))
        let unknown = container.allKeys.map(\.stringValue).filter { !known.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "unknown setting \(unknown.joined(separator: ", ")); known: \(known.sorted().joined(separator: ", "))"
                ))
        }
    }
}
