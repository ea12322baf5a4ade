/// Exponential backoff with full jitter for transient failures.
public struct RetryPolicy: Sendable {
    /// Attempts in total, the first included.
    public var maximumAttempts: Int
    public var initialDelay: Duration
    public var maximumDelay: Duration

    public init(maximumAttempts: Int = 6, initialDelay: Duration = .milliseconds(200), maximumDelay: Duration = .seconds(20)) {
        self.maximumAttempts = maximumAttempts
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// The pause before attempt `attempt + 1`: a random share of min(maximum, initial × 2^(attempt−1)).
    public func delay(afterAttempt attempt: Int) -> Duration {
        let ceiling = min(maximumDelay, initialDelay * (1 << min(max(attempt - 1, 0), 20)))
        return ceiling * Double.random(in: 0.5...1.0)
    }
}
