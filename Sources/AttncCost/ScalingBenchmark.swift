import AttncKernels
import AttncTensor
import Foundation

/// `attnc bench scaling`: one attention layer per variant setting at growing sequence lengths.
/// Q, K, V are `[1, heads, N, d]` of seeded standard normal values (q scaled by `1/√d`, the same
/// for every setting at one N), each setting runs `repetitions` times, and its median is
/// reported beside the FLOPs its cost formula gives.
public enum ScalingBenchmark {
  /// One setting timed at one length.
  public struct Point: Sendable {
    public var length: Int
    /// The setting as given (`performer`, `fastmax:p=1`).
    public var setting: String
    /// Median wall time of one run, in milliseconds.
    public var medianMilliseconds: Double
    /// FLOPs of the layer by the variant's cost formula (all heads).
    public var flops: Double
    /// Exact attention's median over this one's at the same length, when exact attention
    /// (`softmax`) was timed before it.
    public var speedupOverSoftmax: Double?
  }

  /// The settings to time: `requested` (every variant at its defaults when empty), without
  /// those that have no causal form when `causal`.
  /// - Throws: the parse error of a setting that does not parse.
  public static func settings(_ requested: [String], causal: Bool) throws -> [String] {
    try (requested.isEmpty ? AttentionVariants.all.map(\.name) : requested).map { text in
      (text, try AttentionVariants.parse(text))
    }.filter { !causal || $0.1.0.supportsCausal }.map(\.0)
  }

  /// Times every setting at every length, lengths in the outer loop; `starting` hears of each
  /// (length, setting) before it runs, `measured` gets each point as it is done.
  /// - Parameters:
  ///   - settings: as `settings(_:causal:)` returns them.
  /// - Throws: a setting that does not parse, a kernel's error.
  @discardableResult
  public static func run(
    settings: [String], lengths: [Int], depth: Int, heads: Int, causal: Bool, repetitions: Int,
    starting: (_ length: Int, _ setting: String) -> Void = { _, _ in }, measured: (Point) -> Void = { _ in }
  ) throws -> [Point] {
    let parsed = try settings.map { text in (text, try AttentionVariants.parse(text)) }
    var points: [Point] = []
    for n in lengths {
      var generator = SplitMix(seed: 0xA77)
      func tensor(_ scale: Float) -> Tensor {
        .float((0..<(heads * n * depth)).map { _ in generator.normal() * scale }, [1, heads, n, depth])
      }
      let q = tensor(1 / Float(depth).squareRoot()), k = tensor(1), v = tensor(1)
      var exactTime: Double?
      for (text, (definition, parameters)) in parsed {
        starting(n, text)
        var times: [Double] = []
        for _ in 0..<repetitions {
          let start = DispatchTime.now().uptimeNanoseconds
          _ = try VariantAttention.run(definition, parameters: parameters, q: q, k: k, v: v, mask: .none, scale: 1, causal: causal)
          times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        let median = times.median
        if definition.isExact(parameters) { exactTime = median }
        let cost = definition.cost(AttentionShape(queries: n, keys: n, depth: depth, valueDepth: depth, causal: causal), parameters)
        let point = Point(
          length: n, setting: text, medianMilliseconds: median, flops: cost.flops * Double(heads),
          speedupOverSoftmax: exactTime.map { $0 / median })
        measured(point)
        points.append(point)
      }
    }
    return points
  }
}
