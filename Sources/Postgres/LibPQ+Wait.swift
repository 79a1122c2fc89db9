import CLibPQ
import Foundation

extension LibPQ {
    /// Waits until the session's socket has one of `events` (or an error or hang-up, which
    /// libpq then reports) and returns what it has; nil when `deadline` passes first.
    static func waitForSocket(_ handle: OpaquePointer, events: Int16, until deadline: ContinuousClock.Instant) -> Int16? {
        let socket = PQsocket(handle)
        // No socket: let libpq's next call report the broken session.
        guard socket >= 0 else { return Int16(POLLERR) }
        var descriptor = pollfd(fd: socket, events: events, revents: 0)
        while true {
            let remaining = deadline - .now
            guard remaining > .zero else { return nil }
            let ready = poll(&descriptor, 1, pollMilliseconds(remaining))
            if ready > 0 { return descriptor.revents }
            if ready < 0, errno != EINTR { return Int16(POLLERR) }
        }
    }

    /// `duration` rounded up to whole milliseconds, as `poll` takes it.
    static func pollMilliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds * 1_000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: max(0, milliseconds))
    }
}
