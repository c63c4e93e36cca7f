/// A plain-text table for people: left-aligned columns, two spaces apart, optionally coloured rows.
struct Table {
    enum Tint {
        case none, warning, danger, good

        var ansi: String {
            switch self {
            case .none: ""
            case .warning: "\u{1B}[33m"
            case .danger: "\u{1B}[31m"
            case .good: "\u{1B}[32m"
            }
        }
    }

    var header: [String]
    private(set) var rows: [(cells: [String], tint: Tint)] = []

    init(header: [String]) {
        self.header = header
    }

    mutating func append(_ cells: [String], tint: Tint = .none) {
        rows.append((cells, tint))
    }

    /// The table's lines; colour escapes only when `useColor` (they do not count towards widths).
    func render(useColor: Bool) -> [String] {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.cells.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (index, cell) in cells.enumerated() {
                let isLast = index == cells.count - 1
                text += isLast ? cell : cell.padded(to: widths[index] + 2)
            }
            return text
        }
        var lines = [useColor ? "\u{1B}[1m" + line(header) + "\u{1B}[0m" : line(header)]
        for row in rows {
            let text = line(row.cells)
            lines.append(useColor && row.tint != .none ? row.tint.ansi + text + "\u{1B}[0m" : text)
        }
        return lines
    }
}

extension String {
    fileprivate func padded(to length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
