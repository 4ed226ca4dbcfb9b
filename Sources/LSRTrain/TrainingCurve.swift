/// The loss and metric curves of a run as a standalone SVG (curve.svg in train's output): two
/// panels over the update step, losses above (training loss per log line, evaluation loss), the
/// evaluation metrics below. No scripts, no external fonts: any browser or viewer shows it.
public enum TrainingCurve {
    public static func svg(_ log: [LogEntry], title: String) -> String {
        let (width, panelHeight) = (720.0, 220.0)
        let (left, right, top, gap) = (64.0, 150.0, 36.0, 40.0)
        let height = top + 2 * panelHeight + gap + 36
        let lastStep = Double(max(1, log.map(\.step).max() ?? 1))
        let plotWidth = width - left - right
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" \
            font-family="sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="20" font-size="13">\(escape(title))</text>

            """
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

        func panel(y0: Double, label: String, series: [(name: String, points: [(Double, Double)])]) {
            let values = series.flatMap { $0.points.map(\.1) }.filter(\.isFinite)
            var (low, high) = (values.min() ?? 0, values.max() ?? 1)
            if high - low < 1e-12 { (low, high) = (low - 0.5, high + 0.5) }
            let pad = (high - low) * 0.05
            (low, high) = (low - pad, high + pad)
            func x(_ step: Double) -> Double { left + plotWidth * step / lastStep }
            func y(_ v: Double) -> Double { y0 + panelHeight * (1 - (v - low) / (high - low)) }
            out += "<rect x=\"\(left)\" y=\"\(y0)\" width=\"\(plotWidth)\" height=\"\(panelHeight)\" fill=\"none\" stroke=\"#888\"/>\n"
            out += "<text x=\"12\" y=\"\(y0 + panelHeight / 2)\" transform=\"rotate(-90 12 \(y0 + panelHeight / 2))\" text-anchor=\"middle\">\(label)</text>\n"
            for i in 0...4 {
                let v = low + (high - low) * Double(i) / 4
                out += "<text x=\"\(left - 4)\" y=\"\(format(y(v) + 4))\" text-anchor=\"end\">\(format(v, digits: 3))</text>\n"
                out += "<line x1=\"\(left)\" x2=\"\(left + plotWidth)\" y1=\"\(format(y(v)))\" y2=\"\(format(y(v)))\" stroke=\"#eee\"/>\n"
            }
            for (i, s) in series.enumerated() where !s.points.isEmpty {
                let color = colors[i % colors.count]
                let path = s.points.filter { $0.1.isFinite }.map { "\(format(x($0.0))),\(format(y($0.1)))" }.joined(separator: " ")
                out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(path)\"/>\n"
                if s.points.count <= 60 {
                    for p in s.points where p.1.isFinite {
                        out += "<circle cx=\"\(format(x(p.0)))\" cy=\"\(format(y(p.1)))\" r=\"2.5\" fill=\"\(color)\"/>\n"
                    }
                }
                let ly = y0 + 14 + Double(i) * 16
                out += "<line x1=\"\(left + plotWidth + 12)\" x2=\"\(left + plotWidth + 30)\" y1=\"\(ly - 4)\" y2=\"\(ly - 4)\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
                out += "<text x=\"\(left + plotWidth + 34)\" y=\"\(ly)\">\(escape(s.name))</text>\n"
            }
        }

        let train = log.compactMap { e in e.trainLoss.map { (Double(e.step), $0) } }
        let eval = log.compactMap { e in e.evalLoss.map { (Double(e.step), $0) } }
        panel(y0: top, label: "loss", series: [("train loss", train), ("eval loss", eval)])
        let names = Metric.names.filter { name in log.contains { $0.evalMetrics.contains { $0.name == name } } }
        let metrics = names.map { name in
            (name: "eval " + name, points: log.compactMap { e in e.evalMetrics.first { $0.name == name }.map { (Double(e.step), $0.value) } })
        }
        let y1 = top + panelHeight + gap
        panel(y0: y1, label: "metric", series: metrics)
        for i in 0...4 {
            let step = lastStep * Double(i) / 4
            out += "<text x=\"\(format(left + plotWidth * Double(i) / 4))\" y=\"\(y1 + panelHeight + 16)\" text-anchor=\"middle\">\(Int(step.rounded()))</text>\n"
        }
        out += "<text x=\"\(left + plotWidth / 2)\" y=\"\(y1 + panelHeight + 32)\" text-anchor=\"middle\">update step</text>\n"
        return out + "</svg>\n"
    }

    static func format(_ v: Double, digits: Int = 1) -> String {
        var s = String(v.rounded(toPlaces: digits))
        if s.hasSuffix(".0") { s.removeLast(2) }
        return s
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }
}

extension Double {
    fileprivate func rounded(toPlaces digits: Int) -> Double {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        return (self * scale).rounded() / scale
    }
}
