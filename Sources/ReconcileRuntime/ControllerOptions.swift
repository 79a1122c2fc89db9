/// How one controller runs. Every field has a default fit for a controller that calls
/// external APIs; the no-op benchmark raises `workers` and `batchSize`.
public struct ControllerOptions: Sendable {
    /// Concurrent workers; each processes one batch at a time. Default 2.
    public var workers: Int = 2
    /// Keys one worker claims, reconciles (concurrently) and writes back per database round
    /// trip. Default 8.
    public var batchSize: Int = 8
    /// Retry backoff per key. Default 1 s doubling to 5 min, +20 % jitter.
    public var backoff = ExponentialBackoff()
    /// Overall retry rate over all keys of the controller. Default 10/s, burst 100.
    public var retryRate: Double = 10
    public var retryBurst: Int = 100
    /// How long a lease lasts without renewal (database clock). Renewed every third of it
    /// while a reconcile runs. Default 30 s.
    public var leaseDuration: Duration = .seconds(30)
    /// Safety-net resync of due keys (besides NOTIFY and reconnects). Default 30 s.
    public var dueResyncInterval: Duration = .seconds(30)
    /// A full resync re-examines every key (drift in the outside world), spread over this
    /// period rather than all at once. Default 10 min.
    public var fullResyncInterval: Duration = .seconds(600)
    /// Also run a full resync when the controller starts (paced the same way). Default true.
    public var fullResyncAtStart = true
    /// A watch (`.watch(d)`) is looked at again after `d` by this replica, from memory; the look
    /// persisted for other replicas (and for this one after a restart) is at least this far
    /// off, so a fleet watched every few seconds does not rewrite its rows every few seconds.
    /// Default 30 s.
    public var persistedWatch: Duration = .seconds(30)
    /// How often the failing-keys and due-keys gauges are read from the controller table (one
    /// count over the table). Default 15 s.
    public var keyGaugeInterval: Duration = .seconds(15)

    public init() {}
}
