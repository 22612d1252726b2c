import AttncTensor

/// One attention variant, defined once: its parameters, what it can honour, its cost formula and
/// its kernel. `AttentionVariants.all` lists them; the IR, the CLI, `inspect` and the benchmarks
/// all read these definitions.
public struct AttentionVariantDefinition: Sendable {
  /// A numeric parameter (`m`, `k`, `p`…) with its default and allowed range.
  public struct Parameter: Sendable {
    public var name: String
    public var defaultValue: Double
    public var range: ClosedRange<Double>
    public var integer: Bool
    public var help: String
    /// A choice among names (`prec=bf16`): value `i` is `choices[i]`, the default 0. At its
    /// default it is left out of the resolved parameters, so `softmax` stays `softmax`.
    public var choices: [String] = []
    /// A set of heads (`f32heads=0+3`): bit `h` of the value is head `h`, the default none.
    /// Left out of the resolved parameters when empty, as a choice at its default.
    public var isHeadSet = false
    /// A number whose default 0 turns it off (`skip`), left out of the resolved parameters at 0.
    public var isOffAtDefault = false
    /// Whether the machine profile times the kernel per value (false: the parameter only changes
    /// how many tiles run, which the cost formula's measured density prices: `skip`, `tau`).
    public var timed = true

    /// Whether the parameter is left out of the resolved parameters at its default.
    var omittedAtDefault: Bool { !choices.isEmpty || isHeadSet || isOffAtDefault }

    public init(_ name: String, default defaultValue: Double, _ range: ClosedRange<Double>, integer: Bool = true, help: String) {
      self.name = name
      self.defaultValue = defaultValue
      self.range = range
      self.integer = integer
      self.help = help
    }

    /// A parameter taking one of `choices` by name (or index), the first by default.
    public static func choice(_ name: String, _ choices: [String], help: String) -> Parameter {
      var parameter = Parameter(name, default: 0, 0...Double(choices.count - 1), help: help)
      parameter.choices = choices
      return parameter
    }

    /// A set of heads, written `0+3` (at most 52 heads: a plan parameter is a Double).
    public static func heads(_ name: String, help: String) -> Parameter {
      var parameter = Parameter(name, default: 0, 0...Double((1 << 52) - 1), help: help)
      parameter.isHeadSet = true
      return parameter
    }

    /// The bit set of heads `text` lists (`0+3`), nil when it is not such a list.
    public static func headSet(_ text: String) -> Double? {
      var bits: UInt64 = 0
      for part in text.split(separator: "+", omittingEmptySubsequences: false) {
        guard let head = Int(part), (0..<52).contains(head) else { return nil }
        bits |= 1 << UInt64(head)
      }
      return Double(bits)
    }

    /// `value` as the text form writes it: the choice's name, the heads, else the number.
    public func text(_ value: Double) -> String {
      if Int(exactly: value).map({ choices.indices.contains($0) }) == true { return choices[Int(value)] }
      if isHeadSet, let bits = UInt64(exactly: value), bits > 0 {
        return (0..<64).filter { bits & (1 << UInt64($0)) != 0 }.map(String.init).joined(separator: "+")
      }
      return value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    /// A sparsity threshold whose default 0 means off (`skip=λ`), not timed per value.
    public static func off(_ name: String, _ range: ClosedRange<Double>, integer: Bool = false, help: String) -> Parameter {
      var parameter = Parameter(name, default: 0, range, integer: integer, help: help)
      (parameter.isOffAtDefault, parameter.timed) = (true, false)
      return parameter
    }

    /// The same parameter, not timed per value (it changes the density only).
    public var untimed: Parameter {
      var parameter = self
      parameter.timed = false
      return parameter
    }

    /// The `seed` of a variant's random features or projections (any integer a Double holds).
    public static func seed(help: String) -> Parameter {
      Parameter("seed", default: 0, 0...9_007_199_254_740_991, help: help)
    }
  }

