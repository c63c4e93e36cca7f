import Foundation
import LiveMaps
import MapSchema

/// One map's entries as saved on a clean shutdown, and the file that holds them.
///
/// The file is text, one entry per line, so that an operator can read it:
///
/// ```
/// mapctl-contents 1
/// {"entries":2,"key_type":"string","map":"orders","run":7,"version":"1.2.0"}
/// "o-1"	{"total":12}
/// "o-2"	{"total":30}
/// crc32 5d2a91c4
/// ```
///
/// Keys are JSON strings of their URL form, values compact JSON (which never holds a raw tab or
/// newline). The last line is the CRC-32 of every byte before it: a file cut short, torn, or
/// changed by a single bit is refused as a whole, never half restored. `run` is the controller
/// run that wrote the file, so that only the contents of the run just before are restored.
struct ContentsSnapshot: Sendable {
    static let magic = "mapctl-contents 1"
    static let fileExtension = ".contents"

    var map: String
    var version: String
    var keyType: KeyType
    var run: Int64
    var entries: [(MapKey, JSONValue)]

    /// The file of `map` under `directory`.
    static func path(of map: String, in directory: String) -> String { directory + "/" + map + fileExtension }

    // MARK: Writing

    /// Writes the file atomically and durably: a temporary file, fsync'd, renamed over the old
    /// one, and the directory fsync'd, so that a crash at any point leaves the old file or the new
    /// one, whole.
    ///
    /// - Throws: ``ContentsSnapshotError`` naming the step that failed.
    func write(to directory: String) throws(ContentsSnapshotError) {
        let target = Self.path(of: map, in: directory)
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw .system("create \(directory)", errno: errno, path: directory) }
        let temporary = directory + "/." + map + Self.fileExtension + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .system("create", errno: errno, path: temporary) }
        var writer = ChunkWriter(descriptor: descriptor)
        do throws(ContentsSnapshotError) {
            writer.append(Array((Self.magic + "\n").utf8))
            let header: JSONValue = .object([
                "map": .string(map), "version": .string(version), "key_type": .string(keyType.rawValue), "run": .int(run),
                "entries": .int(Int64(entries.count)),
            ])
            writer.append(header.serialized() + [0x0A])
            for (key, value) in entries {
                var line = JSONValue.string(key.description).serialized()
                line.append(0x09)
                line += value.serialized()
                line.append(0x0A)
                writer.append(line)
                try writer.flushIfFull(path: temporary)
            }
            let checksum = writer.crc.value
            writer.append(Array("crc32 \(Self.hex(checksum))\n".utf8), counted: false)
            try writer.flush(path: temporary)
            guard fsync(descriptor) == 0 else { throw .system("fsync", errno: errno, path: temporary) }
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        close(descriptor)
        guard rename(temporary, target) == 0 else {
            let code = errno
            unlink(temporary)
            throw .system("rename into place", errno: code, path: target)
        }
        try Self.syncDirectory(directory)
    }

    static func syncDirectory(_ directory: String) throws(ContentsSnapshotError) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system("open directory", errno: errno, path: directory) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw .system("fsync directory", errno: errno, path: directory) }
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    // MARK: Reading

    /// Reads and checks a file written by ``write(to:)``.
    ///
    /// - Throws: ``ContentsSnapshotError`` saying what is wrong: unreadable, cut short, checksum
    ///   mismatch, or a line that does not parse.
    static func read(from path: String) throws(ContentsSnapshotError) -> ContentsSnapshot {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .damaged("cannot be read", path: path)
        }
        let bytes = [UInt8](data)
        guard bytes.last == 0x0A, let trailerStart = bytes.dropLast().lastIndex(of: 0x0A).map({ $0 + 1 }) else {
            throw .damaged("cut short: no checksum line at the end", path: path)
        }
        let trailer = String(decoding: bytes[trailerStart..<(bytes.count - 1)], as: UTF8.self)
        guard trailer.hasPrefix("crc32 "), let expected = UInt32(trailer.dropFirst(6), radix: 16) else {
            throw .damaged("cut short: the last line is not its checksum", path: path)
        }
        let actual = CRC32.checksum(bytes[0..<trailerStart])
        guard actual == expected else {
            throw .damaged("checksum mismatch (the file says \(hex(expected)), its contents give \(hex(actual)))", path: path)
        }
        var lines = bytes[0..<trailerStart].split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard lines.count >= 2, String(decoding: lines[0], as: UTF8.self) == magic else {
            throw .damaged("not a contents file (the first line is not '\(magic)')", path: path)
        }
        guard case .object(let header)? = try? JSONValue(parsing: lines[1]),
            case .string(let map)? = header["map"], case .string(let version)? = header["version"],
            case .string(let keyTypeName)? = header["key_type"], let keyType = KeyType(rawValue: keyTypeName),
            case .int(let run)? = header["run"], case .int(let count)? = header["entries"]
        else {
            throw .damaged("line 2: not a contents header", path: path)
        }
        guard count == lines.count - 2 else {
            throw .damaged("the header counts \(count) entries, the file holds \(lines.count - 2)", path: path)
        }
        var entries: [(MapKey, JSONValue)] = []
        entries.reserveCapacity(Int(count))
        for (offset, line) in lines.dropFirst(2).enumerated() {
            guard let tab = line.firstIndex(of: 0x09),
                case .string(let keyText)? = try? JSONValue(parsing: line[line.startIndex..<tab]),
                let key = try? MapKey(parsing: keyText, as: keyType),
                let value = try? JSONValue(parsing: line[(tab + 1)...])
            else {
                throw .damaged("line \(offset + 3): not an entry", path: path)
            }
            entries.append((key, value))
        }
        return ContentsSnapshot(map: map, version: version, keyType: keyType, run: run, entries: entries)
    }
}

/// Why a contents file could not be written or was refused.
struct ContentsSnapshotError: Error, Sendable, CustomStringConvertible {
    var message: String
    var path: String
    /// True when the file exists but is not a good one (as opposed to a failed system call).
    var isDamage: Bool

    var description: String { "\(path): \(message)" }

    static func damaged(_ message: String, path: String) -> ContentsSnapshotError {
        ContentsSnapshotError(message: message, path: path, isDamage: true)
    }

    static func system(_ step: String, errno code: Int32, path: String) -> ContentsSnapshotError {
        ContentsSnapshotError(message: "\(step): \(String(cString: strerror(code)))", path: path, isDamage: false)
    }
}

/// Buffers a file's bytes in chunks of about a MiB, counting them into the checksum.
private struct ChunkWriter {
    let descriptor: Int32
    var buffer: [UInt8] = []
    var crc = CRC32()

    init(descriptor: Int32) {
        self.descriptor = descriptor
        buffer.reserveCapacity(1 << 20)
    }

    mutating func append(_ bytes: [UInt8], counted: Bool = true) {
        if counted { crc.update(bytes) }
        buffer += bytes
    }

    mutating func flushIfFull(path: String) throws(ContentsSnapshotError) {
        if buffer.count >= 1 << 20 { try flush(path: path) }
    }

    mutating func flush(path: String) throws(ContentsSnapshotError) {
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw .system("write", errno: errno, path: path)
            }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
