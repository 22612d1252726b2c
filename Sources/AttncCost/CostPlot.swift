import AttncKernels
import AttncPasses
import Foundation

/// `inspect --plot FILE.svg`: predicted attention time against sequence length, log-log, one
/// panel per distinct layer shape, one line per variant setting the layer may run, with the
/// lengths where the fastest prediction changes marked.
public enum CostPlot {
  /// One panel: a layer shape and its settings' predicted seconds at each length.
  public struct Panel: Sendable {
    public var title: String
    public var lengths: [Int]
    public var series: [(setting: String, seconds: [Double])]
    /// Where the least predicted setting changes: (first length, new fastest).
    public var crossovers: [(length: Int, setting: String)]
    /// The model's own length when it is fixed (a ViT's patch count): marked on the axis.
    public var fixedLength: Int?
  }

  /// Panels for every distinct shape among `layers` (heads, head dim, mask, fixed lengths).
  public static func panels(_ layers: [AttentionLayer], profile: MachineProfile, lengths: [Int] = (6...16).map { 1 << $0 }) -> [Panel] {
    var seen: [String: [Int]] = [:]
    var order: [(String, AttentionLayer)] = []
    for layer in layers {
      let spec = layer.spec
      let key = "\(spec.qHeads)/\(spec.kvHeads) heads, d \(spec.headDim), \(spec.maskDescription), q \(layer.queries), k \(layer.keys)"
      if seen[key] == nil { order.append((key, layer)) }
      seen[key, default: []].append(layer.layer)
    }
    return order.map { key, original in
      // A fixed length (a ViT at its export size) is drawn over N too, as a larger input
      // (`--input-shape`) would give, with the model's own length marked.
      var layer = original
      let fixed = original.queries.value.flatMap { q in original.keys.value == q ? q : nil }
      if fixed != nil {
        layer.queries = .symbol("seq")
        layer.keys = .symbol("seq")
      }
      var series: [(String, [Double])] = []
      for setting in AttentionCandidate.settings {
        let perLength = lengths.map { n in AttentionCandidate.all(for: layer, seqLen: n, profile: profile).first { $0.setting == setting } }
        guard let first = perLength.first ?? nil, first.allowed else { continue }
        series.append((setting, perLength.map { $0?.predictedSeconds ?? 0 }))
      }
      var crossovers: [(Int, String)] = []
      var previous: String?
      for (index, n) in lengths.enumerated() {
        guard let best = series.min(by: { $0.1[index] < $1.1[index] })?.0 else { continue }
        if let previous, previous != best { crossovers.append((n, best)) }
        previous = best
      }
      let layerList = seen[key]!.map(String.init).joined(separator: ",")
      return Panel(title: "layers \(layerList): \(key)", lengths: lengths, series: series, crossovers: crossovers, fixedLength: fixed)
    }
  }

