import AttncKernels
import AttncPasses
import AttncRuntime
import AttncTensor
import Foundation

/// Each candidate variant's error on each attention layer, measured on calibration inputs: the
/// exact plan runs them, every attention's q, k, v (and mask) are taken as the layer sees them,
/// and every setting the layer allows runs on those same operands against the exact output.
/// A layer's error is the mean over samples of `‖Y − Y_exact‖_F / ‖Y_exact‖_F`.
public struct AttentionErrors: Sendable {
  /// By layer index, by setting (`performer`, `fastmax:p=1`).
  public var byLayer: [Int: [String: Double]]
  /// The exact plan's outputs per sample (the reference of the end-to-end check).
  public var exactOutputs: [[HostTensor]]
  /// `measured` or `synthetic`, from the inputs.
  public var source: String
  /// By layer index, by setting: each query head's error (the mean over samples and batch items).
  public var byHead: [Int: [String: [Double]]] = [:]
  /// By layer index, the sparse settings' measured densities (`TileCounts`: the share of visible
  /// query-key pairs attended over all samples), over all heads and per query head.
  public var densities: [Int: AttentionCandidate.Densities] = [:]

  /// The estimates of one layer, with their source, as `AttentionCandidate.all` takes them.
  public func estimates(layer: Int) -> [String: (error: Double, source: String)] {
    (byLayer[layer] ?? [:]).mapValues { ($0, source) }
  }

  /// The per-head errors of one layer, as `AttentionCandidate.all` takes them.
  public func headEstimates(layer: Int) -> [String: [Double]] { byHead[layer] ?? [:] }

  /// The measured densities of one layer, as `AttentionCandidate.all` takes them.
  public func densities(layer: Int) -> AttentionCandidate.Densities { densities[layer] ?? .init() }

  /// - Parameters:
  ///   - exactPlan: the model with every attention exact.
  ///   - layers: the matched attentions (node names are the plan's instruction labels).
  ///   - settings: which settings to measure on each layer (only those the layer allows run).
  public static func measure(
    exactPlan: Plan, layers: [AttentionLayer], inputs: CalibrationInputs,
    settings: [String] = AttentionCandidate.weighed, progress: (String) -> Void = { _ in }
  ) throws -> AttentionErrors {
    let layerOf = Dictionary(layers.map { ($0.node, $0) }, uniquingKeysWith: { first, _ in first })
    var sums: [Int: [String: Double]] = [:]
    var counts: [Int: [String: Int]] = [:]
    var headSums: [Int: [String: [Double]]] = [:]
    var tiles: [Int: [String: TileCounts]] = [:]
    var outputs: [[HostTensor]] = []
    let interpreter = try Interpreter(plan: exactPlan)
    interpreter.observer = { instruction, arguments, results in
      guard let attention = instruction.call as? FusedAttentionCall, let layer = layerOf[instruction.label] else { return }
      let exact = results[0].floats[...]
      for setting in settings {
        guard let (definition, variant) = try? ApplyAttentionVariant.resolve(setting, layer: layer.layer),
          !definition.isExact(VariantParameters(variant.parameters)),
          definition.refusal(
            causal: layer.spec.causal, mask: layer.spec.mask.rawValue, softcap: layer.spec.softcap,
            parameters: VariantParameters(variant.parameters)) == nil
        else { continue }
        var call = attention.onOperands
        (call.variant, call.variantValues, call.dispatch) = (definition.name, variant.parameters, nil)
        let tileCounts = tiles[layer.layer]?[setting] ?? TileCounts()
        tiles[layer.layer, default: [:]][setting] = tileCounts
        let approximate = try tileCounts.measure { try call.evaluate(KernelContext(), attention.attentionOperands(arguments, results)) }
        sums[layer.layer, default: [:]][setting, default: 0] += AttentionQuality.relativeError(approximate[0].floats[...], exact)
        let heads = AttentionQuality.headErrors(approximate[0], results[0])
        let previous = headSums[layer.layer]?[setting] ?? [Double](repeating: 0, count: heads.count)
        headSums[layer.layer, default: [:]][setting] = zip(previous, heads).map(+)
        counts[layer.layer, default: [:]][setting, default: 0] += 1
      }
    }
    for (index, sample) in inputs.samples.enumerated() {
      progress("  measuring attention error on calibration sample \(index + 1) of \(inputs.samples.count)")
      outputs.append(try interpreter.run(sample))
    }
    var byLayer: [Int: [String: Double]] = [:]
    for (layer, settingSums) in sums {
      for (setting, sum) in settingSums { byLayer[layer, default: [:]][setting] = sum / Double(counts[layer]?[setting] ?? 1) }
    }
    var byHead: [Int: [String: [Double]]] = [:]
    for (layer, settingSums) in headSums {
      for (setting, sum) in settingSums { byHead[layer, default: [:]][setting] = sum.map { $0 / Double(counts[layer]?[setting] ?? 1) } }
    }
    var densities: [Int: AttentionCandidate.Densities] = [:]
    for (layer, settingCounts) in tiles {
      for (setting, counts) in settingCounts where !counts.attended.isEmpty {
        densities[layer, default: .init()].layer[setting] = counts.density
        densities[layer, default: .init()].heads[setting] = counts.densities
      }
    }
    return AttentionErrors(byLayer: byLayer, exactOutputs: outputs, source: inputs.source, byHead: byHead, densities: densities)
  }
}
