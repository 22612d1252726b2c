import AttncCost
import AttncKernels
import AttncTensor
import Foundation

/// `attnc bench quality`: how far each attention variant is from exact attention on captured
/// heads. A dataset is a folder of `layerL_q.npy`, `layerL_k.npy`, `layerL_v.npy` (`[heads, N, d]`,
/// q already scaled, as in `../shared/attention-data`); per head the error is
/// `‖Ô − O‖_F / ‖O‖_F` (`AttentionQuality.relativeError`, defined with the cost model) against
/// `softmax(q·kᵀ)·v`, summarised as median, p10 and p90 over heads.
extension AttentionQuality {
  /// One variant setting to evaluate, with the row of `tools/attention_error_check.py` that
  /// measures the same thing (for the comparison in docs), if any.
  public struct Setting: Sendable {
    public var variant: String
    public var numpyLabel: String?

    public init(_ variant: String, numpy: String? = nil) {
      self.variant = variant
      numpyLabel = numpy
    }
  }

  /// Every variant at its default and a few other settings; the numpy tool's rows alongside.
  public static let standardSettings: [Setting] = [
    Setting("performer:m=32", numpy: "performer m=32"), Setting("performer:m=64", numpy: "performer m=64"),
    Setting("performer:m=128", numpy: "performer m=128"), Setting("performer", numpy: "performer m=256"),
    Setting("linformer:k=64", numpy: "linformer(pool E=F) k=64"), Setting("linformer", numpy: "linformer(pool E=F) k=128"),
    Setting("linformer:random=1"),
    Setting("flurka-pool:k=64,m=64", numpy: "flurka(pool E=F) k=64 + favor m=64"),
    Setting("flurka-pool:k=64,m=128", numpy: "flurka(pool E=F) k=64 + favor m=128"),
    Setting("flurka-pool:k=128,m=64", numpy: "flurka(pool E=F) k=128 + favor m=64"),
    Setting("flurka-pool", numpy: "flurka(pool E=F) k=128 + favor m=128"),
    Setting("flurka-rf"), Setting("flurka-elu"),
    Setting("fastmax:p=1,normalize=0", numpy: "fastmax p=1 raw q.k"), Setting("fastmax:p=2,normalize=0", numpy: "fastmax p=2 raw q.k"),
    Setting("fastmax", numpy: "fastmax p=2 normalized (paper)"), Setting("fastmax:p=1"),
    Setting("scatterbrain:w=64,m=0", numpy: "local w=64"), Setting("scatterbrain:w=128,m=0", numpy: "local w=128"),
    Setting("scatterbrain:w=32,m=32", numpy: "scatterbrain local w=32 + m=32"),
    Setting("scatterbrain", numpy: "scatterbrain local w=64 + m=64"),
    Setting("scatterbrain:w=0,b=16,m=0", numpy: "lsh-only b=16 x2 hashes"),
    Setting("scatterbrain:w=0,b=16,m=32", numpy: "scatterbrain lsh b=16 x2 + m=32"),
    Setting("scatterbrain:w=0,b=32,m=0", numpy: "lsh-only b=32 x2 hashes"),
    Setting("scatterbrain:w=0,b=32,m=64", numpy: "scatterbrain lsh b=32 x2 + m=64"),
    Setting("scatterbrain:w=64,b=32,m=64"),
    Setting("nystrom:m=32", numpy: "nystrom landmarks=32 (6 pinv iters)"), Setting("nystrom", numpy: "nystrom landmarks=64 (6 pinv iters)"),
    Setting("softmax:prec=bf16"),
    Setting("softmax:skip=6"), Setting("softmax:skip=9"), Setting("softmax:skip=12"),
    Setting("blocksparse:tau=0.9"), Setting("blocksparse"), Setting("blocksparse:tau=0.99"),
    Setting("softmax:prec=int8"), Setting("softmax:prec=int8pv"),
  ]

  /// What `--budget` weighs per head by default: bfloat16 products, skip-softmax and block-sparse
  /// attention (in float32 and bfloat16).
  public static let budgetSettings: [Setting] = [
    "softmax:prec=bf16", "softmax:skip=6", "softmax:skip=9", "softmax:skip=12", "softmax:prec=bf16,skip=9",
    "softmax:prec=bf16,skip=12", "blocksparse:tau=0.9", "blocksparse", "blocksparse:tau=0.99", "blocksparse:prec=bf16,tau=0.95",
    "blocksparse:prec=bf16,tau=0.99",
  ].map { Setting($0) }