  public var name: String
  /// One line for `--help` and the docs.
  public var summary: String
  public var parameters: [Parameter]
  /// Whether the kernel honours causal masking (prefix sums or an in-support cut).
  public var supportsCausal: Bool
  /// Whether it honours a `[B, L]` key-padding mask (masked keys get weight zero).
  public var supportsKeyPadding = true
  /// Whether, with these parameters, it honours `[B, L]` per-key weights (`key_weights`,
  /// proportional attention: key `j` counts `w_j` times). What a variant computes with weights
  /// is written in its doc comment; with weights in {0, 1} every supporting variant computes
  /// exactly what it computes with the same key-padding mask.
  public var supportsKeyWeights: @Sendable (VariantParameters) -> Bool = { _ in true }
  /// True when the variant computes a different score function from softmax (Fastmax), so
  /// `inspect` says so instead of calling it an approximation.
  public var changesScoreFunction = false
  /// FLOPs, exponentials, bytes and extra memory for one (batch, head).
  public var cost: @Sendable (AttentionShape, VariantParameters) -> AttentionCost
  /// The per-head kernel; nil for `softmax`, which runs as the fused tiled kernel.
  public var kernel: (@Sendable (AttentionHead, VariantParameters) -> Void)?
  /// For variants that run as the fused tiled kernel (`kernel` nil): the kernel options their
  /// parameters set beyond precision (skip-softmax, block sparsity).
  public var tiledOptions: (@Sendable (inout TiledAttention.Options, VariantParameters) -> Void)? = nil
  /// The setting whose fitted time prices these parameters when the variant runs another's
  /// kernel on fewer tiles (`blocksparse`: `softmax` at its precision); nil: its own setting
  /// without its untimed parameters.
  public var timedAs: (@Sendable (VariantParameters) -> String)? = nil
  /// The variant in standard ONNX ops (`convert --to onnx` writes it as an `ai.attnc` local
  /// function); nil when it has none, `onnxRefusal` saying why.
  public var onnxForm: AttentionFormBuilder? = nil
  /// Why the variant has no ONNX form (when `onnxForm` is nil).
  public var onnxRefusal = "it is not written yet"

  /// Whether the parameters include a `seed` for random features or projections.
  public var usesSeed: Bool { parameters.contains { $0.name == "seed" } }

  /// Why this variant cannot run an attention with these properties, or nil if it can.
  /// - Parameters:
  ///   - mask: an `AttentionSpec.Mask` raw value (`none`, `key_padding`, `key_weights`,
  ///     `additive_bias`).
  ///   - parameters: the variant's resolved parameters; nil = its defaults.
  public func refusal(causal: Bool, mask: String, softcap: Float, parameters: VariantParameters? = nil) -> String? {
    if causal && !supportsCausal { return "\(name) has no causal form" }
    if mask == "key_padding" && !supportsKeyPadding { return "\(name) cannot honour a key-padding mask" }
    if mask == "key_weights" {
      let defaults = (try? resolve([:])) ?? VariantParameters([:])
      if !supportsKeyWeights(parameters ?? defaults) {
        return "\(name) cannot honour per-key weights" + (supportsKeyWeights(defaults) ? " with these parameters" : "")
      }
    }
    let perKey = ["none", "key_padding", "key_weights"]
    // The fused tiled kernel (kernel nil) honours every mask and the softcap.
    if kernel != nil && !perKey.contains(mask) { return "\(name) cannot honour an additive mask" }
    if kernel != nil && softcap > 0 { return "\(name) cannot apply a softcap" }
    return nil
  }

  /// `values` completed with defaults and checked against the declared parameters.
  /// - Throws: "performer has no parameter 'k' (it takes m, seed)", "fastmax: p must be an
  ///   integer in 1...2, got 3".
  public func resolve(_ values: [String: Double]) throws -> VariantParameters {
    var resolved: [String: Double] = [:]
    for (key, value) in values {
      guard let parameter = parameters.first(where: { $0.name == key }) else {
        let known = parameters.map(\.name).joined(separator: ", ")
        throw AttncError.invalid("\(name) has no parameter '\(key)'" + (known.isEmpty ? " (it takes none)" : " (it takes \(known))"))
      }
      let bounds = "\(format(parameter.range.lowerBound))...\(format(parameter.range.upperBound))"
      guard value.isFinite, parameter.range.contains(value), !parameter.integer || value == value.rounded() else {
        throw AttncError.invalid("\(name): \(key) must be \(parameter.integer ? "an integer" : "a number") in \(bounds), got \(format(value))")
      }
      resolved[key] = value
    }
    for parameter in parameters where resolved[parameter.name] == nil { resolved[parameter.name] = parameter.defaultValue }
    for parameter in parameters where parameter.omittedAtDefault && resolved[parameter.name] == parameter.defaultValue {
      resolved[parameter.name] = nil
    }
    return VariantParameters(resolved)
  }

