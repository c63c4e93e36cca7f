import Foundation
import MapSchema

/// The repository root, found from this source file's path.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func decode(_ yaml: String, options: SchemaDecoder.Options = .init(), file: String = "f.yaml") -> SchemaFileResult {
    SchemaDecoder(options: options).decode(Array(yaml.utf8), file: file)
}

/// A fresh temporary directory, removed by the caller.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("mapschema-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

let seedSchema = """
    name: user_cache_v2
    key_type: string
    value_type: github.com/ecom/order-core/internal/model.User
    concurrency_safe: true
    version: v1.3.2
    rollback_window: 15m

    """
