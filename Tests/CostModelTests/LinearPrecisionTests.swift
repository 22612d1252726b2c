import AttncCost
import AttncKernels
import AttncKit
import AttncRuntime
import AttncTestSupport
import Foundation
import Testing

/// The cost model prices bfloat16 linear layers at the profile's bfloat16 GEMM rate, and
/// `--linear-precision auto` takes bf16 only when it is predicted faster and (outside fastest)
/// within the output-error budget.
@Suite struct LinearPrecisionTests {
  /// The fixture's profile with a bfloat16 GEMM `speedup` times its float32 rate.
  static func profile(bfloat16Speedup speedup: Double?) -> MachineProfile {
    var profile = CostModelFixture.profile()
    if let speedup {
      profile.bfloat16Gemm = profile.gemm.map { rate in
        var faster = rate
        faster.flopsPerSecond *= speedup
        return faster
      }
    }
    return profile
  }

  static func convert(_ choice: LinearPrecisionChoice?, policy: AttentionPolicy = .exact, speedup: Double? = 2,
                      maxOutputError: Double = 0.02) throws -> Compiler.Conversion {
    var options = ConversionOptions(policy: policy)
    options.linearPrecision = choice
    options.profilePath = try CostModelFixture.profilePath(profile(bfloat16Speedup: speedup))
    options.limits.maxOutputError = maxOutputError
    options.seqLen = .fixed(32)
    return try Compiler.convert(CostModelFixture.sampleModel, conversion: options)
  }

  @Test func bfloat16ProductsArePricedAtTheirOwnRate() throws {
    let f32 = try Self.convert(.f32).plan, bf16 = try Self.convert(.bf16).plan
    let profile = Self.profile(bfloat16Speedup: 2)
    func products(_ plan: Plan) -> Double {
      PlanCost.secondsByKernel(plan, bindings: plan.symbolBindings(batch: 1, sequence: 128), profile: profile)["PackedMatMul"] ?? 0
    }
    let call = try #require(bf16.instructions.lazy.compactMap { $0.call as? PackedMatMulCall }.first)
    #expect(call.cost(KernelShapes(inputs: [[128, 128]], constantInputs: [false], outputs: [[128, 64]])).product?.precision == .bfloat16)
    // Each call also pays its bytes and overhead, so a bit more than half.
    #expect(products(bf16) < 0.6 * products(f32) && products(bf16) > 0.4 * products(f32))
  }

  @Test func autoTakesBFloat16WithinTheBudgetWhenFaster() throws {
    let chosen = try Self.convert(.auto, policy: .balanced)
    #expect(chosen.linearPrecision.precision == .bfloat16, "\(chosen.linearPrecision.summary)")
    let error = try #require(chosen.linearPrecision.outputError)
    #expect(error > 0 && error <= 0.02)
    #expect(chosen.plan.instructions.compactMap { $0.call as? PackedMatMulCall }.allSatisfy { $0.operandPrecision == .bfloat16 })
    #expect(chosen.plan.options.contains("linear-precision=auto"))

    let tight = try Self.convert(.auto, policy: .balanced, maxOutputError: error / 2)
    #expect(tight.linearPrecision.precision == .float32 && tight.linearPrecision.reason.contains("> --max-output-error"))

    let slow = try Self.convert(.auto, policy: .balanced, speedup: nil)
    #expect(slow.linearPrecision.precision == .float32 && slow.linearPrecision.reason.contains("not predicted faster"))
  }

  @Test func fastestDefaultsToAutoWithoutAnErrorCheck() throws {
    let fastest = try Self.convert(nil, policy: .fastest)
    #expect(fastest.linearPrecision.precision == .bfloat16 && fastest.linearPrecision.outputError == nil)
    #expect(LinearPrecisionChoice.default(for: .exact) == .f32 && LinearPrecisionChoice.default(for: .accurate) == .f32)
    #expect(LinearPrecisionChoice.default(for: .balanced) == .auto)
    #expect(try Self.convert(nil, policy: .exact).linearPrecision.precision == .float32)
  }
}
