import Crypto

/// Content hashes of schema documents: SHA-256 from swift-crypto.
///
/// Named apart from Crypto's `SHA256` so that a module importing both MapSchema and Crypto sees no
/// ambiguous type.
public enum ContentHash {
    /// The lowercase hex SHA-256 digest of `bytes`.
    public static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
        let alphabet = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in Crypto.SHA256.hash(data: Array(bytes)) {
            out.append(alphabet[Int(byte >> 4)])
            out.append(alphabet[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The 32-byte SHA-256 digest of `bytes`.
    public static func sha256(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        Array(Crypto.SHA256.hash(data: Array(bytes)))
    }
}
