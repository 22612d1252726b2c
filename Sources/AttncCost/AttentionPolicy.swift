import AttncKernels
import AttncTensor

/// How `attnc convert --policy` trades time for accuracy, per attention layer.
public enum AttentionPolicy: String, CaseIterable, Sendable {
  /// Fused exact attention everywhere.
  case exact
  /// Least predicted time, whatever the error (still honouring each layer's mask).
  case fastest
  /// Least predicted time with error within `--max-error`, then an end-to-end check.
  case balanced
  /// Least error within `--memory-budget`.
  case accurate

  /// The limits a policy works within.
  public struct Limits: Sendable, Equatable {
    /// Largest relative attention-output error per layer (`balanced`).
    public var maxError = 0.05
    /// Largest relative error of the model's outputs on the calibration inputs (`balanced`).
    public var maxOutputError = 0.02
    /// Largest extra memory per attention call, in bytes (`accurate`); nil = no limit.
    public var memoryBudget: Double?
    /// Only settings with a standard ONNX form (`convert --to onnx`): reduced precision and
    /// skip-softmax, which only attnc's kernels run, are ruled out.
    public var standardONNXOnly = false
    public init() {}
  }

  /// The least predicted saving for which `balanced` approximates a layer.
  public static let minimumGain = 0.1

  /// Marks what the policy rules out (with the reason) and returns the index of its choice.
  /// Exact attention is always a candidate, so there is always a choice.
  public func choose(_ candidates: inout [AttentionCandidate], limits: Limits) -> Int {
    let exactSeconds = candidates.first { $0.isExact }?.predictedSeconds
    if limits.standardONNXOnly {
      for index in candidates.indices where !candidates[index].isExact && candidates[index].definition.onnxForm == nil {
        candidates[index].refusal = "no standard ONNX form (--to onnx)"
      }
    }
    // The bfloat16 setting as measured: int8's per-head form runs it on the heads int8 does not fit.
    let bfloat16 = candidates.first { $0.variant == "softmax" && TiledAttention.Precision($0.parameters) == .bfloat16 && $0.allowed }
    for index in candidates.indices where candidates[index].refusal == nil {
      let candidate = candidates[index]
      switch self {
      case .exact:
        if !candidate.isExact { candidates[index].refusal = "the exact policy keeps exact attention" }
      case .fastest:
        break
      case .balanced:
        if let error = candidate.error {
          // Per-head choice: a precision setting over --max-error on the layer may still hold on
          // some of its heads.
          if error > limits.maxError,
            let heads = candidate.keepingHeads(within: limits.maxError, exactSeconds: exactSeconds, fallback: bfloat16)
          {
            candidates[index] = heads
          } else if error > limits.maxError {
            candidates[index].refusal = "error \(format(error)) > --max-error \(format(limits.maxError))"
          }
        } else {
          candidates[index].refusal = "error not estimated"
        }
      case .accurate:
        if let budget = limits.memoryBudget, candidate.cost.extraMemoryBytes > budget {
          candidates[index].refusal = "extra memory \(Int(candidate.cost.extraMemoryBytes)) B > --memory-budget \(Int(budget)) B"
        } else if candidate.error == nil {
          candidates[index].refusal = "error not estimated"
        }
      }
    }
    let allowed = candidates.indices.filter { candidates[$0].allowed }
    let exact = candidates.firstIndex { $0.isExact } ?? 0
    func time(_ index: Int) -> Double { candidates[index].predictedSeconds ?? .infinity }
    switch self {
    case .exact:
      return exact
    case .fastest:
      return allowed.min { time($0) < time($1) } ?? exact
    case .balanced:
      // An approximation must pay for its error: predicted at least `minimumGain` faster
      // than exact attention, else the layer stays exact (short sequences).
      guard let best = allowed.min(by: { time($0) < time($1) }), best != exact else { return exact }
      if time(best) > time(exact) * (1 - Self.minimumGain) {
        candidates[best].refusal = "predicted less than \(Int(Self.minimumGain * 100))% faster than exact"
        return exact
      }
      return best
    case .accurate:
      return allowed.min { (candidates[$0].error ?? .infinity, time($0)) < (candidates[$1].error ?? .infinity, time($1)) } ?? exact
    }
  }

  private func format(_ value: Double) -> String {
    let text = String(value)
    return text.count > 6 ? String(Double(Int((value * 10000).rounded())) / 10000) : text
  }
}

/// `--layers 0-3:scatterbrain,4-:softmax`: variants forced on ranges of attention layers.
public struct LayerOverrides: Sendable, Equatable {
  public struct Entry: Sendable, Equatable {
    public var first: Int
    /// nil = to the last layer.
    public var last: Int?
    public var variant: String
  }

  public var entries: [Entry]

  /// Parses `RANGE:VARIANT[,RANGE:VARIANT...]`, where RANGE is `N`, `A-B` or `A-` and VARIANT
  /// is `NAME[:key=value,...]` (its own commas belong to it).
  /// - Throws: `.usage` naming the malformed part or unknown variant.
  public init(parsing text: String) throws {
    var groups: [String] = []
    for piece in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
      if Self.startsWithRange(piece) || groups.isEmpty { groups.append(piece) } else { groups[groups.count - 1] += "," + piece }
    }
    entries = try groups.map { group in
      let parts = group.split(separator: ":", maxSplits: 1).map(String.init)
      guard parts.count == 2, Self.startsWithRange(group) else {
        throw AttncError(.usage, "--layers '\(group)' is not RANGE:VARIANT (e.g. 0-3:scatterbrain,4-:softmax)")
      }
      let bounds = parts[0].split(separator: "-", omittingEmptySubsequences: false)
      guard let first = Int(bounds[0]), bounds.count <= 2 else { throw AttncError(.usage, "--layers range '\(parts[0])' is not N, A-B or A-") }
      var last: Int? = first
      if bounds.count == 2 {
        if bounds[1].isEmpty { last = nil } else {
          guard let value = Int(bounds[1]), value >= first else { throw AttncError(.usage, "--layers range '\(parts[0])' is not N, A-B or A-") }
          last = value
        }
      }
      do { _ = try AttentionVariants.parse(parts[1]) } catch let error as AttncError {
        throw AttncError(.usage, "--layers '\(group)': \(error.message)")
      }
      return Entry(first: first, last: last, variant: parts[1])
    }
  }

  /// The variant forced on `layer` (the last entry that covers it wins), or nil.
  public func variant(for layer: Int) -> String? {
    entries.last { layer >= $0.first && layer <= ($0.last ?? Int.max) }?.variant
  }

  private static func startsWithRange(_ text: String) -> Bool {
    guard let colon = text.firstIndex(of: ":") else { return false }
    let head = text[..<colon]
    return !head.isEmpty && head.allSatisfy { $0.isNumber || $0 == "-" } && head.first!.isNumber
  }
}
