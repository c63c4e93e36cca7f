import Yams

/// Reads one composed YAML document into a ``MapSchema``, collecting every
/// problem with its position instead of stopping at the first.
final class DocumentReader {
    let file: String
    let lineOffset: Int
    let options: SchemaDecoder.Options
    private(set) var diagnostics: [Diagnostic] = []
    private(set) var validName: String?
    private(set) var validVersion: SemanticVersion?
    private(set) var nameLine = 0
    private(set) var nameColumn = 0

    static let topLevelFields = [
        "name", "version", "description", "key_type", "value_type", "fields", "concurrency_safe", "strategy", "shards",
        "capacity", "ttl", "batch", "rollback_window", "rollout", "circuit_breaker", "fault_injection",
    ]
    static let capacityFields = ["max_entries", "on_full", "max_key_bytes", "max_value_bytes"]
    static let batchFields = ["max_size", "max_delay"]
    static let rolloutFields = [
        "standby", "interval", "min_ops", "failure_limit", "max_error_rate", "max_faults", "max_p99_latency", "queries",
    ]
    static let breakerFields = ["open_after_faults", "window", "cooldown"]
    static let faultFields = ["error_rate", "fault_rate", "latency", "crash_after_ops"]
    static let scalarTypeNames = ScalarType.allCases.map(\.rawValue)

    init(file: String, lineOffset: Int, options: SchemaDecoder.Options) {
        self.file = file
        self.lineOffset = lineOffset
        self.options = options
    }

    // MARK: Diagnostics

    /// A 1-based position inside the parsed chunk (Yams' `Mark` cannot be made outside Yams).
    struct Position {
        var line: Int
        var column: Int
        init(line: Int, column: Int) {
            self.line = line
            self.column = column
        }
        init?(_ mark: Mark?) {
            guard let mark else { return nil }
            self.init(line: mark.line, column: mark.column)
        }
    }

    func error(at mark: Mark?, _ message: String) { error(at: Position(mark), message) }

    func error(at mark: Position?, _ message: String) {
        if let mark {
            diagnostics.append(Diagnostic(file: file, line: mark.line + lineOffset, column: mark.column, message: message))
        } else {
            diagnostics.append(Diagnostic(file: file, line: lineOffset + 1, column: 1, message: message))
        }
    }

    func error(at node: Node, _ message: String) { error(at: node.mark, message) }

    func report(_ yamlError: YamlError, text: String) {
        switch yamlError {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
            error(at: mark, "invalid YAML: \(problem)" + (context.map { " (\($0.text))" } ?? ""))
        case .composer(let context, let problem, let mark, _):
            error(at: mark, "invalid YAML: \(problem)" + (context.map { " (\($0.text))" } ?? ""))
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.first ?? "?"
            if let second = Self.secondOccurrence(of: key, after: context.mark, in: text) {
                error(at: second, "duplicate key '\(key)' (first at line \(context.mark.line + lineOffset))")
            } else {
                error(at: context.mark, "duplicate key '\(key)'")
            }
        case .reader(let problem, let offset, _, _):
            var mark: Position?
            if let offset {
                var line = 1
                var column = 1
                for character in text.prefix(offset) {
                    if character == "\n" || character == "\r\n" {
                        line += 1
                        column = 1
                    } else {
                        column += 1
                    }
                }
                mark = Position(line: line, column: column)
            }
            error(at: mark, "invalid input: \(problem)")
        default:
            error(at: Position?.none, "invalid YAML: \(yamlError)")
        }
    }

