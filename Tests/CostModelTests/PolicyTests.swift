@testable import AttncCost
import AttncIR
import AttncKernels
import AttncKit
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// The policies on candidate lists, and the planner end to end on the bundled sample model
/// with a fixture machine profile.
struct PolicyTests {
  static let encoder = AttentionLayer(
    layer: 0, node: "attn", spec: AttentionSpec(qHeads: 4, kvHeads: 4, headDim: 64, valueDim: 64, scale: 0.125),
    queries: .symbol("seq"), keys: .symbol("seq"))
  static let decoder = AttentionLayer(
    layer: 0, node: "attn", spec: AttentionSpec(qHeads: 4, kvHeads: 4, headDim: 64, valueDim: 64, scale: 0.125, causal: true),
    queries: .symbol("seq"), keys: .symbol("seq"))

  static func candidates(_ layer: AttentionLayer, seqLen: Int, errors: [String: Double] = [:]) -> [AttentionCandidate] {
    AttentionCandidate.all(
      for: layer, seqLen: seqLen, profile: CostModelFixture.profile(), errors: errors.mapValues { ($0, "measured") })
  }

  @Test func fastestTakesTheLeastPredictedTimeTheLayerAllows() {
    var candidates = Self.candidates(Self.decoder, seqLen: 8192)
    let choice = AttentionPolicy.fastest.choose(&candidates, limits: .init())
    let allowed = candidates.filter { $0.definition.refusal(causal: true, mask: "none", softcap: 0) == nil }
    #expect(candidates[choice].predictedSeconds == allowed.compactMap(\.predictedSeconds).min())
    #expect(candidates[choice].definition.supportsCausal)
    #expect(candidates.filter { !$0.definition.supportsCausal }.allSatisfy { !$0.allowed })
  }

  @Test func balancedStaysWithinTheErrorBudget() {
    let errors = Dictionary(uniqueKeysWithValues: AttentionCandidate.settings.enumerated().map { ($1, 0.01 * Double($0 + 1)) })
    var candidates = Self.candidates(Self.encoder, seqLen: 8192, errors: errors)
    var limits = AttentionPolicy.Limits()
    limits.maxError = 0.035
    let choice = AttentionPolicy.balanced.choose(&candidates, limits: limits)
    let within = candidates.filter { $0.isExact || ($0.error ?? 1) <= 0.035 }
    #expect(candidates[choice].predictedSeconds == within.compactMap(\.predictedSeconds).min())
    #expect(candidates.filter { ($0.error ?? 0) > 0.035 }.allSatisfy { !$0.allowed && $0.refusal!.contains("--max-error") })
    // Without estimates nothing but exact attention is allowed.
    var unmeasured = Self.candidates(Self.encoder, seqLen: 8192)
    #expect(unmeasured[AttentionPolicy.balanced.choose(&unmeasured, limits: limits)].variant == "softmax")
  }

  /// `convert --to onnx`: settings only attnc's kernels run (reduced precision, skip-softmax,
  /// block-sparse) are ruled out with the reason; exact attention and the standard forms stay.
  @Test func standardONNXOnlyRulesOutSettingsWithoutAForm() {
    var candidates = Self.candidates(Self.encoder, seqLen: 8192, errors: Dictionary(uniqueKeysWithValues: AttentionCandidate.settings.map { ($0, 0.0) }))
    var limits = AttentionPolicy.Limits()
    limits.standardONNXOnly = true
    let choice = AttentionPolicy.fastest.choose(&candidates, limits: limits)
    #expect(candidates[choice].isExact || candidates[choice].definition.onnxForm != nil)
    let formless = candidates.filter { !$0.isExact && $0.definition.onnxForm == nil }
    #expect(formless.contains { TiledAttention.Precision($0.parameters) == .bfloat16 })
    #expect(formless.allSatisfy { $0.refusal == "no standard ONNX form (--to onnx)" })
    #expect(candidates.contains { !$0.isExact && $0.definition.onnxForm != nil && $0.allowed })
  }