  /// `name` or `name:key=value,...`, keys sorted, choices by name (`softmax:prec=bf16`).
  public func text(_ values: [String: Double]) -> String {
    guard !values.isEmpty else { return name }
    let pairs = values.sorted { $0.key < $1.key }.map { key, value in
      "\(key)=" + (parameters.first { $0.name == key } ?? Parameter(key, default: 0, 0...0, help: "")).text(value)
    }
    return name + ":" + pairs.joined(separator: ",")
  }

  /// Whether this is exact attention in float32 (`softmax` without reduced precision or skipping).
  public func isExact(_ values: VariantParameters) -> Bool { name == "softmax" && values["prec"] == 0 && values["skip"] == 0 }

  /// The setting whose fitted weights price these parameters (`timedAs`, else this setting
  /// without its untimed parameters: `softmax:skip=8` is priced as `softmax` at its density).
  public func timedSetting(_ values: VariantParameters) -> String {
    timedAs?(values) ?? text(values.values.filter { key, _ in parameters.first { $0.name == key }?.timed ?? true })
  }

  /// Applies what `parameters` ask of the fused tiled kernel: precision and `tiledOptions`.
  public func configure(_ options: inout TiledAttention.Options, _ parameters: VariantParameters) {
    options.setPrecision(parameters)
    tiledOptions?(&options, parameters)
  }

  private func format(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
  }
}

/// A variant's resolved parameters (every declared one present).
public struct VariantParameters: Sendable, Equatable {
  public var values: [String: Double]

  public init(_ values: [String: Double]) { self.values = values }

  public subscript(_ name: String) -> Double { values[name] ?? 0 }

  public func int(_ name: String) -> Int { Int(values[name] ?? 0) }

  /// The value of a declared parameter: the variants read theirs through the constant that
  /// declares it (`p.int(Fastmax.degree)`), so a name is written once.
  public subscript(_ parameter: AttentionVariantDefinition.Parameter) -> Double { self[parameter.name] }

  public func int(_ parameter: AttentionVariantDefinition.Parameter) -> Int { int(parameter.name) }

  /// The seed for one head: the layer's recorded seed mixed with the head index.
  public func seed(head: Int) -> UInt64 { Self.mix(UInt64(values["seed"] ?? 0), head) }

  /// SplitMix64's finaliser of `base` advanced `index + 1` steps: independent-looking seeds
  /// for a layer's heads, or a model's layers.
  public static func mix(_ base: UInt64, _ index: Int) -> UInt64 {
    var z = base &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1)
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// The shape of one (batch, head) of an attention: `N` queries of depth `d` against `Nk` keys,
/// values of depth `dv`.
public struct AttentionShape: Sendable, Equatable {
  public var queries: Int
  public var keys: Int
  public var depth: Int
  public var valueDepth: Int
  public var causal: Bool
  /// The share of visible (query, key) pairs a sparse setting attends (measured on calibration
  /// inputs, `TileCounts`); 1 for dense attention.
  public var density: Double = 1

  public init(queries: Int, keys: Int, depth: Int, valueDepth: Int, causal: Bool = false) {
    self.queries = queries
    self.keys = keys
    self.depth = depth
    self.valueDepth = valueDepth
    self.causal = causal
  }
}

/// What one (batch, head) costs: multiply-adds count 2 FLOPs, exponentials are counted apart
/// (`../shared/docs/attention-variants.md` conventions); bytes are the float traffic to and from memory;
/// extra memory is what the kernel holds beyond Q, K, V and the output.
public struct AttentionCost: Sendable, Equatable {
  public var flops: Double
  public var exponentials: Double
  public var bytes: Double
  public var extraMemoryBytes: Double

  /// The cost of `count` such heads.
  public func times(_ count: Int) -> AttentionCost {
    let n = Double(count)
    return AttentionCost(flops: flops * n, exponentials: exponentials * n, bytes: bytes * n, extraMemoryBytes: extraMemoryBytes * n)
  }

