import MapSchema

/// Large inputs without stalling the control plane.
///
/// An apply of 10,000 documents used to hold the controller's actor from its first byte to its last:
/// the YAML was decoded and validated on the actor, and every document was then planned and applied in
/// one stretch, so status, other applies and `/readyz` waited seconds for it. Now the decoding runs on
/// a thread of its own, off the actor, and the actor takes the decoded documents in bounded batches,
/// yielding between them, so that whatever waits for the actor runs in between.
///
/// Yielding at a batch boundary lets other work of the actor interleave with an apply exactly where it
/// already could: between two documents (an update already awaits its rebuild off the actor). Each
/// document is planned and carried out without a suspension in between, as before.
extension Controller {
    /// Decodes and validates an apply body on a thread of its own (see ``offActor(_:)``), not on the actor.
    nonisolated static func decodeOffActor(_ yaml: [UInt8], source: String, options: SchemaDecoder.Options) async -> SchemaFileResult {
        await offActor { SchemaDecoder(options: options).decode(yaml, file: source) }
    }

    /// The names that more than one of `names` carries; linear in the number of names.
    static func duplicatedNames(_ names: [String]) -> Set<String> {
        var seen: Set<String> = []
        var duplicated: Set<String> = []
        for name in names where !seen.insert(name).inserted {
            duplicated.insert(name)
        }
        return duplicated
    }

    /// The status of each of `names` that has a record, taking the actor back in bounded batches.
    func statuses(of names: [String]) async -> [MapStatus] {
        var pacer = ActorPacer()
        var results: [MapStatus] = []
        results.reserveCapacity(names.count)
        for name in names {
            if let record = records[name] { results.append(status(of: record)) }
            await pacer.step()
        }
        return results
    }
}

/// Bounds how long the controller's actor works through a long input before it lets others in.
///
/// Call ``step()`` after each unit of work (one document): after ``maxSteps`` units, or once
/// ``maxDuration`` has passed since the last yield, it yields the actor (`Task.yield()`), so that
/// status, readiness, other applies and the checks loop, which wait for the actor, run in between.
struct ActorPacer {
    /// Units of work between two yields at most.
    static let maxSteps = 64
    /// Time between two yields at most (a unit of work that takes longer ends its batch alone).
    static let maxDuration: Duration = .milliseconds(10)

    private var steps = 0
    private var since = ContinuousClock.now

    /// How many times this pacer yielded.
    private(set) var yields = 0

    mutating func step() async {
        steps += 1
        guard steps >= Self.maxSteps || ContinuousClock.now - since >= Self.maxDuration else { return }
        await Task.yield()
        yields += 1
        steps = 0
        since = ContinuousClock.now
    }
}
