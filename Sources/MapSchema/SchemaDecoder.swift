import Yams

/// Decodes schema files into validated ``MapSchema`` values, or into diagnostics.
///
/// Every diagnostic carries the file, line and column of the node it is about,
/// so the decoder reads Yams `Node`s itself rather than going through
/// `YAMLDecoder`. Input limits are checked on the raw bytes and on the
/// parser's event stream first (see ``Options``); nothing a file contains makes the decoder throw, crash or hang.
public struct SchemaDecoder: Sendable {
    /// Limits and permissions. The defaults are those of `mapctl validate` and the daemon.
    public struct Options: Sendable {
        /// Accept `fault_injection` (the daemon's `--enable-fault-injection`).
        public var allowFaultInjection = false
        /// Accept several documents separated by `---` (an apply body); a schema file holds one.
        public var allowMultipleDocuments = false
        /// Accept `rollout.queries`. `mapctl validate` checks their shape only (true); the controller sets it
        /// to whether it has a Prometheus server (`--prometheus`), so that queries never pass unjudged.
        public var allowPrometheusQueries = true
        /// Larger input is refused before parsing.
        public var maxFileBytes = 1 << 20
        /// Nesting of mappings and sequences per document, counted on the parser's events before composing.
        public var maxDepth = 64
        /// Aliases (`*name`) per document; a schema never needs many, and each may fan out.
        public var maxAliases = 10
        /// Nodes per document, each alias counted as the whole node it repeats.
        public var maxNodes = 1 << 20
        /// Record fields per map.
        public var maxRecordFields = 1024

        public init(
            allowFaultInjection: Bool = false,
            allowMultipleDocuments: Bool = false,
            maxFileBytes: Int = 1 << 20,
            maxDepth: Int = 64,
            maxAliases: Int = 10,
            maxNodes: Int = 1 << 20,
            maxRecordFields: Int = 1024,
            allowPrometheusQueries: Bool = true
        ) {
            self.allowFaultInjection = allowFaultInjection
            self.allowMultipleDocuments = allowMultipleDocuments
            self.maxFileBytes = maxFileBytes
            self.maxDepth = maxDepth
            self.maxAliases = maxAliases
            self.maxNodes = maxNodes
            self.maxRecordFields = maxRecordFields
            self.allowPrometheusQueries = allowPrometheusQueries
        }
    }

    public var options: Options

    public init(options: Options = .init()) {
        self.options = options
    }

