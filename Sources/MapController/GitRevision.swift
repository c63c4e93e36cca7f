import Foundation

/// The commit checked out in the git work tree that holds a directory, read from `.git` without running git.
///
/// Handles a `.git` directory or a `.git` file (`gitdir: ...`, worktrees and
/// submodules), a detached HEAD, loose refs and `packed-refs`. Returns nil
/// outside a work tree or when anything is unreadable: the source then names
/// the file alone.
enum GitRevision {
    static func head(containing directory: String) -> String? {
        var url = URL(fileURLWithPath: directory).standardizedFileURL
        for _ in 0..<64 {
            let dotGit = url.appendingPathComponent(".git")
            if let gitDirectory = resolveGitDirectory(dotGit) {
                return commit(in: gitDirectory)
            }
            let parent = url.deletingLastPathComponent()
            if parent.path == url.path { return nil }
            url = parent
        }
        return nil
    }

    private static func resolveGitDirectory(_ dotGit: URL) -> URL? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dotGit.path, isDirectory: &isDirectory) else { return nil }
        if isDirectory.boolValue { return dotGit }
        guard let text = try? String(contentsOf: dotGit, encoding: .utf8), text.hasPrefix("gitdir:") else { return nil }
        let path = text.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespacesAndNewlines)
        return path.hasPrefix("/") ? URL(fileURLWithPath: path) : dotGit.deletingLastPathComponent().appendingPathComponent(path)
    }

    private static func commit(in gitDirectory: URL) -> String? {
        guard let head = read(gitDirectory.appendingPathComponent("HEAD")) else { return nil }
        guard head.hasPrefix("ref:") else { return isCommitID(head) ? head : nil }
        let ref = head.dropFirst("ref:".count).trimmingCharacters(in: .whitespaces)
        // Worktrees keep HEAD in their own directory and refs in the common one.
        var directories = [gitDirectory]
        if let common = read(gitDirectory.appendingPathComponent("commondir")) {
            directories.append(common.hasPrefix("/") ? URL(fileURLWithPath: common) : gitDirectory.appendingPathComponent(common))
        }
        for directory in directories {
            if let loose = read(directory.appendingPathComponent(ref)), isCommitID(loose) { return loose }
            if let packed = read(directory.appendingPathComponent("packed-refs")) {
                for line in packed.split(separator: "\n") where line.hasSuffix(" " + ref) {
                    let id = String(line.prefix { $0 != " " })
                    if isCommitID(id) { return id }
                }
            }
        }
        return nil
    }

    private static func read(_ url: URL) -> String? {
        (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func isCommitID(_ text: String) -> Bool {
        (text.count == 40 || text.count == 64) && text.allSatisfy(\.isHexDigit)
    }
}
