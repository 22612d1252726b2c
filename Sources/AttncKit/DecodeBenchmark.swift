import AttncCost
import AttncKernels
import AttncRuntime
import AttncTensor
import Foundation

/// Decoding with a KV cache, for `attnc bench decode`: prefill a prompt, then run single-token
/// steps, each step's present keys and values fed back as the next step's past (in compute
/// form, never converted) and its greedy token (the last row's largest logit) as the next input.
public enum DecodeBenchmark {
  /// What each of a decoder's inputs and outputs is, found by name and shape.
  public struct Roles: Sendable {
    /// The token ids input, `[B, S]` integers.
    public var tokens: Int
    /// `attention_mask`, `[B, past + S]`, when the model takes one.
    public var mask: Int?
    /// `position_ids`, `[B, S]`, when the model takes them.
    public var positions: Int?
    /// Each past input (`[B, H, past, d]`) with the output that holds its present.
    public var cache: [(input: Int, output: Int)]
    /// The logits output (`[B, S, vocabulary]`), when there is one.
    public var logits: Int?
  }

  /// One run: prefill times and the time of every decode step, in milliseconds.
  public struct Result: Sendable {
    public var prefill: Int
    public var prefillMilliseconds: [Double]
    public var stepMilliseconds: [Double]
    /// The prompt's greedy continuation, one token per step.
    public var tokens: [Int64]
    /// Seconds per kernel of the last prefill and summed over the decode steps (with `profile`).
    public var prefillProfile: [String: Double] = [:]
    public var stepProfile: [String: Double] = [:]

    public var prefillMedian: Double { prefillMilliseconds.median }
    public var stepMedian: Double { stepMilliseconds.median }
  }

  /// Finds the roles of `plan`'s inputs and outputs: past inputs (float, rank 4, named `past…`)
  /// pair in order with present outputs (named `present…`) of the same rank.
  /// - Throws: `.usage` when the plan has no token input or no past/present pairs.
  public static func roles(_ plan: Plan) throws -> Roles {
    func name(_ slot: Int) -> String { plan.slots[slot].name.lowercased() }
    let integers = plan.inputs.indices.filter { !plan.slots[plan.inputs[$0]].dtype.isFloatingPoint }
    let mask = integers.first { name(plan.inputs[$0]).contains("mask") }
    let positions = integers.first { name(plan.inputs[$0]).contains("position") }
    guard let tokens = integers.first(where: { $0 != mask && $0 != positions && plan.slots[plan.inputs[$0]].dims.count == 2 })
    else { throw AttncError(.usage, "the model has no [batch, seq] token input to decode with") }
    let past = plan.inputs.indices.filter {
      name(plan.inputs[$0]).contains("past") && plan.slots[plan.inputs[$0]].dtype.isFloatingPoint
        && plan.slots[plan.inputs[$0]].dims.count == 4
    }
    let present = plan.outputs.indices.filter { name(plan.outputs[$0]).contains("present") && plan.slots[plan.outputs[$0]].dims.count == 4 }
    guard !past.isEmpty, past.count == present.count else {
      throw AttncError(.usage, "decoding needs past inputs paired with present outputs ([B, H, L, d], named past… and present…); the model has \(past.count) and \(present.count)")
    }
    let logits = plan.outputs.indices.first { !present.contains($0) && plan.slots[plan.outputs[$0]].dims.count == 3 }
    return Roles(tokens: tokens, mask: mask, positions: positions, cache: Array(zip(past, present)), logits: logits)
  }

  /// Prefills `prefill` tokens `repeats` times (each from an empty cache), then runs `steps`
  /// decode steps from the last prefill.
  /// - Throws: `.usage` when a past input has a symbolic head count or size; kernel errors.
  public static func run(
    _ plan: Plan, interpreter: Interpreter, prefill: Int, steps: Int, repeats: Int, profile: Bool = false
  ) throws -> Result {
    let roles = try roles(plan)
    var generator = SplitMix(seed: 0x5EED)
    let prompt = (0..<prefill).map { _ in Int64(generator.next() % 100) }
    var prefillTimes: [Double] = []
    var outputs: [Tensor] = []
    for _ in 0..<max(1, repeats) {
      let inputs = try stepInputs(plan, roles, tokens: prompt, start: 0, cache: nil)
      let start = DispatchTime.now().uptimeNanoseconds
      outputs = try interpreter.run(tensors: inputs, profile: profile)
      prefillTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
    }
    let prefillProfile = interpreter.profile
    var stepProfile: [String: Double] = [:]
    var stepTimes: [Double] = []
    var generated: [Int64] = []
    for step in 0..<steps {
      let token = roles.logits.map { greedyToken(outputs[$0]) } ?? 0
      generated.append(token)
      let cache = roles.cache.map { outputs[$0.output] }
      let inputs = try stepInputs(plan, roles, tokens: [token], start: prefill + step, cache: cache)
      outputs = []
      let start = DispatchTime.now().uptimeNanoseconds
      outputs = try interpreter.run(tensors: inputs, profile: profile)
      stepTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
      if profile { stepProfile.merge(interpreter.profile, uniquingKeysWith: +) }
    }
    var result = Result(prefill: prefill, prefillMilliseconds: prefillTimes, stepMilliseconds: stepTimes, tokens: generated)
    if profile { (result.prefillProfile, result.stepProfile) = (prefillProfile, stepProfile) }
    return result
  }

  /// The inputs of one step of batch 1: `tokens` at positions `start…`, a mask of ones over
  /// `start + tokens.count` keys, and the cache (empty past tensors when nil).
  public static func stepInputs(_ plan: Plan, _ roles: Roles, tokens: [Int64], start: Int, cache: [Tensor]?) throws -> [Tensor] {
    var inputs = [Tensor?](repeating: nil, count: plan.inputs.count)
    let tokenType = plan.slots[plan.inputs[roles.tokens]].dtype
    inputs[roles.tokens] = .int(tokens, [1, tokens.count], dtype: tokenType)
    if let mask = roles.mask {
      let total = start + tokens.count
      inputs[mask] = .int([Int64](repeating: 1, count: total), [1, total], dtype: plan.slots[plan.inputs[mask]].dtype)
    }
    if let positions = roles.positions {
      let values = (0..<tokens.count).map { Int64(start + $0) }
      inputs[positions] = .int(values, [1, tokens.count], dtype: plan.slots[plan.inputs[positions]].dtype)
    }
    for (index, pair) in roles.cache.enumerated() {
      if let cache {
        inputs[pair.input] = cache[index]
        continue
      }
      let slot = plan.slots[plan.inputs[pair.input]]
      guard let heads = slot.dims[1].value, let depth = slot.dims[3].value else {
        throw AttncError(.usage, "past input '\(slot.name)' has symbolic heads or head size \(slot.dims.shapeDescription)")
      }
      inputs[pair.input] = .float([Float](), [1, heads, 0, depth], dtype: slot.dtype)
    }
    return try inputs.enumerated().map { index, tensor in
      guard let tensor else {
        throw AttncError(.usage, "decoding does not know what to feed input '\(plan.slots[plan.inputs[index]].name)'")
      }
      return tensor
    }
  }

  /// The largest logit of the last row of `[B, S, V]` logits (batch 0).
  static func greedyToken(_ logits: Tensor) -> Int64 {
    guard logits.rank == 3, let vocabulary = logits.shape.last, vocabulary > 0 else { return 0 }
    let base = (logits.shape[1] - 1) * vocabulary
    var best = 0
    for index in 1..<vocabulary where logits.floats[base + index] > logits.floats[base + best] { best = index }
    return Int64(best)
  }
}
