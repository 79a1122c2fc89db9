import Foundation

/// A file-system failure in words ("permission denied"), without the paths Foundation puts in
/// its own messages: what reaches `last_error`, events and logs names the operation and the
/// resource, never the layout of the state directory.
enum FileSystemFailure {
    static func reason(_ error: any Error) -> String {
        if let failure = error as? AtomicFile.Failure { return failure.description }
        if let failure = error as? FileAccess.Failure { return failure.description }
        if let failure = error as? RuntimeUserTable.Failure { return failure.description }
        let error = error as NSError
        if error.domain == NSPOSIXErrorDomain { return words(errno: Int32(error.code)) }
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return words(errno: Int32(underlying.code))
        }
        switch CocoaError.Code(rawValue: error.domain == NSCocoaErrorDomain ? error.code : -1) {
        case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
        case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or directory"
        case .fileWriteFileExists: return "a file is in the way"
        case .fileWriteOutOfSpace: return "no space left on device"
        case .fileWriteVolumeReadOnly: return "read-only file system"
        default: return "file system error"
        }
    }

    /// `strerror`, starting in lower case: "permission denied".
    static func words(errno code: Int32) -> String {
        let text = String(cString: strerror(code))
        return text.prefix(1).lowercased() + text.dropFirst()
    }
}
