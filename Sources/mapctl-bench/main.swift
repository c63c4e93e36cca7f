import Foundation
import NIOCore
import NIOPosix

// mapctl-bench: benchmarks and test helpers, dispatched on the first argument.
let arguments = CommandLine.arguments
// `bare-http --nio-executor`: NIO's event loops run every task, installed before the first one.
if arguments.count > 1, arguments[1] == "bare-http", arguments.contains("--nio-executor") {
    _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
}
switch arguments.count > 1 ? arguments[1] : "" {
case "state-crash-child":
    // Hidden: the victim of the state store's crash test (Tests/MapControllerTests/StateStoreCrashTests.swift).
    exit(StateCrashChild.run(Array(arguments.dropFirst(2))))
case "controller-crash-child":
    // Hidden: the victim of the controller's crash test (Tests/MapControllerTests/ControllerCrashTests.swift).
    exit(await ControllerCrashChild.run(Array(arguments.dropFirst(2))))
case "validate":
    exit(try ValidateBench.run(Array(arguments.dropFirst(2))))
case "maps":
    exit(MapsBench.run(Array(arguments.dropFirst(2))))
case "governed":
    exit(await GovernedBench.run(Array(arguments.dropFirst(2))))
case "rebuild":
    exit(await RebuildBench.run(Array(arguments.dropFirst(2))))
case "status-during-rebuild":
    exit(await StatusDuringRebuildBench.run(Array(arguments.dropFirst(2))))
case "bare-http":
    exit(await BareHummingbird.run(Array(arguments.dropFirst(2))))
default:
    FileHandle.standardError.write(
        Data(
            "usage: mapctl-bench <benchmark> [options]\nbenchmarks: validate, maps, governed, rebuild, status-during-rebuild, bare-http\n"
                .utf8))
    exit(64)
}