    /// Where a duplicated key appears again at the same column, so that the error points at the redefinition.
    static func secondOccurrence(of key: String, after first: Mark, in text: String) -> Position? {
        var line = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            line += 1
            guard line > first.line else { continue }
            let indent = rawLine.prefix { $0 == " " }.count
            guard indent + 1 == first.column else { continue }
            var rest = rawLine.dropFirst(indent)
            if rest.hasPrefix("- ") { continue }
            if let quote = rest.first, quote == "\"" || quote == "'" { rest = rest.dropFirst() }
            guard rest.hasPrefix(key) else { continue }
            let after = rest.dropFirst(key.count).drop { $0 == "\"" || $0 == "'" || $0 == " " }
            if after.first == ":" { return Position(line: line, column: first.column) }
        }
        return nil
    }

    // MARK: Node helpers

    static func isNull(_ scalar: Node.Scalar) -> Bool {
        scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a sequence"
        case .alias: return "an alias"
        case .scalar(let scalar):
            if isNull(scalar) { return "null" }
            if scalar.style != .plain { return "a string" }
            return "'\(scalar.string)'"
        }
    }

    struct Entry {
        var key: Node
        var name: String
        var value: Node
    }

    /// The entries of a mapping by name; unknown and non-string keys are reported.
    func entries(of mapping: Node.Mapping, known: [String], context: String?) -> [String: Entry] {
        var result: [String: Entry] = [:]
        for (key, value) in mapping {
            guard case .scalar(let keyScalar) = key, !Self.isNull(keyScalar) else {
                error(at: key, "field names must be strings, not \(Self.describe(key))")
                continue
            }
            let name = keyScalar.string
            guard known.contains(name) else {
                let place = context.map { " in \($0)" } ?? ""
                error(at: key, "unknown field '\(name)'\(place)" + Suggestion.hint(for: name, in: known))
                continue
            }
            result[name] = Entry(key: key, name: name, value: value)
        }
        return result
    }

    func mapping(_ entry: Entry, path: String) -> Node.Mapping? {
        if case .mapping(let mapping) = entry.value { return mapping }
        error(at: entry.value, "\(path) must be a mapping, not \(Self.describe(entry.value))")
        return nil
    }

    func string(_ entry: Entry, path: String) -> String? {
        if case .scalar(let scalar) = entry.value, !Self.isNull(scalar) { return scalar.string }
        error(at: entry.value, "\(path) must be a string, not \(Self.describe(entry.value))")
        return nil
    }

    func enumeration<E: RawRepresentable & CaseIterable>(_ entry: Entry, path: String, as type: E.Type) -> E? where E.RawValue == String {
        guard let text = string(entry, path: path) else { return nil }
        if let value = E(rawValue: text) { return value }
        let candidates = E.allCases.map(\.rawValue)
        error(at: entry.value, "unknown \(path) '\(text)'" + Suggestion.hint(for: text, in: candidates))
        return nil
    }

    func integer(_ entry: Entry, path: String, in range: ClosedRange<Int>) -> Int? {
        guard case .scalar(let scalar) = entry.value, scalar.style == .plain, !Self.isNull(scalar) else {
            error(at: entry.value, "\(path) must be an integer, not \(Self.describe(entry.value))")
            return nil
        }
        var text = Substring(scalar.string)
        if text.first == "+" { text = text.dropFirst() }
        let isWellFormed =
            !text.isEmpty && text.first != "_" && text.last != "_" && text.allSatisfy { $0 == "_" || ("0"..."9").contains($0) }
        guard isWellFormed else {
            if text.first == "-", text.dropFirst().allSatisfy({ ("0"..."9").contains($0) }), text.count > 1 {
                error(at: entry.value, "\(path) must be between \(range.lowerBound) and \(range.upperBound), not \(scalar.string)")
            } else {
                error(at: entry.value, "\(path) must be an integer, not '\(scalar.string)'")
            }
            return nil
        }
        guard let value = Int(text.filter { $0 != "_" }), range.contains(value) else {
            error(at: entry.value, "\(path) must be between \(range.lowerBound) and \(range.upperBound), not \(scalar.string)")
            return nil
        }
        return value
    }

    func fraction(_ entry: Entry, path: String) -> Double? {
        guard case .scalar(let scalar) = entry.value, scalar.style == .plain, !Self.isNull(scalar),
            let value = Double(scalar.string), value.isFinite, scalar.string.allSatisfy({ "0123456789.eE+-_".contains($0) })
        else {
            error(at: entry.value, "\(path) must be a number between 0 and 1, not \(Self.describe(entry.value))")
            return nil
        }
        guard (0...1).contains(value) else {
            error(at: entry.value, "\(path) must be a number between 0 and 1, not \(scalar.string)")
            return nil
        }
        return value
    }

    func boolean(_ entry: Entry, path: String) -> Bool? {
        if case .scalar(let scalar) = entry.value, scalar.style == .plain {
            switch scalar.string {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
        }
        error(at: entry.value, "\(path) must be true or false, not \(Self.describe(entry.value))")
        return nil
    }

    func duration(_ entry: Entry, path: String, in range: ClosedRange<Duration>) -> Duration? {
        guard case .scalar(let scalar) = entry.value, !Self.isNull(scalar) else {
            error(at: entry.value, "\(path) must be a duration such as 500ms or 15m, not \(Self.describe(entry.value))")
            return nil
        }
        let value: Duration
        do {
            value = try GoDuration.parse(scalar.string)
        } catch let parseError as GoDuration.ParseError {
            error(at: entry.value, "invalid \(path): \(parseError.message)")
            return nil
        } catch {
            return nil
        }
        guard range.contains(value) else {
            error(
                at: entry.value,
                "\(path) must be between \(GoDuration.format(range.lowerBound)) and \(GoDuration.format(range.upperBound)), not \(GoDuration.format(value))"
            )
            return nil
        }
        return value
    }

    // MARK: The schema

    func readSchema(_ root: Node?, documentLine: Int) -> MapSchema? {
        guard let root, !(root.scalar.map(Self.isNull) ?? false) else {
            error(at: Position(line: 1, column: 1), "empty document: a schema needs name, version, key_type and value_type")
            return nil
        }
        guard case .mapping(let top) = root else {
            error(at: root, "a schema must be a mapping of fields, not \(Self.describe(root))")
            return nil
        }
        let fields = entries(of: top, known: Self.topLevelFields, context: nil)
        for required in ["name", "version", "key_type", "value_type"] where fields[required] == nil {
            error(at: root, "missing required field '\(required)'")
        }

        var name: String?
        if let entry = fields["name"], let text = string(entry, path: "name") {
            if Self.isValidMapName(text) {
                name = text
                validName = text
                nameLine = (entry.value.mark?.line ?? 0) + lineOffset
                nameColumn = entry.value.mark?.column ?? 0
            } else {
                error(
                    at: entry.value,
                    "invalid name '\(text)': use lowercase letters, digits and '_', starting with a letter (at most 63 characters)")
            }
        }
        var version: SemanticVersion?
        if let entry = fields["version"], let text = string(entry, path: "version") {
            do {
                version = try SemanticVersion(parsing: text)
                validVersion = version
            } catch {
                self.error(at: entry.value, "invalid version: \(error.message)")
            }
        }
        var description: String?
        if let entry = fields["description"] { description = string(entry, path: "description") }
        let keyType = fields["key_type"].flatMap { enumeration($0, path: "key_type", as: KeyType.self) }
        let (valueType, recordFields) = readValueType(fields)

        if let entry = fields["concurrency_safe"], let safe = boolean(entry, path: "concurrency_safe"), !safe {
            error(
                at: entry.value,
                "concurrency_safe: false is not supported: every live map is safe for concurrent use (remove the field or set it to true)")
        }

        let strategy = fields["strategy"].map { enumeration($0, path: "strategy", as: Strategy.self) } ?? .sharded
        var shards = 64
        if let entry = fields["shards"] {
            if let strategy, strategy != .sharded {
                error(at: entry.key, "shards applies only to strategy sharded (strategy is \(strategy.rawValue))")
            } else if let value = integer(entry, path: "shards", in: 1...4096) {
                if value & (value - 1) == 0 {
                    shards = value
                } else {
                    error(at: entry.value, "shards must be a power of two between 1 and 4096, not \(value)")
                }
            }
        }

        let capacity = fields["capacity"].flatMap(readCapacity)
        let ttl = fields["ttl"].flatMap { duration($0, path: "ttl", in: .milliseconds(1)...Duration.seconds(8760 * 3600)) }

        var batch = BatchPolicy()
        if let entry = fields["batch"] {
            if let strategy, strategy != .serialized {
                error(at: entry.key, "batch applies only to strategy serialized (strategy is \(strategy.rawValue))")
            } else if let mapping = mapping(entry, path: "batch") {
                let items = entries(of: mapping, known: Self.batchFields, context: "batch")
                if let item = items["max_size"], let value = integer(item, path: "batch.max_size", in: 1...65536) { batch.maxSize = value }
                if let item = items["max_delay"],
                    let value = duration(item, path: "batch.max_delay", in: .microseconds(1)...Duration.seconds(1))
                {
                    batch.maxDelay = value
                }
            }
        }

        var rollbackWindow = Duration.seconds(300)
        if let entry = fields["rollback_window"],
            let value = duration(entry, path: "rollback_window", in: .seconds(1)...Duration.seconds(168 * 3600))
        {
            rollbackWindow = value
        }
        let rollout = readRollout(fields["rollout"], rollbackWindow: rollbackWindow, windowEntry: fields["rollback_window"])
        let breaker = fields["circuit_breaker"].flatMap(readBreaker)

        var faultInjection: FaultInjection?
        if let entry = fields["fault_injection"] {
            if options.allowFaultInjection {
                faultInjection = readFaults(entry)
            } else {
                error(at: entry.key, "fault injection is disabled; start the daemon with --enable-fault-injection")
            }
        }

        guard diagnostics.isEmpty, let name, let version, let keyType, let valueType, let strategy else { return nil }
        return MapSchema(
            name: name, version: version, keyType: keyType, valueType: valueType, fields: recordFields, strategy: strategy,
            shards: shards, capacity: capacity, ttl: ttl, batch: batch, rollbackWindow: rollbackWindow, rollout: rollout ?? RolloutPolicy(),
            circuitBreaker: breaker, faultInjection: faultInjection, description: description
        )
    }

    static func isValidMapName(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...63).contains(bytes.count), (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(bytes[0]) else { return false }
        return bytes.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "_")
        }
    }

    static func isIdentifier(_ text: String, allowLeadingUnderscore: Bool) -> Bool {
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.first, first.isASCII, first.properties.isAlphabetic || (allowLeadingUnderscore && first == "_") else {
            return false
        }
        return scalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || $0.asciiDigit != nil || $0 == "_") }
    }

    static func isQualifiedTypeName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last,
            first != "." && first != "/" && last != "." && last != "/"
        else { return false }
        return text.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || $0.asciiDigit != nil || "_-./".unicodeScalars.contains($0))
        }
    }

    private func readValueType(_ fields: [String: Entry]) -> (ValueType?, [RecordField]) {
        guard let entry = fields["value_type"], let text = string(entry, path: "value_type") else {
            if let fieldsEntry = fields["fields"] { _ = readRecordFields(fieldsEntry) }
            return (nil, [])
        }
        if let scalar = ScalarType(rawValue: text) {
            if let fieldsEntry = fields["fields"] {
                error(at: fieldsEntry.key, "fields applies only when value_type is a record name (value_type is '\(text)')")
            }
            return (.scalar(scalar), [])
        }
        if text.contains(".") || text.contains("/") {
            guard Self.isQualifiedTypeName(text) else {
                error(at: entry.value, "invalid value_type '\(text)': a qualified type name uses letters, digits, '_', '-', '.' and '/'")
                return (nil, [])
            }
            if let fieldsEntry = fields["fields"] {
                error(at: fieldsEntry.key, "fields applies only when value_type is a record name ('\(text)' is an external type)")
            }
            return (.external(text), [])
        }
        guard Self.isIdentifier(text, allowLeadingUnderscore: false) else {
            error(
                at: entry.value,
                "invalid value_type '\(text)': expected \(Self.scalarTypeNames.joined(separator: ", ")), a record name, or a qualified type name"
            )
            return (nil, [])
        }
        guard let fieldsEntry = fields["fields"] else {
            if let suggestion = Suggestion.closest(to: text, in: Self.scalarTypeNames) {
                error(at: entry.value, "unknown value_type '\(text)' (did you mean '\(suggestion)'?)")
            } else {
                error(
                    at: entry.value,
                    "value_type '\(text)' is a record name but no fields are declared (add 'fields', or use a qualified type name such as example.com/model.\(text))"
                )
            }
            return (nil, [])
        }
        guard let recordFields = readRecordFields(fieldsEntry) else { return (nil, []) }
        return (.record(text), recordFields)
    }

    private func readRecordFields(_ entry: Entry) -> [RecordField]? {
        guard case .mapping(let mapping) = entry.value else {
            error(at: entry.value, "fields must be a mapping of field name to type, not \(Self.describe(entry.value))")
            return nil
        }
        guard !mapping.isEmpty else {
            error(at: entry.value, "fields must declare at least one field")
            return nil
        }
        guard mapping.count <= options.maxRecordFields else {
            error(at: entry.value, "a record may have at most \(options.maxRecordFields) fields, not \(mapping.count)")
            return nil
        }
        var result: [RecordField] = []
        var isValid = true
        for (key, value) in mapping {
            guard case .scalar(let keyScalar) = key, !Self.isNull(keyScalar) else {
                error(at: key, "field names must be strings, not \(Self.describe(key))")
                isValid = false
                continue
            }
            let fieldName = keyScalar.string
            guard Self.isIdentifier(fieldName, allowLeadingUnderscore: true), fieldName.utf8.count <= 128 else {
                error(at: key, "invalid field name '\(fieldName)': use letters, digits and '_', starting with a letter or '_'")
                isValid = false
                continue
            }
            guard case .scalar(let typeScalar) = value, !Self.isNull(typeScalar) else {
                error(at: value, "type of field '\(fieldName)' must be a string such as int64 or string?, not \(Self.describe(value))")
                isValid = false
                continue
            }
            var typeName = typeScalar.string
            let isOptional = typeName.hasSuffix("?")
            if isOptional { typeName.removeLast() }
            guard let type = ScalarType(rawValue: typeName) else {
                error(
                    at: value,
                    "unknown type '\(typeScalar.string)' for field '\(fieldName)'"
                        + (Suggestion.closest(to: typeName, in: Self.scalarTypeNames).map { " (did you mean '\($0)'?)" }
                            ?? " (expected string, int64, uint64, double, bool, bytes or json, with an optional trailing ?)")
                )
                isValid = false
                continue
            }
            result.append(RecordField(name: fieldName, type: type, isOptional: isOptional))
        }
        return isValid ? result : nil
    }

    private func readCapacity(_ entry: Entry) -> Capacity? {
        guard let mapping = mapping(entry, path: "capacity") else { return nil }
        let items = entries(of: mapping, known: Self.capacityFields, context: "capacity")
        var capacity = Capacity()
        if let item = items["max_entries"] { capacity.maxEntries = integer(item, path: "capacity.max_entries", in: 1...1_000_000_000) }
        if let item = items["on_full"], let value = enumeration(item, path: "capacity.on_full", as: Capacity.OnFull.self) {
            capacity.onFull = value
            if value == .evictLRU && items["max_entries"] == nil {
                error(at: item.value, "capacity.on_full: evict_lru needs capacity.max_entries")
            }
        }
        if let item = items["max_key_bytes"] { capacity.maxKeyBytes = integer(item, path: "capacity.max_key_bytes", in: 1...65_536) }
        if let item = items["max_value_bytes"] {
            capacity.maxValueBytes = integer(item, path: "capacity.max_value_bytes", in: 1...16_777_216)
        }
        return capacity
    }

    private func readRollout(_ entry: Entry?, rollbackWindow: Duration, windowEntry: Entry?) -> RolloutPolicy? {
        guard let entry else {
            if rollbackWindow <= RolloutPolicy().interval, let windowEntry {
                error(
                    at: windowEntry.value,
                    "rollback_window (\(GoDuration.format(rollbackWindow))) must be longer than rollout.interval (1s)")
            }
            return nil
        }
        guard let mapping = mapping(entry, path: "rollout") else { return nil }
        let items = entries(of: mapping, known: Self.rolloutFields, context: "rollout")
        var policy = RolloutPolicy()
        if let item = items["standby"], let value = enumeration(item, path: "rollout.standby", as: RolloutPolicy.Standby.self) {
            policy.standby = value
        }
        if let item = items["interval"],
            let value = duration(item, path: "rollout.interval", in: .milliseconds(10)...Duration.seconds(3600))
        {
            policy.interval = value
            if value >= rollbackWindow {
                error(
                    at: item.value,
                    "rollout.interval (\(GoDuration.format(value))) must be shorter than rollback_window (\(GoDuration.format(rollbackWindow)))"
                )
            }
        } else if items["interval"] == nil, rollbackWindow <= policy.interval, let windowEntry {
            error(at: windowEntry.value, "rollback_window (\(GoDuration.format(rollbackWindow))) must be longer than rollout.interval (1s)")
        }
        if let item = items["min_ops"], let value = integer(item, path: "rollout.min_ops", in: 0...1_000_000_000) { policy.minOps = value }
        if let item = items["failure_limit"], let value = integer(item, path: "rollout.failure_limit", in: 1...1000) {
            policy.failureLimit = value
        }
        if let item = items["max_error_rate"] { policy.maxErrorRate = fraction(item, path: "rollout.max_error_rate") }
        if let item = items["max_faults"], let value = integer(item, path: "rollout.max_faults", in: 0...1_000_000_000) {
            policy.maxFaults = value
        }
        if let item = items["max_p99_latency"] {
            policy.maxP99Latency = duration(item, path: "rollout.max_p99_latency", in: .microseconds(1)...Duration.seconds(3600))
        }
        if let item = items["queries"], let queries = readQueries(item) { policy.queries = queries }
        return policy
    }

    private func readBreaker(_ entry: Entry) -> CircuitBreakerPolicy? {
        guard let mapping = mapping(entry, path: "circuit_breaker") else { return nil }
        let items = entries(of: mapping, known: Self.breakerFields, context: "circuit_breaker")
        var policy = CircuitBreakerPolicy()
        if let item = items["open_after_faults"], let value = integer(item, path: "circuit_breaker.open_after_faults", in: 1...1_000_000) {
            policy.openAfterFaults = value
        }
        if let item = items["window"],
            let value = duration(item, path: "circuit_breaker.window", in: .milliseconds(1)...Duration.seconds(86400))
        {
            policy.window = value
        }
        if let item = items["cooldown"],
            let value = duration(item, path: "circuit_breaker.cooldown", in: .milliseconds(1)...Duration.seconds(86400))
        {
            policy.cooldown = value
        }
        return policy
    }

    private func readFaults(_ entry: Entry) -> FaultInjection? {
        guard let mapping = mapping(entry, path: "fault_injection") else { return nil }
        let items = entries(of: mapping, known: Self.faultFields, context: "fault_injection")
        var faults = FaultInjection()
        if let item = items["error_rate"], let value = fraction(item, path: "fault_injection.error_rate") { faults.errorRate = value }
        if let item = items["fault_rate"], let value = fraction(item, path: "fault_injection.fault_rate") { faults.faultRate = value }
        if let item = items["latency"] {
            faults.latency = duration(item, path: "fault_injection.latency", in: .zero...Duration.seconds(10))
        }
        if let item = items["crash_after_ops"] {
            faults.crashAfterOps = integer(item, path: "fault_injection.crash_after_ops", in: 1...Int.max)
        }
        return faults
    }
}
