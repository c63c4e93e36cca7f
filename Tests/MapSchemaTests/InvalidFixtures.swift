/// One invalid schema and the one diagnostic it must produce, as `LINE:COLUMN: MESSAGE`.
struct InvalidFixture: Sendable, CustomStringConvertible {
    var label: String
    var yaml: String
    var expected: String

    var description: String { label }
}

/// The first four lines of every fixture that only adds lines: a valid minimal schema.
let baseSchema = """
    name: orders
    version: 1.0.0
    key_type: string
    value_type: string

    """

private func adding(_ label: String, _ lines: String, _ expected: String) -> InvalidFixture {
    InvalidFixture(label: label, yaml: baseSchema + lines + "\n", expected: expected)
}

private func whole(_ label: String, _ yaml: String, _ expected: String) -> InvalidFixture {
    InvalidFixture(label: label, yaml: yaml + "\n", expected: expected)
}

let invalidFixtures: [InvalidFixture] = [
    // Document shape and YAML syntax.
    whole("no document at all", "# nothing here\n---", "0:0: the file holds no schema document"),
    whole("a null document", "# nothing here\n---\n~", "2:1: empty document: a schema needs name, version, key_type and value_type"),
    whole("a sequence at the top", "- name: orders", "1:1: a schema must be a mapping of fields, not a sequence"),
    whole("a scalar at the top", "orders", "1:1: a schema must be a mapping of fields, not 'orders'"),
    whole(
        "a tab in indentation", "name: orders\n\tversion: 1.0.0",
        "2:1: invalid YAML: found a tab character that violates indentation (while scanning a plain scalar)"),
    whole(
        "unclosed flow mapping", "name: orders\nvalue_type: {json",
        "3:1: invalid YAML: did not find expected ',' or '}' (while parsing a flow mapping)"),
    whole("mapping value in a plain scalar", "name: orders: x", "1:13: invalid YAML: mapping values are not allowed in this context"),
    whole("duplicate key", baseSchema + "name: again", "5:1: duplicate key 'name' (first at line 1)"),
    whole("undefined alias", baseSchema + "description: *nothing", "5:14: invalid YAML: found undefined alias"),
    whole(
        "two documents", baseSchema + "---\n" + baseSchema,
        "5:1: a schema file holds one document; found another here (put each map in its own file)"),

    // Required fields.
    whole("missing name", "version: 1.0.0\nkey_type: string\nvalue_type: string", "1:1: missing required field 'name'"),
    whole("missing version", "name: orders\nkey_type: string\nvalue_type: string", "1:1: missing required field 'version'"),
    whole("missing key_type", "name: orders\nversion: 1.0.0\nvalue_type: string", "1:1: missing required field 'key_type'"),
    whole("missing value_type", "name: orders\nversion: 1.0.0\nkey_type: string", "1:1: missing required field 'value_type'"),

    // Unknown fields.
    adding("misspelt top-level field", "stratgy: mutex", "5:1: unknown field 'stratgy' (did you mean 'strategy'?)"),
    adding("unrelated top-level field", "owner: team-a", "5:1: unknown field 'owner'"),
    adding(
        "misspelt capacity field", "capacity:\n  max_entrie: 10",
        "6:3: unknown field 'max_entrie' in capacity (did you mean 'max_entries'?)"),
    adding("misspelt rollout field", "rollout:\n  min_op: 10", "6:3: unknown field 'min_op' in rollout (did you mean 'min_ops'?)"),
    adding(
        "misspelt breaker field", "circuit_breaker:\n  cooldwn: 1s",
        "6:3: unknown field 'cooldwn' in circuit_breaker (did you mean 'cooldown'?)"),
    adding("a non-string key", "[a, b]: 1", "5:1: field names must be strings, not a sequence"),

    // Names and versions.
    whole(
        "upper-case name", "name: Orders\nversion: 1.0.0\nkey_type: string\nvalue_type: string",
        "1:7: invalid name 'Orders': use lowercase letters, digits and '_', starting with a letter (at most 63 characters)"),
    whole(
        "name with a dash", "name: user-cache\nversion: 1.0.0\nkey_type: string\nvalue_type: string",
        "1:7: invalid name 'user-cache': use lowercase letters, digits and '_', starting with a letter (at most 63 characters)"),
    whole(
        "name starting with a digit", "name: 1orders\nversion: 1.0.0\nkey_type: string\nvalue_type: string",
        "1:7: invalid name '1orders': use lowercase letters, digits and '_', starting with a letter (at most 63 characters)"),
    whole(
        "name too long", "name: " + String(repeating: "a", count: 64) + "\nversion: 1.0.0\nkey_type: string\nvalue_type: string",
        "1:7: invalid name '" + String(repeating: "a", count: 64)
            + "': use lowercase letters, digits and '_', starting with a letter (at most 63 characters)"),
    whole(
        "name is a mapping", "name: {a: 1}\nversion: 1.0.0\nkey_type: string\nvalue_type: string",
        "1:7: name must be a string, not a mapping"),
    whole("name is null", "name:\nversion: 1.0.0\nkey_type: string\nvalue_type: string", "1:6: name must be a string, not null"),
    whole(
        "two-part version", "name: orders\nversion: 1.2\nkey_type: string\nvalue_type: string",
        "2:10: invalid version: '1.2' is not a semantic version (expected MAJOR.MINOR.PATCH)"),
    whole(
        "version with a leading zero", "name: orders\nversion: 01.2.3\nkey_type: string\nvalue_type: string",
        "2:10: invalid version: '01.2.3' has a leading zero in a version number"),
    whole(
        "version with an empty pre-release", "name: orders\nversion: 1.2.3-\nkey_type: string\nvalue_type: string",
        "2:10: invalid version: '1.2.3-' has an invalid pre-release identifier"),

    // Types.
    whole(
        "misspelt key_type", "name: orders\nversion: 1.0.0\nkey_type: strng\nvalue_type: string",
        "3:11: unknown key_type 'strng' (did you mean 'string'?)"),
    whole("unknown key_type", "name: orders\nversion: 1.0.0\nkey_type: date\nvalue_type: string", "3:11: unknown key_type 'date'"),
    whole(
        "misspelt value_type", "name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: int46",
        "4:13: unknown value_type 'int46' (did you mean 'int64'?)"),
    whole(
        "record without fields", "name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: Order",
        "4:13: value_type 'Order' is a record name but no fields are declared (add 'fields', or use a qualified type name such as example.com/model.Order)"
    ),
    whole(
        "value_type with spaces", "name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: an order",
        "4:13: invalid value_type 'an order': expected string, int64, uint64, double, bool, bytes, json, a record name, or a qualified type name"
    ),
    whole(
        "qualified name ending in a dot", "name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: example.com/model.",
        "4:13: invalid value_type 'example.com/model.': a qualified type name uses letters, digits, '_', '-', '.' and '/'"),
    adding(
        "fields with a scalar value_type", "fields:\n  id: string",
        "5:1: fields applies only when value_type is a record name (value_type is 'string')"),
    whole(
        "fields with an external value_type",
        "name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: example.com/model.Order\nfields:\n  id: string",
        "5:1: fields applies only when value_type is a record name ('example.com/model.Order' is an external type)"),
    whole(
        "empty fields", "name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: Order\nfields: {}",
        "5:9: fields must declare at least one field"),
    whole(
        "fields as a list", "name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: Order\nfields: [id, name]",
        "5:9: fields must be a mapping of field name to type, not a sequence"),
    whole(
        "misspelt field type", "name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: Order\nfields:\n  id: strin",
        "6:7: unknown type 'strin' for field 'id' (did you mean 'string'?)"),
    whole(
        "unknown field type", "name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: Order\nfields:\n  total: decimal",
        "6:10: unknown type 'decimal' for field 'total' (expected string, int64, uint64, double, bool, bytes or json, with an optional trailing ?)"
    ),
    whole(
        "field name with a dash", "name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: Order\nfields:\n  order-id: string",
        "6:3: invalid field name 'order-id': use letters, digits and '_', starting with a letter or '_'"),
    whole(
        "field type is a list", "name: orders\nversion: 1.0.0\nkey_type: string\nvalue_type: Order\nfields:\n  tags: [string]",
        "6:9: type of field 'tags' must be a string such as int64 or string?, not a sequence"),
    adding(
        "concurrency_safe false", "concurrency_safe: false",
        "5:19: concurrency_safe: false is not supported: every live map is safe for concurrent use (remove the field or set it to true)"),
    adding("concurrency_safe not a boolean", "concurrency_safe: maybe", "5:19: concurrency_safe must be true or false, not 'maybe'"),

    // Strategy and its options.
    adding("misspelt strategy", "strategy: shardd", "5:11: unknown strategy 'shardd' (did you mean 'sharded'?)"),
    adding("unknown strategy", "strategy: actor", "5:11: unknown strategy 'actor'"),
    adding("shards not a power of two", "shards: 48", "5:9: shards must be a power of two between 1 and 4096, not 48"),
    adding("shards too many", "shards: 8192", "5:9: shards must be between 1 and 4096, not 8192"),
    adding("shards zero", "shards: 0", "5:9: shards must be between 1 and 4096, not 0"),
    adding("shards negative", "shards: -4", "5:9: shards must be between 1 and 4096, not -4"),
    adding("shards quoted", "shards: \"64\"", "5:9: shards must be an integer, not a string"),
    adding("shards fractional", "shards: 6.5", "5:9: shards must be an integer, not '6.5'"),
    adding("shards with mutex", "strategy: mutex\nshards: 16", "6:1: shards applies only to strategy sharded (strategy is mutex)"),
    adding("batch with sharded", "batch:\n  max_size: 10", "5:1: batch applies only to strategy serialized (strategy is sharded)"),
    adding("batch size zero", "strategy: serialized\nbatch:\n  max_size: 0", "7:13: batch.max_size must be between 1 and 65536, not 0"),
    adding(
        "batch delay too long", "strategy: serialized\nbatch:\n  max_delay: 5s", "7:14: batch.max_delay must be between 1us and 1s, not 5s"),
    adding("batch is a list", "strategy: serialized\nbatch: [1]", "6:8: batch must be a mapping, not a sequence"),

    // Capacity.
    adding("max_entries zero", "capacity:\n  max_entries: 0", "6:16: capacity.max_entries must be between 1 and 1000000000, not 0"),
    adding(
        "misspelt on_full", "capacity:\n  max_entries: 10\n  on_full: evict",
        "7:12: unknown capacity.on_full 'evict' (did you mean 'evict_lru'?)"),
    adding(
        "evict_lru without max_entries", "capacity:\n  on_full: evict_lru", "6:12: capacity.on_full: evict_lru needs capacity.max_entries"),
    adding(
        "max_value_bytes too large", "capacity:\n  max_value_bytes: 100000000",
        "6:20: capacity.max_value_bytes must be between 1 and 16777216, not 100000000"),
    adding("max_key_bytes not a number", "capacity:\n  max_key_bytes: lots", "6:18: capacity.max_key_bytes must be an integer, not 'lots'"),
    adding("capacity is a scalar", "capacity: 100", "5:11: capacity must be a mapping, not '100'"),

    // Durations.
    adding("ttl without a unit", "ttl: 10", "5:6: invalid ttl: duration '10' is missing a unit (ns, us, ms, s, m, h)"),
    adding(
        "ttl with an unknown unit", "ttl: 10d", "5:6: invalid ttl: duration '10d' has an unknown unit 'd' (expected ns, us, ms, s, m or h)"),
    adding("ttl negative", "ttl: -5m", "5:6: invalid ttl: duration '-5m' is negative"),
    adding("ttl zero", "ttl: 0s", "5:6: ttl must be between 1ms and 8760h, not 0s"),
    adding(
        "ttl with spaces", "ttl: 10 minutes",
        "5:6: invalid ttl: invalid duration '10 minutes' (expected a number and a unit such as 500us, 2ms, 1s, 15m, 1h30m)"),
    adding("rollback_window too short", "rollback_window: 500ms", "5:18: rollback_window must be between 1s and 168h, not 500ms"),
    adding(
        "rollback_window not longer than the interval", "rollback_window: 1s",
        "5:18: rollback_window (1s) must be longer than rollout.interval (1s)"),

    // Rollout and breaker.
    adding("misspelt standby", "rollout:\n  standby: hot", "6:12: unknown rollout.standby 'hot'"),
    adding(
        "interval longer than the window", "rollback_window: 30s\nrollout:\n  interval: 1m",
        "7:13: rollout.interval (1m) must be shorter than rollback_window (30s)"),
    adding("interval too short", "rollout:\n  interval: 1ms", "6:13: rollout.interval must be between 10ms and 1h, not 1ms"),
    adding(
        "error rate above one", "rollout:\n  max_error_rate: 1.5", "6:19: rollout.max_error_rate must be a number between 0 and 1, not 1.5"),
    adding(
        "error rate as a percentage", "rollout:\n  max_error_rate: 5%",
        "6:19: rollout.max_error_rate must be a number between 0 and 1, not '5%'"),
    adding("failure_limit zero", "rollout:\n  failure_limit: 0", "6:18: rollout.failure_limit must be between 1 and 1000, not 0"),
    adding("min_ops negative", "rollout:\n  min_ops: -1", "6:12: rollout.min_ops must be between 0 and 1000000000, not -1"),
    adding(
        "p99 latency without unit", "rollout:\n  max_p99_latency: 2",
        "6:20: invalid rollout.max_p99_latency: duration '2' is missing a unit (ns, us, ms, s, m, h)"),
    adding(
        "breaker faults zero", "circuit_breaker:\n  open_after_faults: 0",
        "6:22: circuit_breaker.open_after_faults must be between 1 and 1000000, not 0"),
    adding(
        "breaker window is a list", "circuit_breaker:\n  window: [1s]",
        "6:11: circuit_breaker.window must be a duration such as 500ms or 15m, not a sequence"),
    adding(
        "fault injection without the flag", "fault_injection:\n  error_rate: 0.5",
        "5:1: fault injection is disabled; start the daemon with --enable-fault-injection"),
]