  /// `balanced` approximates a layer only when the fastest allowed setting is predicted at least
  /// `minimumGain` (10%) faster than exact attention; otherwise the layer stays exact and that
  /// setting carries the reason.
  @Test func balancedKeepsShortSequencesExactWhenTheGainIsSmall() throws {
    let errors = Dictionary(uniqueKeysWithValues: AttentionCandidate.settings.map { ($0, 0.0) })
    // One approximation predicted at `fraction` of exact attention's time, the others slower.
    func choose(fraction: Double) throws -> (candidates: [AttentionCandidate], choice: Int, fast: Int) {
      var candidates = Self.candidates(Self.encoder, seqLen: 512, errors: errors)
      let exact = try #require(candidates.first { $0.isExact }?.predictedSeconds)
      let fast = try #require(candidates.firstIndex { !$0.isExact && $0.allowed })
      for index in candidates.indices where !candidates[index].isExact {
        candidates[index].predictedSeconds = exact * (index == fast ? fraction : 2)
      }
      let choice = AttentionPolicy.balanced.choose(&candidates, limits: .init())
      return (candidates, choice, fast)
    }
    let small = try choose(fraction: 1 - AttentionPolicy.minimumGain / 2)
    #expect(small.candidates[small.choice].variant == "softmax")
    #expect(small.candidates[small.fast].refusal == "predicted less than 10% faster than exact")
    let large = try choose(fraction: 1 - AttentionPolicy.minimumGain * 1.5)
    #expect(large.choice == large.fast)
    #expect(large.candidates[large.fast].allowed)

    // On the fixture profile's own predictions, 8 tokens stay exact: nothing is 10% faster.
    var short = Self.candidates(Self.encoder, seqLen: 8, errors: errors)
    let exact = try #require(short.first { $0.isExact }?.predictedSeconds)
    let best = try #require(short.compactMap(\.predictedSeconds).min())
    #expect(best > exact * (1 - AttentionPolicy.minimumGain), "fastest \(best) s vs exact \(exact) s")
    #expect(short[AttentionPolicy.balanced.choose(&short, limits: .init())].variant == "softmax")
  }

  @Test func accurateTakesTheLeastErrorWithinTheMemoryBudget() {
    let errors = ["performer": 0.3, "nystrom": 0.2, "fastmax:p=1": 0.25]
    var candidates = Self.candidates(Self.encoder, seqLen: 4096, errors: errors)
    #expect(candidates[AttentionPolicy.accurate.choose(&candidates, limits: .init())].variant == "softmax")
    // A budget below exact attention's tile buffers leaves the smallest-error variant that fits.
    var limits = AttentionPolicy.Limits()
    let softmaxMemory = candidates.first { $0.isExact }!.cost.extraMemoryBytes
    limits.memoryBudget = softmaxMemory - 1
    var tight = Self.candidates(Self.encoder, seqLen: 4096, errors: errors)
    let choice = AttentionPolicy.accurate.choose(&tight, limits: limits)
    let fitting = tight.filter { $0.error != nil && $0.cost.extraMemoryBytes <= softmaxMemory - 1 }
    if let best = fitting.min(by: { $0.error! < $1.error! }) {
      #expect(tight[choice].setting == best.setting)
    } else {
      #expect(tight[choice].variant == "softmax")
    }
  }

  @Test func exactPolicyAlwaysPicksSoftmax() {
    var candidates = Self.candidates(Self.decoder, seqLen: 65536)
    #expect(candidates[AttentionPolicy.exact.choose(&candidates, limits: .init())].setting == "softmax")
    #expect(candidates.first { $0.setting == "softmax:prec=bf16" }?.refusal == "the exact policy keeps exact attention")
  }

