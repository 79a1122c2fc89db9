/// The tunnel IDs every tunnel provider accepts: 1-128 of `[A-Za-z0-9_-]`, starting with a
/// letter or a digit — a Cloudflare tunnel's UUID, and a safe directory name for the local store
/// (no `.`, no `/`, never mistaken for an option). `tenants.tunnel_id` is refused at write time
/// by the same rule (schema 0008); a test runs a table of IDs through both.
public enum TunnelID {
    public static let maxLength = 128

    public static func isValid(_ id: String) -> Bool {
        let scalars = Array(id.unicodeScalars)
        guard let first = scalars.first, scalars.count <= maxLength, isAlphanumeric(first) else { return false }
        return scalars.allSatisfy { isAlphanumeric($0) || $0 == "_" || $0 == "-" }
    }

    private static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }
}
