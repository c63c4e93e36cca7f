import Yams

/// `rollout.queries` (SPEC §8.1): a list of `{name, prometheus, max | min}`, read with positions like every other field.
extension DocumentReader {
    static let queryFields = ["name", "prometheus", "max", "min"]
    /// More would make every interval wait on that many HTTP round trips.
    static let maxQueries = 32
    /// A PromQL expression longer than this is surely a mistake (and must fit in a URL).
    static let maxQueryBytes = 4096
    static let queryPlaceholders = ["{{map}}", "{{version}}"]

    /// The queries of `rollout.queries`, or nil when any of them is invalid (each problem reported).
    ///
    /// Without ``SchemaDecoder/Options/allowPrometheusQueries`` a non-empty list is an error at the `queries`
    /// key, naming `--prometheus`; its items are still checked, so that every problem shows in one run.
    func readQueries(_ entry: Entry) -> [RolloutQuery]? {
        guard case .sequence(let sequence) = entry.value else {
            if case .scalar(let scalar) = entry.value, Self.isNull(scalar) { return [] }
            error(at: entry.value, "rollout.queries must be a list of {name, prometheus, max or min}, not \(Self.describe(entry.value))")
            return nil
        }
        guard !sequence.isEmpty else { return [] }
        var isValid = true
        if !options.allowPrometheusQueries {
            error(
                at: entry.key,
                "rollout.queries needs a Prometheus server to run them: start the daemon with --prometheus URL (or remove the queries)")
            isValid = false
        }
        if sequence.count > Self.maxQueries {
            error(at: entry.value, "rollout.queries may hold at most \(Self.maxQueries) queries, not \(sequence.count)")
            return nil
        }
        var queries: [RolloutQuery] = []
        var firstLine: [String: Int] = [:]
        for (index, item) in sequence.enumerated() {
            let path = "rollout.queries[\(index)]"
            guard let query = readQuery(item, path: path) else {
                isValid = false
                continue
            }
            if let line = firstLine[query.name.value] {
                error(at: query.name.node, "duplicate query name '\(query.name.value)' (first at line \(line))")
                isValid = false
                continue
            }
            firstLine[query.name.value] = (query.name.node.mark?.line ?? 0) + lineOffset
            queries.append(query.query)
        }
        return isValid ? queries : nil
    }

    private func readQuery(_ item: Node, path: String) -> (query: RolloutQuery, name: (value: String, node: Node))? {
        guard case .mapping(let mapping) = item else {
            error(at: item, "\(path) must be a mapping with name, prometheus and max or min, not \(Self.describe(item))")
            return nil
        }
        let fields = entries(of: mapping, known: Self.queryFields, context: path)
        var isValid = true
        for required in ["name", "prometheus"] where fields[required] == nil {
            error(at: item, "missing required field '\(required)' in \(path)")
            isValid = false
        }
        var name: (value: String, node: Node)?
        if let entry = fields["name"], let text = string(entry, path: "\(path).name") {
            if Self.isQueryName(text) {
                name = (text, entry.value)
            } else {
                error(
                    at: entry.value,
                    "invalid query name '\(text)': use letters, digits, '_' and '-', starting with a letter (at most 63 characters)")
            }
        }
        var expression: String?
        if let entry = fields["prometheus"], let text = string(entry, path: "\(path).prometheus") {
            expression = checkExpression(text, entry: entry, path: path)
        }
        let max = fields["max"].flatMap { number($0, path: "\(path).max") }
        let min = fields["min"].flatMap { number($0, path: "\(path).min") }
        if fields["max"] == nil && fields["min"] == nil {
            error(at: item, "\(path) needs max or min: the bound its value is judged against")
            isValid = false
        }
        if let max, let min, min > max {
            error(
                at: fields["min"]?.value ?? item,
                "\(path).min (\(Self.numberText(min))) is greater than max (\(Self.numberText(max))): every value would fail")
            isValid = false
        }
        guard isValid, let name, let expression, fields["max"] == nil || max != nil, fields["min"] == nil || min != nil else {
            return nil
        }
        return (RolloutQuery(name: name.value, prometheus: expression, max: max, min: min), name)
    }

    /// The expression when it is non-empty, not too long, and uses no placeholder but `{{map}}` and `{{version}}`.
    private func checkExpression(_ text: String, entry: Entry, path: String) -> String? {
        guard text.contains(where: { !$0.isWhitespace }) else {
            error(at: entry.value, "\(path).prometheus must be a PromQL expression, not an empty string")
            return nil
        }
        guard text.utf8.count <= Self.maxQueryBytes else {
            error(at: entry.value, "\(path).prometheus must be at most \(Self.maxQueryBytes) bytes, not \(text.utf8.count)")
            return nil
        }
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            let tail = rest[open.lowerBound...]
            guard let close = tail.range(of: "}}") else {
                error(at: entry.value, "\(path).prometheus has '{{' with no closing '}}' (placeholders are {{map}} and {{version}})")
                return nil
            }
            let placeholder = String(tail[..<close.upperBound])
            guard Self.queryPlaceholders.contains(placeholder) else {
                error(
                    at: entry.value,
                    "unknown placeholder '\(placeholder)' in \(path).prometheus"
                        + (Suggestion.closest(to: placeholder, in: Self.queryPlaceholders).map { " (did you mean '\($0)'?)" }
                            ?? " (use {{map}} or {{version}})"))
                return nil
            }
            rest = tail[close.upperBound...]
        }
        return text
    }

    /// A finite number written as a plain scalar: `0.01`, `5`, `-1`, `1e-3`.
    func number(_ entry: Entry, path: String) -> Double? {
        guard case .scalar(let scalar) = entry.value, scalar.style == .plain, !Self.isNull(scalar),
            scalar.string.allSatisfy({ "0123456789.eE+-".contains($0) }), let value = Double(scalar.string), value.isFinite
        else {
            error(at: entry.value, "\(path) must be a number, not \(Self.describe(entry.value))")
            return nil
        }
        return value
    }

    /// `2` rather than `2.0`; other values as Swift writes them.
    static func numberText(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    static func isQueryName(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...63).contains(bytes.count), let first = bytes.first, isASCIILetter(first) else { return false }
        return bytes.allSatisfy {
            isASCIILetter($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_")
                || $0 == UInt8(ascii: "-")
        }
    }

    private static func isASCIILetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
