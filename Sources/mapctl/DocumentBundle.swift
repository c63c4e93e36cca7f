import Foundation
import MapSchema

/// The YAML documents of `apply -f PATH` / `diff -f PATH`, joined into one request body.
///
/// The server numbers lines in the body it received; the bundle remembers where
/// each file starts so that diagnostics point at the user's own files again.
struct DocumentBundle {
    struct Part {
        var path: String
        /// First and last line of the part in the body, 1-based, inclusive.
        var lines: ClosedRange<Int>
    }

    private(set) var body = Data()
    private(set) var parts: [Part] = []
    private var lineCount = 0

    var isEmpty: Bool { parts.isEmpty }

    /// Reads PATH: `-` for stdin, a file, or a directory walked recursively for schema files.
    static func load(_ path: String) throws -> DocumentBundle {
        var bundle = DocumentBundle()
        if path == "-" {
            bundle.add(path: "<stdin>", contents: FileHandle.standardInput.readDataToEndOfFile())
            return bundle
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CommandFailure("\(path): no such file or directory")
        }
        let files = isDirectory.boolValue ? try schemaFiles(in: path) : [path]
        if files.isEmpty { throw CommandFailure("\(path): no schema files (*.yaml, *.yml) found") }
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CommandFailure("\(file): cannot read the file")
            }
            bundle.add(path: file, contents: data)
        }
        return bundle
    }

    // The files the validator would read in a directory.
    private static func schemaFiles(in directory: String) throws -> [String] {
        do {
            return try SchemaLoader.schemaFiles(in: directory)
        } catch {
            throw CommandFailure("\(directory): \(error)")
        }
    }

    mutating func add(path: String, contents: Data) {
        var text = contents
        if !parts.isEmpty && !Self.startsWithSeparator(text) {
            body.append(Data("---\n".utf8))
            lineCount += 1
        }
        if let last = text.last, last != UInt8(ascii: "\n") { text.append(UInt8(ascii: "\n")) }
        let lines = max(1, text.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) })
        parts.append(Part(path: path, lines: (lineCount + 1)...(lineCount + lines)))
        lineCount += lines
        body.append(text)
    }

    private static func startsWithSeparator(_ data: Data) -> Bool {
        data.starts(with: Data("---".utf8))
    }

    /// A diagnostic from the server, pointed back at the file it came from.
    func locate(_ diagnostic: Diagnostic) -> Diagnostic {
        if parts.contains(where: { $0.path == diagnostic.file }) { return diagnostic }
        guard diagnostic.line > 0, let part = parts.first(where: { $0.lines.contains(diagnostic.line) }) else {
            if parts.count == 1 && diagnostic.line == 0 {
                var copy = diagnostic
                copy.file = parts[0].path
                return copy
            }
            return diagnostic
        }
        var copy = diagnostic
        copy.file = part.path
        copy.line = diagnostic.line - part.lines.lowerBound + 1
        return copy
    }
}