  /// Exact attention in bfloat16 is a candidate like any variant: `balanced` takes it where its
  /// measured error is within --max-error and it is predicted faster, and not under a tiny budget.
  @Test func balancedTakesBFloat16WithinTheBudget() throws {
    var errors = Dictionary(uniqueKeysWithValues: AttentionCandidate.settings.map { ($0, 0.5) })
    errors["softmax:prec=bf16"] = 0.002
    func choose(maxError: Double) throws -> AttentionCandidate {
      var candidates = Self.candidates(Self.encoder, seqLen: 4096, errors: errors)
      let exact = try #require(candidates.first { $0.isExact }?.predictedSeconds)
      let bf16 = try #require(candidates.firstIndex { $0.setting == "softmax:prec=bf16" })
      #expect(candidates[bf16].errorSource == "measured" && !candidates[bf16].isExact)
      candidates[bf16].predictedSeconds = exact * 0.55
      var limits = AttentionPolicy.Limits()
      limits.maxError = maxError
      return candidates[AttentionPolicy.balanced.choose(&candidates, limits: limits)]
    }
    #expect(try choose(maxError: 0.01).setting == "softmax:prec=bf16")
    #expect(try choose(maxError: 0.001).setting == "softmax")
  }

  /// Int8 Q·Kᵀ is one more precision candidate: `balanced` takes it where it is within
  /// --max-error and predicted fastest, bfloat16 under a budget only bfloat16 meets, exact under
  /// a tinier one.
  @Test func balancedTakesInt8WithinTheBudget() throws {
    var errors = Dictionary(uniqueKeysWithValues: AttentionCandidate.settings.map { ($0, 0.5) })
    (errors["softmax:prec=bf16"], errors["softmax:prec=int8"]) = (0.001, 0.004)
    func choose(maxError: Double) throws -> AttentionCandidate {
      var candidates = Self.candidates(Self.encoder, seqLen: 4096, errors: errors)
      let exact = try #require(candidates.first { $0.isExact }?.predictedSeconds)
      let bf16 = try #require(candidates.firstIndex { $0.setting == "softmax:prec=bf16" })
      let int8 = try #require(candidates.firstIndex { $0.setting == "softmax:prec=int8" })
      #expect(!candidates[int8].isExact && candidates[int8].cost.bytes < candidates[bf16].cost.bytes)
      (candidates[bf16].predictedSeconds, candidates[int8].predictedSeconds) = (exact * 0.55, exact * 0.4)
      var limits = AttentionPolicy.Limits()
      limits.maxError = maxError
      return candidates[AttentionPolicy.balanced.choose(&candidates, limits: limits)]
    }
    #expect(try choose(maxError: 0.01).setting == "softmax:prec=int8")
    #expect(try choose(maxError: 0.002).setting == "softmax:prec=bf16")
    #expect(try choose(maxError: 0.0005).setting == "softmax")
  }

  /// The end-to-end check takes an int8 layer back one precision at a time: to bfloat16 where the
  /// policy allowed it on the layer, then to exact.
  @Test func endToEndCheckStepsInt8DownToBFloat16() throws {
    var errors = Dictionary(uniqueKeysWithValues: AttentionCandidate.settings.map { ($0, 0.5) })
    (errors["softmax:prec=bf16"], errors["softmax:prec=int8"]) = (0.001, 0.004)
    var candidates = Self.candidates(Self.encoder, seqLen: 4096, errors: errors)
    var limits = AttentionPolicy.Limits()
    limits.maxError = 0.01
    _ = AttentionPolicy.balanced.choose(&candidates, limits: limits)
    var decision = LayerDecision(layer: 0, node: "attn", candidates: candidates, chosen: "softmax:prec=int8", reason: "", dispatch: nil)
    #expect(PolicyPlanner.steppedDown(decision) == "softmax:prec=bf16")
    decision.chosen = "softmax:prec=bf16"
    #expect(PolicyPlanner.steppedDown(decision) == nil)
    // bfloat16 over the budget: int8 goes straight back to exact.
    limits.maxError = 0.0005
    var tight = Self.candidates(Self.encoder, seqLen: 4096, errors: errors)
    _ = AttentionPolicy.balanced.choose(&tight, limits: limits)
    #expect(PolicyPlanner.steppedDown(LayerDecision(layer: 0, node: "attn", candidates: tight, chosen: "softmax:prec=int8", reason: "", dispatch: nil)) == nil)
  }