  public struct Dataset: Sendable {
    public var name: String
    /// Per layer `(q, k, v)`, each `[1, heads, N, d]`.
    public var layers: [(q: Tensor, k: Tensor, v: Tensor)]
    public var heads: Int { layers.first?.q.shape[1] ?? 0 }
    public var tokens: Int { layers.first?.q.shape[2] ?? 0 }
    public var depth: Int { layers.first?.q.shape[3] ?? 0 }
  }

  public struct Row: Sendable {
    public var dataset: String
    public var setting: Setting
    /// The variant's name and resolved parameters.
    public var variant: String
    public var parameters: [String: Double]
    public var median: Double
    public var p10: Double
    public var p90: Double
    /// Heads × draws measured.
    public var heads: Int
    /// The first draw's error by layer and head.
    public var headErrors: [[Double]] = []
    /// Settings run by the tiled kernel: by layer and head, the share of visible query-key
    /// pairs attended (`TileCounts`); empty for the others.
    public var headDensities: [[Double]] = []
  }

  /// The datasets under `path`: the folder itself if it holds `layer0_q.npy`, else each
  /// subfolder that does, sorted by name.
  /// - Throws: no dataset found; a layer's arrays missing or of mismatched shapes.
  public static func datasets(at path: String) throws -> [Dataset] {
    let manager = FileManager.default
    var isDirectory: ObjCBool = false
    guard manager.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw AttncError(.usage, "'\(path)' is not a folder")
    }
    let root = URL(fileURLWithPath: path)
    func isDataset(_ url: URL) -> Bool { manager.fileExists(atPath: url.appendingPathComponent("layer0_q.npy").path) }
    let folders: [URL]
    if isDataset(root) {
      folders = [root]
    } else {
      folders = try manager.contentsOfDirectory(atPath: path).sorted().map { root.appendingPathComponent($0) }.filter(isDataset)
    }
    guard !folders.isEmpty else {
      throw AttncError(.usage, "'\(path)' holds no layer0_q.npy, layer0_k.npy, layer0_v.npy (directly or in a subfolder)")
    }
    return try folders.map { folder in
      var layers: [(Tensor, Tensor, Tensor)] = []
      while true {
        let l = layers.count
        let paths = ["q", "k", "v"].map { folder.appendingPathComponent("layer\(l)_\($0).npy").path }
        guard manager.fileExists(atPath: paths[0]) else { break }
        let arrays = try paths.map { p -> Tensor in
          let host = try NPY.read(p)
          guard host.rank == 3, host.dtype == .float || host.dtype == .double || host.dtype == .float16 else {
            throw AttncError.invalid("\(p): expected a float [heads, N, d] array, got \(host)")
          }
          return .float(host.floats(), [1] + host.shape)
        }
        let (q, k, v) = (arrays[0], arrays[1], arrays[2])
        guard q.shape[1] == k.shape[1], k.shape == [1, v.shape[1], v.shape[2], k.shape[3]], q.shape[3] == k.shape[3] else {
          throw AttncError.invalid("\(folder.path): layer \(l) q \(q.shape), k \(k.shape), v \(v.shape) do not fit")
        }
        layers.append((q, k, v))
      }
      return Dataset(name: folder.lastPathComponent, layers: layers)
    }
  }

  /// Evaluates `settings` on `dataset`; `progress` is told each setting as it starts. A
  /// setting with random features or projections is run with `draws` seeds and its statistics
  /// taken over all heads of all draws (one draw's median moves by ±0.1 on these heads).
  /// `causal`: the heads are a decoder's, query `i` sees keys `j ≤ i` (settings without a causal
  /// form are skipped).
  /// - Throws: a setting that does not parse.
  public static func evaluate(
    _ dataset: Dataset, settings: [Setting], draws: Int = 1, causal: Bool = false, progress: (String) -> Void = { _ in }
  ) throws -> [Row] {
    var options = TiledAttention.Options(scale: 1)
    options.causal = causal
    let exact = try dataset.layers.map { layer in
      try TiledAttention.run(q: layer.q, k: layer.k, v: layer.v, mask: .none, options: options).floats
    }
    let settings = try settings.filter { setting in try !causal || AttentionVariants.parse(setting.variant).0.supportsCausal }
    return try settings.map { setting in
      progress(setting.variant)
      let (definition, parameters) = try AttentionVariants.parse(setting.variant)
      var errors: [Double] = []
      var headErrors: [[Double]] = []
      var headDensities: [[Double]] = []
      for draw in 0..<(definition.usesSeed ? max(1, draws) : 1) {
      for (index, layer) in dataset.layers.enumerated() {
        var layerParameters = parameters
        if definition.usesSeed { layerParameters.values["seed"] = Double((parameters.int("seed") &+ 7919 &* draw) &* 1000 &+ index) }
        let counts = TileCounts()
        let y = try counts.measure {
          try VariantAttention.run(
            definition, parameters: layerParameters, q: layer.q, k: layer.k, v: layer.v, mask: .none, scale: 1, causal: causal)
        }
        if draw == 0 && !counts.attended.isEmpty { headDensities.append(counts.densities) }
        let size = layer.q.shape[2] * layer.v.shape[3]
        let layerErrors = (0..<layer.q.shape[1]).map { head in
          relativeError(y.floats[(head * size)..<((head + 1) * size)], exact[index][(head * size)..<((head + 1) * size)])
        }
        errors += layerErrors
        if draw == 0 { headErrors.append(layerErrors) }
      }
      }
      return Row(
        dataset: dataset.name, setting: setting, variant: definition.name, parameters: parameters.values,
        median: percentile(errors, 50), p10: percentile(errors, 10), p90: percentile(errors, 90), heads: errors.count,
        headErrors: headErrors, headDensities: headDensities)
    }
  }

  /// One head's cheapest setting within an error budget.
  public struct HeadChoice: Sendable {
    public var layer: Int
    public var head: Int
    /// The setting's text (`softmax:prec=bf16`), `softmax` when none is within the budget.
    public var setting: String
    public var error: Double
    /// The share of visible query-key pairs the setting attends on this head (1: dense).
    public var density: Double = 1
    /// Its cost relative to exact float32 attention on this head (`relativeCost`).
    public var cost: Double = 1
    /// When none is within the budget: the smallest error among the rows, and its setting.
    public var closest: (setting: String, error: Double)? = nil
  }

  /// The cost of `setting` on one head of `dataset` at `density`, relative to exact float32
  /// attention: the ratio of the cost formulas' FLOPs plus exponentials, products in bfloat16
  /// counted at half (the machine's `vdpbf16ps` rate is twice the float32 one).
  public static func relativeCost(_ setting: String, dataset: Dataset, density: Double, causal: Bool = false) -> Double {
    guard let (definition, parameters) = try? AttentionVariants.parse(setting) else { return .infinity }
    var shape = AttentionShape(
      queries: dataset.tokens, keys: dataset.tokens, depth: dataset.depth, valueDepth: dataset.depth, causal: causal)
    let exact = AttentionVariantDefinition.softmax.cost(shape, VariantParameters([:]))
    shape.density = density
    let cost = definition.cost(shape, parameters)
    let products = parameters["prec"] == 0 ? 1.0 : 0.5
    return (cost.flops * products + cost.exponentials) / (exact.flops + exact.exponentials)
  }

  /// Per layer and head of `dataset`, the least costly of `rows` (`relativeCost` at that head's
  /// measured density) whose error on that head is at most `budget` and that costs less than
  /// exact attention, taken in order, a later row only when it costs at least 1% less; exact
  /// `softmax` (error 0) when none does, with the closest row when none is within the budget.
  public static func cheapest(_ rows: [Row], dataset: Dataset, budget: Double, causal: Bool = false) -> [HeadChoice] {
    (0..<dataset.layers.count).flatMap { layer in
      (0..<dataset.heads).map { head in
        var closest: (setting: String, error: Double)?
        var best = HeadChoice(layer: layer, head: head, setting: "softmax", error: 0)
        var withinBudget = false
        for row in rows where row.dataset == dataset.name && layer < row.headErrors.count && head < row.headErrors[layer].count {
          let error = row.headErrors[layer][head]
          guard error <= budget else {
            if !(error >= closest?.error ?? .infinity) { closest = (row.setting.variant, error) }
            continue
          }
          withinBudget = true
          let density = layer < row.headDensities.count && head < row.headDensities[layer].count ? row.headDensities[layer][head] : 1
          let cost = relativeCost(row.setting.variant, dataset: dataset, density: density, causal: causal)
          // A later (more elaborate) setting must save at least 1% more to replace the best.
          if cost < best.cost * 0.99 {
            best = HeadChoice(layer: layer, head: head, setting: row.setting.variant, error: error, density: density, cost: cost)
          }
        }
        if !withinBudget { best.closest = closest }
        return best
      }
    }
  }

  /// NumPy's default (linear interpolation) percentile.
  public static func percentile(_ values: [Double], _ q: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let position = q / 100 * Double(sorted.count - 1)
    let low = Int(position.rounded(.down)), high = min(low + 1, sorted.count - 1)
    return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
  }
}
