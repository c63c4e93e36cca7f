import MapSchema

/// Which names in the watched directory matter.
///
/// Schema files are `*.yaml` and `*.yml`. Dotfiles (vim's `.x.yaml.swp`, emacs's
/// `.#x.yaml`), backups (`x.yaml~`), vim's write test file `4913` and emacs's
/// `#x.yaml#` are ignored; so is every other file. The one dotfile that matters is
/// `..data`, the symlink the kubelet swaps to update a ConfigMap volume.
enum WatchFilter {
    /// The ConfigMap volume's current-data symlink.
    static let configMapDataLink = "..data"

    /// True for a file name the schema loader reads (the loader's own rule, so that the two agree).
    static func isSchemaFileName(_ name: some StringProtocol) -> Bool {
        !isIgnored(name) && SchemaLoader.isSchemaFileName(String(name))
    }

    /// True for a directory to descend into and watch: not hidden (this leaves out `.git`
    /// and the ConfigMap's `..2024_…` timestamped directories, reached through `..data`).
    static func isWatchedDirectoryName(_ name: some StringProtocol) -> Bool {
        !name.hasPrefix(".")
    }

    /// True for a name whose change can change what the loader sees.
    static func isRelevant(_ name: some StringProtocol, isDirectory: Bool) -> Bool {
        if name == configMapDataLink { return true }
        return isDirectory ? isWatchedDirectoryName(name) : isSchemaFileName(name)
    }

    static func isIgnored(_ name: some StringProtocol) -> Bool {
        name.hasPrefix(".") || name.hasSuffix("~") || name == "4913" || name.hasPrefix("#")
            || name.hasSuffix(".swp") || name.hasSuffix(".swx") || name.hasSuffix(".swo")
    }
}