  /// Per-head choice: when bfloat16 is over the budget on the layer but within it on some heads,
  /// `balanced` runs those heads in bfloat16 and keeps the others float32.
  @Test func balancedChoosesPrecisionPerHead() throws {
    var errors = Dictionary(uniqueKeysWithValues: AttentionCandidate.settings.map { ($0, 0.5) })
    errors["softmax:prec=bf16"] = 0.18
    var candidates = AttentionCandidate.all(
      for: Self.encoder, seqLen: 4096, profile: CostModelFixture.profile(), errors: errors.mapValues { ($0, "measured") },
      headErrors: ["softmax:prec=bf16": [0.001, 0.2, 0.002, 0.3]])
    let exact = try #require(candidates.first { $0.isExact }?.predictedSeconds)
    let bf16 = try #require(candidates.firstIndex { $0.setting == "softmax:prec=bf16" })
    candidates[bf16].predictedSeconds = exact * 0.5
    var limits = AttentionPolicy.Limits()
    limits.maxError = 0.05
    let chosen = candidates[AttentionPolicy.balanced.choose(&candidates, limits: limits)]
    #expect(chosen.setting == "softmax:f32heads=1+3,prec=bf16")
    #expect(abs(chosen.error! - ((0.001 * 0.001 + 0.002 * 0.002) / 4).squareRoot()) < 1e-12)
    #expect(abs(chosen.predictedSeconds! - exact * 0.75) < exact * 1e-9)
    // No head within the budget: refused as a whole.
    limits.maxError = 0.0005
    var tight = AttentionCandidate.all(
      for: Self.encoder, seqLen: 4096, profile: CostModelFixture.profile(), errors: errors.mapValues { ($0, "measured") },
      headErrors: ["softmax:prec=bf16": [0.001, 0.2, 0.002, 0.3]])
    #expect(tight[AttentionPolicy.balanced.choose(&tight, limits: limits)].setting == "softmax")
  }

  /// Sparse settings are priced at their measured density (dense without one), and per head:
  /// `balanced` keeps block-sparse attention on the heads within the budget (`denseheads` for
  /// the others), the saving weighed by the kept heads' densities.
  @Test func balancedPricesSparsityAtItsDensityPerHead() throws {
    let setting = "blocksparse:tau=0.9"
    let errors: [String: (error: Double, source: String)] = [setting: (0.3, "measured")]
    let unmeasured = AttentionCandidate.all(for: Self.encoder, seqLen: 4096, profile: CostModelFixture.profile(), errors: errors)
    let exact = try #require(unmeasured.first { $0.isExact }?.predictedSeconds)
    let dense = try #require(unmeasured.first { $0.setting == setting }?.predictedSeconds)
    #expect(dense >= exact, "priced dense without a measured density")
    let densities = AttentionCandidate.Densities(layer: [setting: 0.4], heads: [setting: [0.1, 0.7, 0.1, 0.7]])
    var candidates = AttentionCandidate.all(
      for: Self.encoder, seqLen: 4096, profile: CostModelFixture.profile(), errors: errors,
      headErrors: [setting: [0.001, 0.2, 0.002, 0.3]], densities: densities)
    let sparse = try #require(candidates.first { $0.setting == setting })
    #expect(sparse.density == 0.4 && sparse.predictedSeconds! < exact * 0.7)
    var limits = AttentionPolicy.Limits()
    limits.maxError = 0.05
    let chosen = candidates[AttentionPolicy.balanced.choose(&candidates, limits: limits)]
    #expect(chosen.setting == "blocksparse:block=64,denseheads=1+3,tau=0.9")
    // Heads 0 and 2 hold 1.8 of the 2.4 of Σ(1 − ρ).
    let expected = exact + (sparse.predictedSeconds! - exact) * 1.8 / 2.4
    #expect(abs(chosen.predictedSeconds! - expected) < exact * 1e-9)
    #expect(chosen.headDensities == [0.1, 1, 0.1, 1] && abs(chosen.density! - 0.55) < 1e-12)
  }