  /// Reading Q, K, V and writing the output once, in bytes.
  static func operandBytes(_ s: AttentionShape) -> Double {
    4 * Double(s.queries * (s.depth + s.valueDepth) + s.keys * (s.depth + s.valueDepth))
  }
}

/// Every attention variant attnc implements, by name.
public enum AttentionVariants {
  public static let all: [AttentionVariantDefinition] = [
    .softmax, .performer, .linformer, .flurkaRandom, .flurkaPool, .flurkaElu, .fastmax, .scatterbrain, .nystrom,
    .blockSparse,
  ]

  /// - Throws: "unknown attention variant 'perfomer' (known: softmax, performer, …)".
  public static func named(_ name: String) throws -> AttentionVariantDefinition {
    guard let definition = all.first(where: { $0.name == name }) else {
      throw AttncError.invalid("unknown attention variant '\(name)' (known: \(all.map(\.name).joined(separator: ", ")))")
    }
    return definition
  }

  /// The variant a plan's `FusedAttention` call runs: its `dispatch` table's entry for `keys`
  /// keys when it has one, else `variant` with its `variant_<key>` parameters.
  /// - Throws: an unknown variant, or a parameter that is not a number or out of range.
  public static func of(kernelParameters parameters: [String: KernelParameter], keys: Int? = nil) throws -> (AttentionVariantDefinition, VariantParameters) {
    if let keys, case .string(let text)? = parameters["dispatch"] {
      return try parse(try AttentionDispatch(parsing: text).variant(forKeys: keys))
    }
    let definition = try named(try KernelParameters(parameters).string("variant", default: "softmax"))
    var values: [String: Double] = [:]
    for (key, value) in parameters where key.hasPrefix(variantPrefix) {
      guard case .float(let number) = value else { throw AttncError.invalid("kernel parameter '\(key)' is not a number") }
      values[String(key.dropFirst(variantPrefix.count))] = number
    }
    return (definition, try definition.resolve(values))
  }

  /// `name:key=value,...` as `definition.text` writes it (numbers for a variant not known).
  public static func text(_ name: String, _ values: [String: Double]) -> String {
    ((try? named(name)) ?? AttentionVariantDefinition(
      name: name, summary: "", parameters: [], supportsCausal: false,
      cost: { _, _ in AttentionCost(flops: 0, exponentials: 0, bytes: 0, extraMemoryBytes: 0) }, kernel: nil)).text(values)
  }

  /// Kernel parameters `variant_<key>` hold the variant's parameters.
  public static let variantPrefix = "variant_"

  /// A `FusedAttention` call's parameters with its variant replaced: `base` without its
  /// `variant`, `variant_<key>` and `dispatch` entries, then `variant` = `name` and each of
  /// `values` as `variant_<key>` (mask, scale, causality and softcap kept).
  public static func kernelParameters(
    _ base: [String: KernelParameter], variant name: String, values: [String: Double]
  ) -> [String: KernelParameter] {
    var result = base.filter { !$0.key.hasPrefix(variantPrefix) && $0.key != "dispatch" }
    result["variant"] = .string(name)
    for (key, value) in values { result[variantPrefix + key] = .float(value) }
    return result
  }

  /// Parses `NAME` or `NAME:key=value,...` (`performer:m=256`, `fastmax:p=1`).
  /// - Throws: a message naming the part that does not parse.
  public static func parse(_ text: String) throws -> (AttentionVariantDefinition, VariantParameters) {
    let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
    let definition = try named(String(parts[0]))
    var values: [String: Double] = [:]
    if parts.count == 2 {
      for pair in parts[1].split(separator: ",") {
        let kv = pair.split(separator: "=", maxSplits: 1)
        let key = kv.first.map { $0.filter { $0 != " " } } ?? ""
        let parameter = definition.parameters.first { $0.name == key }
        let choices = parameter?.choices ?? []
        let word = kv.count == 2 ? kv[1].filter { $0 != " " } : ""
        // A head set is always a list (`3` is head 3, as `text` prints it), never its bits.
        let number = parameter?.isHeadSet == true ? AttentionVariantDefinition.Parameter.headSet(word) : Double(word)
        guard kv.count == 2, let value = number ?? choices.firstIndex(of: word).map(Double.init) else {
          let expected = choices.isEmpty ? "key=number" : "\(key)=\(choices.joined(separator: "|"))"
          throw AttncError.invalid("variant parameter '\(pair)' in '\(text)' is not \(expected)")
        }
        values[key] = value
      }
    }
    return (definition, try definition.resolve(values))
  }
}