  /// The SVG document.
  public static func svg(_ panels: [Panel], title: String) -> String {
    let width = 760.0, panelHeight = 420.0, top = 40.0
    let left = 100.0, right = 190.0, plotTop = 30.0, plotBottom = 50.0
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]
    var out = [
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(top + panelHeight * Double(max(panels.count, 1))))\" font-family=\"sans-serif\" font-size=\"12\">",
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
      "<text x=\"\(Int(width / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(escape(title))</text>",
    ]
    for (p, panel) in panels.enumerated() {
      let y0 = top + panelHeight * Double(p)
      let plotWidth = width - left - right, plotHeight = panelHeight - plotTop - plotBottom
      let values = panel.series.flatMap(\.seconds).filter { $0 > 0 }
      guard let minValue = values.min(), let maxValue = values.max(), let firstN = panel.lengths.first, let lastN = panel.lengths.last else { continue }
      let lowExp = floor(log10(minValue * 1e3)), highExp = ceil(log10(maxValue * 1e3))
      let span = max(highExp - lowExp, 1)
      func x(_ n: Int) -> Double { left + plotWidth * log2(Double(n) / Double(firstN)) / max(log2(Double(lastN) / Double(firstN)), 1) }
      func y(_ seconds: Double) -> Double { y0 + plotTop + plotHeight * (1 - (log10(max(seconds, 1e-12) * 1e3) - lowExp) / span) }
      out.append("<text x=\"\(Int(left))\" y=\"\(Int(y0 + 18))\" font-size=\"13\">\(escape(panel.title))</text>")
      out.append("<rect x=\"\(f(left))\" y=\"\(f(y0 + plotTop))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" fill=\"none\" stroke=\"#333\"/>")
      // Grid: decades of milliseconds, powers of two of N.
      for e in stride(from: lowExp, through: highExp, by: 1) {
        let yy = y(pow(10, e) / 1e3)
        out.append("<line x1=\"\(f(left))\" x2=\"\(f(left + plotWidth))\" y1=\"\(f(yy))\" y2=\"\(f(yy))\" stroke=\"#ddd\"/>")
        out.append("<text x=\"\(f(left - 6))\" y=\"\(f(yy + 4))\" text-anchor=\"end\">\(label(pow(10, e))) ms</text>")
      }
      for n in panel.lengths {
        out.append("<line x1=\"\(f(x(n)))\" x2=\"\(f(x(n)))\" y1=\"\(f(y0 + plotTop))\" y2=\"\(f(y0 + plotTop + plotHeight))\" stroke=\"#eee\"/>")
        out.append("<text x=\"\(f(x(n)))\" y=\"\(f(y0 + plotTop + plotHeight + 16))\" text-anchor=\"middle\">\(n >= 1024 ? "\(n / 1024)k" : "\(n)")</text>")
      }
      out.append("<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(y0 + panelHeight - 12))\" text-anchor=\"middle\">sequence length N (log)</text>")
      out.append("<text transform=\"translate(16 \(f(y0 + plotTop + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">predicted time per layer, batch 1 (log)</text>")
      for (index, series) in panel.series.enumerated() {
        let color = colors[index % colors.count]
        let points = zip(panel.lengths, series.seconds).map { "\(f(x($0))),\(f(y($1)))" }.joined(separator: " ")
        let dash = series.setting == "softmax" ? "" : (index % 2 == 0 ? " stroke-dasharray=\"6 3\"" : "")
        out.append("<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(series.setting == "softmax" ? 3 : 1.8)\"\(dash)/>")
        let ly = y0 + plotTop + 14 + 16 * Double(index)
        out.append("<line x1=\"\(f(left + plotWidth + 12))\" x2=\"\(f(left + plotWidth + 36))\" y1=\"\(f(ly - 4))\" y2=\"\(f(ly - 4))\" stroke=\"\(color)\" stroke-width=\"2.5\"\(dash)/>")
        out.append("<text x=\"\(f(left + plotWidth + 42))\" y=\"\(f(ly))\">\(escape(series.setting))</text>")
      }
      if let fixed = panel.fixedLength, fixed >= firstN, fixed <= lastN {
        let fx = left + plotWidth * log2(Double(fixed) / Double(firstN)) / max(log2(Double(lastN) / Double(firstN)), 1)
        out.append("<line x1=\"\(f(fx))\" x2=\"\(f(fx))\" y1=\"\(f(y0 + plotTop))\" y2=\"\(f(y0 + plotTop + plotHeight))\" stroke=\"black\" stroke-dasharray=\"2 3\"/>")
        out.append("<text x=\"\(f(fx + 4))\" y=\"\(f(y0 + plotTop + 12))\" font-size=\"11\">this model: N=\(fixed) (larger inputs move right)</text>")
      }
      for crossover in panel.crossovers {
        guard let series = panel.series.first(where: { $0.setting == crossover.setting }),
          let index = panel.lengths.firstIndex(of: crossover.length) else { continue }
        let cx = x(crossover.length), cy = y(series.seconds[index])
        out.append("<circle cx=\"\(f(cx))\" cy=\"\(f(cy))\" r=\"6\" fill=\"none\" stroke=\"black\" stroke-width=\"2\"/>")
        out.append("<text x=\"\(f(cx + 8))\" y=\"\(f(cy - 8))\" font-size=\"11\">fastest from N=\(crossover.length): \(escape(crossover.setting))</text>")
      }
    }
    out.append("</svg>")
    return out.joined(separator: "\n") + "\n"
  }

  private static func f(_ value: Double) -> String { String(format: "%.1f", value) }
  private static func label(_ ms: Double) -> String { ms >= 1 ? String(Int(ms.rounded())) : String(format: "%g", ms) }
  private static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
  }
}