  /// A sparse setting is priced from exact attention at its precision, scaled by its own
  /// kernel's fitted saving at the measured density: with fits whose overhead terms differ (this
  /// machine's: exact attention's overhead per serial head, block-sparse's per call), block-sparse
  /// with every block kept is still not predicted faster than exact, and `balanced` keeps exact
  /// attention on a 128-token layer of 12 heads; at density 0.4 it is predicted cheaper.
  @Test func sparseSettingsAreNeverCheaperThanExactAtDensityOne() throws {
    var profile = CostModelFixture.profile()
    profile.fits[MachineProfile.fitKey("softmax", causal: false)] = .init(
      coefficients: [1.62, 0.634, 0, 0, 51.1], points: 12, medianRatio: 1, worstRatio: 1.1)
    profile.fits[MachineProfile.fitKey("blocksparse:block=64,tau=1", causal: false)] = .init(
      coefficients: [1.61, 1.4, 0, 33.9, 0], points: 12, medianRatio: 1, worstRatio: 1.1)
    let layer = AttentionLayer(
      layer: 0, node: "attn", spec: AttentionSpec(qHeads: 12, kvHeads: 12, headDim: 32, valueDim: 32, scale: 0.18),
      queries: .symbol("seq"), keys: .symbol("seq"))
    let setting = "blocksparse:tau=0.9"
    let errors = [setting: (error: 0.0, source: "measured")]
    var candidates = AttentionCandidate.all(
      for: layer, seqLen: 128, profile: profile, errors: errors, densities: .init(layer: [setting: 1]))
    let exact = try #require(candidates.first { $0.isExact }?.predictedSeconds)
    let sparse = try #require(candidates.first { $0.setting == setting }?.predictedSeconds)
    // The block-sparse fit alone predicts it cheaper than exact attention.
    let (definition, parameters) = try AttentionVariants.parse(setting)
    let alone = profile.predictSeconds(
      definition, parameters, shape: layer.shape(seqLen: 128), heads: 12, setting: definition.timedSetting(parameters))
    #expect(alone < exact)
    #expect(sparse >= exact)
    #expect(candidates[AttentionPolicy.balanced.choose(&candidates, limits: .init())].setting == "softmax")
    let thinner = AttentionCandidate.all(
      for: layer, seqLen: 4096, profile: profile, errors: errors, densities: .init(layer: [setting: 0.4]))
    let exactLong = try #require(thinner.first { $0.isExact }?.predictedSeconds)
    #expect(try #require(thinner.first { $0.setting == setting }?.predictedSeconds) < exactLong * 0.7)
  }

  /// Per-head choice in int8: heads within the budget in int8 stay int8, the others run
  /// bfloat16 where their bfloat16 error is within it, float32 otherwise.
  @Test func balancedStepsInt8HeadsDownToBFloat16() throws {
    var errors = Dictionary(uniqueKeysWithValues: AttentionCandidate.settings.map { ($0, 0.5) })
    (errors["softmax:prec=bf16"], errors["softmax:prec=int8"]) = (0.15, 0.18)
    var candidates = AttentionCandidate.all(
      for: Self.encoder, seqLen: 4096, profile: CostModelFixture.profile(), errors: errors.mapValues { ($0, "measured") },
      headErrors: ["softmax:prec=bf16": [0.0005, 0.005, 0.001, 0.2], "softmax:prec=int8": [0.001, 0.02, 0.002, 0.3]])
    let exact = try #require(candidates.first { $0.isExact }?.predictedSeconds)
    let bf16 = try #require(candidates.firstIndex { $0.setting == "softmax:prec=bf16" })
    let int8 = try #require(candidates.firstIndex { $0.setting == "softmax:prec=int8" })
    (candidates[bf16].predictedSeconds, candidates[int8].predictedSeconds) = (exact * 0.6, exact * 0.4)
    var limits = AttentionPolicy.Limits()
    limits.maxError = 0.01
    let chosen = candidates[AttentionPolicy.balanced.choose(&candidates, limits: limits)]
    #expect(chosen.setting == "softmax:bf16heads=1,f32heads=3,prec=int8")
    #expect(abs(chosen.error! - ((0.001 * 0.001 + 0.005 * 0.005 + 0.002 * 0.002) / 4).squareRoot()) < 1e-12)
    // Two heads int8 (saving 0.6 each), one bf16 (0.4), one exact.
    #expect(abs(chosen.predictedSeconds! - exact * (1 - 0.6 * 0.5 - 0.4 * 0.25)) < exact * 1e-9)
    var options = TiledAttention.Options(scale: 1)
    options.setPrecision(chosen.parameters)
    #expect((0..<4).map(options.precision(ofHead:)) == [.int8, .bfloat16, .int8, .float32])
  }