    /// Decodes one file's bytes (or an apply body). Never throws, never crashes.
    ///
    /// - Parameters:
    ///   - bytes: The raw content.
    ///   - file: The name diagnostics use (the path as the user gave it, `<stdin>`, a client name).
    /// - Returns: The valid documents, the invalid ones, and every diagnostic in order.
    public func decode(_ bytes: [UInt8], file: String) -> SchemaFileResult {
        if let limit = InputLimits.check(bytes, file: file, options: options) {
            return SchemaFileResult(invalid: [InvalidDocument(file: file, diagnostics: [limit])], diagnostics: [limit])
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let chunks = DocumentChunk.split(text)
        var result = SchemaFileResult()
        guard !chunks.isEmpty else {
            let diagnostic = Diagnostic(file: file, line: 0, column: 0, message: "the file holds no schema document")
            return SchemaFileResult(invalid: [InvalidDocument(file: file, diagnostics: [diagnostic])], diagnostics: [diagnostic])
        }
        if chunks.count > 1 && !options.allowMultipleDocuments {
            var invalid = decodeDocument(chunks[0], file: file)
            let extra = Diagnostic(
                file: file, line: chunks[1].startLine, column: 1,
                message: "a schema file holds one document; found another here (put each map in its own file)"
            )
            switch invalid {
            case .valid(let document):
                invalid = .invalid(
                    InvalidDocument(
                        file: file, name: document.schema.name, version: document.schema.version.description, diagnostics: [extra]))
            case .invalid(var document):
                document.diagnostics.append(extra)
                invalid = .invalid(document)
            }
            if case .invalid(let document) = invalid {
                result.invalid.append(document)
                result.diagnostics += document.diagnostics
            }
            return result
        }
        for chunk in chunks {
            switch decodeDocument(chunk, file: file) {
            case .valid(let document): result.documents.append(document)
            case .invalid(let document):
                result.invalid.append(document)
                result.diagnostics += document.diagnostics
            }
        }
        return result
    }

    enum Outcome {
        case valid(SchemaDocument)
        case invalid(InvalidDocument)
    }

    func decodeDocument(_ chunk: DocumentChunk, file: String) -> Outcome {
        if let limit = InputLimits.checkEvents(chunk.text, file: file, lineOffset: chunk.startLine - 1, options: options) {
            return .invalid(InvalidDocument(file: file, diagnostics: [limit]))
        }
        let reader = DocumentReader(file: file, lineOffset: chunk.startLine - 1, options: options)
        let root: Node?
        do {
            let parser = try Parser(yaml: chunk.text, resolver: .default, constructor: .default, encoding: .utf8)
            root = try parser.singleRoot()
        } catch let error as YamlError {
            reader.report(error, text: chunk.text)
            return .invalid(InvalidDocument(file: file, diagnostics: reader.diagnostics))
        } catch {
            reader.error(at: DocumentReader.Position?.none, "invalid YAML: \(error)")
            return .invalid(InvalidDocument(file: file, diagnostics: reader.diagnostics))
        }
        let schema = reader.readSchema(root, documentLine: chunk.startLine)
        if let schema, reader.diagnostics.isEmpty {
            return .valid(
                SchemaDocument(
                    schema: schema, file: file, line: chunk.startLine, contentSHA256: schema.contentSHA256,
                    text: chunk.text, nameLine: reader.nameLine, nameColumn: reader.nameColumn
                )
            )
        }
        let ordered = reader.diagnostics.enumerated().sorted { lhs, rhs in
            (lhs.element.line, lhs.element.column, lhs.offset) < (rhs.element.line, rhs.element.column, rhs.offset)
        }.map(\.element)
        return .invalid(
            InvalidDocument(file: file, name: reader.validName, version: reader.validVersion?.description, diagnostics: ordered)
        )
    }

    /// Reads and composes without validating: the benchmark's baseline.
    package static func composeOnly(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        return (try? Parser(yaml: text, resolver: .default, constructor: .default, encoding: .utf8).singleRoot()) != nil
    }
}

/// One `---`-separated document of a file, with the line it starts on.
struct DocumentChunk {
    var text: String
    var startLine: Int

    /// Splits on `---` lines; chunks with nothing but blanks, comments and directives are dropped.
    static func split(_ text: String) -> [DocumentChunk] {
        if let single = singleDocumentFastPath(text) { return single }
        return splitLines(text)
    }

    /// Most files have no `---`, `...` or directive line: one chunk, the text as it is, without re-splitting.
    private static func singleDocumentFastPath(_ text: String) -> [DocumentChunk]? {
        var atLineStart = true
        var inIndent = false
        var hasContent = false
        for byte in text.utf8 {
            if atLineStart {
                if byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "%") { return nil }
                atLineStart = false
                inIndent = true
            }
            if byte == 0x0A {
                atLineStart = true
                continue
            }
            if inIndent {
                if byte == 0x20 || byte == 0x09 || byte == 0x0D { continue }
                inIndent = false
                if byte != UInt8(ascii: "#") { hasContent = true }
            }
        }
        return hasContent ? [DocumentChunk(text: text, startLine: 1)] : []
    }

    private static func splitLines(_ text: String) -> [DocumentChunk] {
        var chunks: [DocumentChunk] = []
        var current: [Substring] = []
        var currentStart = 1
        var hasContent = false
        var lineNumber = 0
        func flush() {
            if hasContent { chunks.append(DocumentChunk(text: current.joined(separator: "\n") + "\n", startLine: currentStart)) }
            current = []
            hasContent = false
        }
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        if lines.last?.isEmpty == true { lines.removeLast() }
        for line in lines {
            lineNumber += 1
            if line.hasPrefix("---"),
                line.count == 3 || line.dropFirst(3).first == " " || line.dropFirst(3).first == "\t" || line.dropFirst(3).first == "\r"
            {
                flush()
                currentStart = lineNumber
                current.append(line)
                let rest = line.dropFirst(3).drop { $0 == " " || $0 == "\t" || $0 == "\r" }
                if !rest.isEmpty && rest.first != "#" { hasContent = true }
                continue
            }
            current.append(line)
            let trimmed = line.drop { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\u{FEFF}" }
            let isMarker = line.hasPrefix("...") || (line.first == "%" && !hasContent)
            if !trimmed.isEmpty && trimmed.first != "#" && !isMarker { hasContent = true }
        }
        flush()
        return chunks
    }
}
