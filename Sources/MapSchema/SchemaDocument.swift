/// A valid schema document, with where it came from and its content hash.
public struct SchemaDocument: Sendable, Hashable {
    public var schema: MapSchema
    /// The path as the user gave it (or `<stdin>`, or the apply client's name).
    public var file: String
    /// The line where the document starts (1 for the first document of a file).
    public var line: Int
    /// Hex SHA-256 of the normalized content: comments, key order, quoting
    /// style and a leading `v` on the version do not count; defaults written
    /// out or left implicit hash the same.
    public var contentSHA256: String
    /// This document's source text.
    public var text: String
    /// Position of the `name` value, for diagnostics that concern the whole map (duplicate names).
    public var nameLine: Int
    public var nameColumn: Int

    public init(schema: MapSchema, file: String, line: Int, contentSHA256: String, text: String, nameLine: Int = 0, nameColumn: Int = 0) {
        self.schema = schema
        self.file = file
        self.line = line
        self.contentSHA256 = contentSHA256
        self.text = text
        self.nameLine = nameLine
        self.nameColumn = nameColumn
    }
}

/// A document that did not validate, with what could be read of its identity.
public struct InvalidDocument: Sendable, Hashable {
    public var file: String
    /// The map name, when the `name` field itself was readable and valid.
    public var name: String?
    /// The normalized version, when the `version` field was readable and valid.
    public var version: String?
    public var diagnostics: [Diagnostic]

    public init(file: String, name: String? = nil, version: String? = nil, diagnostics: [Diagnostic]) {
        self.file = file
        self.name = name
        self.version = version
        self.diagnostics = diagnostics
    }
}

/// What one file (or one apply body) decoded to.
public struct SchemaFileResult: Sendable {
    public var documents: [SchemaDocument]
    public var invalid: [InvalidDocument]
    /// Every diagnostic of the file, in order.
    public var diagnostics: [Diagnostic]

    public init(documents: [SchemaDocument] = [], invalid: [InvalidDocument] = [], diagnostics: [Diagnostic] = []) {
        self.documents = documents
        self.invalid = invalid
        self.diagnostics = diagnostics
    }

    /// True when nothing was wrong.
    public var isValid: Bool { invalid.isEmpty && diagnostics.allSatisfy { $0.severity != .error } }
}

/// What a set of files and directories decoded to.
public struct SchemaSet: Sendable {
    public var documents: [SchemaDocument]
    public var invalid: [InvalidDocument]
    /// Every diagnostic, files in the order loaded.
    public var diagnostics: [Diagnostic]
    public var filesScanned: Int

    public init(documents: [SchemaDocument] = [], invalid: [InvalidDocument] = [], diagnostics: [Diagnostic] = [], filesScanned: Int = 0) {
        self.documents = documents
        self.invalid = invalid
        self.diagnostics = diagnostics
        self.filesScanned = filesScanned
    }

    /// The number of diagnostics with severity error.
    public var errorCount: Int { diagnostics.count { $0.severity == .error } }
}
