import CYaml

extension InputLimits {
    /// Checks what composing `text` would cost, on the same libyaml event stream the composer reads.
    ///
    /// A byte scan has to guess where quotes, comments and block scalars begin
    /// and end, and a wrong guess skips the rest of the file. Reading libyaml's
    /// own events instead means the count is of exactly what the parser sees:
    /// each scalar, sequence and mapping is one node, and each alias counts as
    /// the whole node it stands for (its expanded size and height), because
    /// everything downstream — Yams' duplicate-key hashing, the reader's walk —
    /// pays for the expansion, not for the `*name` text. Events are consumed
    /// one at a time without building anything, and the walk stops at the first
    /// event over a limit, so the check is linear in the input however it is
    /// shaped.
    ///
    /// The limits are per document, as anchors are. A syntax error ends the
    /// walk without a diagnostic: the composer meets the same error at the same
    /// event and reports it with its own wording, having composed nothing past
    /// the events checked here.
    ///
    /// - Parameters:
    ///   - text: The document text exactly as it will be given to Yams' `Parser`.
    ///   - lineOffset: Added to line numbers (the line the chunk starts on, minus one).
    /// - Returns: The first limit exceeded, at the event that exceeded it, or `nil`.
    static func checkEvents(_ text: String, file: String, lineOffset: Int, options: SchemaDecoder.Options) -> Diagnostic? {
        var text = text
        return text.withUTF8 { bytes in
            var walk = EventWalk(options: options)
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return nil }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    return nestingLimitReached(parser, file: file, lineOffset: lineOffset, options: options)
                }
                defer { yaml_event_delete(&event) }
                let step = walk.take(event)
                switch step {
                case .proceed: continue
                case .done: return nil
                case .exceeded(let message):
                    return Diagnostic(
                        file: file, line: Int(event.start_mark.line) + 1 + lineOffset, column: Int(event.start_mark.column) + 1,
                        message: message
                    )
                }
            }
        }
    }
}

extension InputLimits {
    /// libyaml's own nesting limit (1000 levels, counting the scanner's lookahead) can stop the
    /// parser before the first event that is over ours; that is the same refusal, so it reads the same.
    fileprivate static func nestingLimitReached(_ parser: yaml_parser_t, file: String, lineOffset: Int, options: SchemaDecoder.Options)
        -> Diagnostic?
    {
        guard parser.error == YAML_PARSER_ERROR, let problem = parser.problem, String(cString: problem).hasPrefix("Maximum nesting level")
        else {
            return nil
        }
        return Diagnostic(
            file: file, line: Int(parser.problem_mark.line) + 1 + lineOffset, column: Int(parser.problem_mark.column) + 1,
            message: "nesting deeper than \(options.maxDepth) levels"
        )
    }
}

/// The running cost of one event stream: open collections, anchors seen, nodes and aliases counted.
struct EventWalk {
    /// What an anchored node costs wherever an alias repeats it.
    struct Cost {
        var nodes: Int
        var height: Int
    }

    enum Step: Equatable {
        case proceed
        case done
        case exceeded(String)
    }

    private struct Frame {
        var anchor: String?
        var cost = Cost(nodes: 1, height: 1)
    }

    let options: SchemaDecoder.Options
    private var open: [Frame] = []
    private var anchors: [String: Cost] = [:]
    private var nodes = 0
    private var aliases = 0

    init(options: SchemaDecoder.Options) {
        self.options = options
    }

    mutating func take(_ event: yaml_event_t) -> Step {
        switch event.type {
        case YAML_STREAM_END_EVENT:
            return .done
        case YAML_DOCUMENT_START_EVENT:
            open = []
            anchors = [:]
            nodes = 0
            aliases = 0
            return .proceed
        case YAML_SCALAR_EVENT:
            return add(Cost(nodes: 1, height: 0), anchor: Self.string(event.data.scalar.anchor))
        case YAML_ALIAS_EVENT:
            aliases += 1
            if aliases > options.maxAliases {
                return .exceeded("more than \(options.maxAliases) aliases; aliases are limited to keep expansion bounded")
            }
            // An unknown name is the composer's error to report; it composes nothing past it.
            guard let name = Self.string(event.data.alias.anchor), let cost = anchors[name] else { return .done }
            return add(cost, anchor: nil)
        case YAML_SEQUENCE_START_EVENT:
            return start(anchor: Self.string(event.data.sequence_start.anchor))
        case YAML_MAPPING_START_EVENT:
            return start(anchor: Self.string(event.data.mapping_start.anchor))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = open.popLast() else { return .done }
            // The collection's own node was counted when it opened; only its parent learns its cost now.
            return add(frame.cost, anchor: frame.anchor, counted: true)
        default:
            return .proceed
        }
    }

    private mutating func start(anchor: String?) -> Step {
        if open.count + 1 > options.maxDepth { return .exceeded("nesting deeper than \(options.maxDepth) levels") }
        nodes += 1
        if nodes > options.maxNodes { return nodesExceeded() }
        open.append(Frame(anchor: anchor))
        return .proceed
    }

    /// Adds a finished node (a scalar, a closed collection, or an alias's target) to its parent.
    private mutating func add(_ cost: Cost, anchor: String?, counted: Bool = false) -> Step {
        if open.count + cost.height > options.maxDepth { return .exceeded("nesting deeper than \(options.maxDepth) levels") }
        if !counted {
            nodes += cost.nodes
            if nodes > options.maxNodes { return nodesExceeded() }
        }
        // Yams registers an anchor when its node is complete, so an alias inside the node cannot reach it.
        if let anchor { anchors[anchor] = cost }
        if !open.isEmpty {
            open[open.count - 1].cost.nodes += cost.nodes
            open[open.count - 1].cost.height = max(open[open.count - 1].cost.height, cost.height + 1)
        }
        return .proceed
    }

    private func nodesExceeded() -> Step {
        .exceeded("the document expands to more than \(options.maxNodes) nodes (each alias counts as the node it repeats)")
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }
}