  // MARK: - The planner on the bundled sample

  static func convert(_ configure: (inout ConversionOptions) -> Void) throws -> Compiler.Conversion {
    var options = ConversionOptions(policy: .balanced)
    options.profilePath = try CostModelFixture.profilePath()
    configure(&options)
    return try Compiler.convert(CostModelFixture.sampleModel, conversion: options)
  }

  static func run(_ plan: Plan, seq: Int) throws -> [HostTensor] {
    let inputs = try CalibrationInputs.synthetic(for: plan, bindings: plan.symbolBindings(batch: 1, sequence: seq))
    return try Interpreter(plan: plan).run(inputs.samples[0])
  }

  @Test func fastestPlanRecordsEveryCandidateAndRuns() throws {
    let conversion = try Self.convert { $0.policy = .fastest; $0.seqLen = .fixed(256) }
    let report = try #require(conversion.report)
    #expect(!report.layers.isEmpty)
    for layer in report.layers {
      let chosen = try #require(layer.chosenCandidate)
      #expect(chosen.predictedSeconds == layer.candidates.filter(\.allowed).compactMap(\.predictedSeconds).min())
      #expect(layer.candidates.contains { $0.errorSource == "synthetic" && $0.error != nil })
    }
    let decisions = conversion.plan.decisions
    #expect(decisions.count == report.layers.count)
    #expect(decisions.allSatisfy { $0.candidates.count == AttentionCandidate.weighed.count && $0.predictedMilliseconds > 0 })
    #expect(conversion.plan.options.contains("policy=fastest") && conversion.plan.options.contains("seq-len=256"))
    // The plan survives the file format with its candidates.
    let bytes = try PlanFile.encode(conversion.plan)
    let reread = try bytes.withUnsafeBytes { try PlanFile.decode($0) }
    #expect(reread.decisions == decisions)
    #expect(try Self.run(conversion.plan, seq: 256).count == conversion.plan.outputs.count)
  }

  @Test func balancedWithNoErrorBudgetIsTheExactPlan() throws {
    let conversion = try Self.convert { $0.limits.maxError = 0; $0.seqLen = .fixed(128) }
    let report = try #require(conversion.report)
    #expect(report.layers.allSatisfy { $0.chosen == "softmax" })
    #expect(report.outputError == 0)
  }

  @Test func endToEndCheckRevertsLayersUntilTheOutputsAreWithinTheLimit() throws {
    let conversion = try Self.convert {
      $0.limits.maxError = 1e9
      $0.limits.maxOutputError = 0
      $0.seqLen = .fixed(512)
    }
    let report = try #require(conversion.report)
    // Everything approximated was put back (an output error of exactly 0 needs exact attention).
    #expect(report.outputError == 0)
    #expect(report.layers.allSatisfy { $0.chosen == "softmax" })
    #expect(!report.reverted.isEmpty)
    #expect(report.layers.filter { report.reverted.contains($0.layer) }.allSatisfy { $0.reason.hasPrefix("reverted to exact") })
  }

  @Test func autoDispatchRunsTheVariantItsTableNamesAtEachLength() throws {
    let conversion = try Self.convert { $0.policy = .fastest; $0.seqLen = .auto }
    let tables = conversion.plan.instructions.compactMap { instruction -> AttentionDispatch? in
      guard let text = (instruction.call as? FusedAttentionCall)?.dispatch else { return nil }
      return try? AttentionDispatch(parsing: text)
    }
    let table = try #require(tables.first, "the fixture profile predicts a crossover on the sample's layers")
    // At each length the dispatched plan equals the plan forced to that entry's variant.
    for seq in [8, 64, 512] where seq <= 512 {
      let variant = table.variant(forKeys: seq)
      let forced = try Self.convert { $0.policy = .fastest; $0.variant = variant }
      let a = try Self.run(conversion.plan, seq: seq), b = try Self.run(forced.plan, seq: seq)
      for (x, y) in zip(a, b) { #expect(x.floats() == y.floats(), "seq \(seq), \(variant)") }
    }
  }
}
