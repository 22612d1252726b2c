import AttncCost
import AttncKernels
import AttncKit
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// `--linear-precision bf16` on shared models: every linear layer and convolution packed as
/// bfloat16 (half the weight bytes), the plan's outputs within 1e-2 (relative, over each output) of ONNX Runtime's,
/// the same on the plain C path, and the precision kept through the plan file.
@Suite(.serialized) struct BFloat16LinearTests {
  static func convert(_ path: String, _ precision: LinearPrecisionChoice) throws -> Plan {
    var options = ConversionOptions(policy: .exact)
    options.linearPrecision = precision
    return try Compiler.convert(path, conversion: options).plan
  }

  static func packedBytes(_ plan: Plan) -> Int {
    plan.instructions.filter { ["PackedMatMul", "PackedConvolution"].contains($0.kernel) }.compactMap { $0.inputs[1] }
      .reduce(0) { total, slot in
      total + (plan.constants[slot]?.storage.count ?? 0)
    }
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)),
        arguments: ["bert_mini_legacy", "vit_tiny_legacy"])
  func staysWithinOnePercentOfOnnxRuntime(model: String) throws {
    let path = Fixtures.model(model)
    let data = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("test_data_set_0")
    let float32 = try Self.convert(path, .f32), bfloat16 = try Self.convert(path, .bf16)
    let linear = bfloat16.instructions.compactMap { $0.call as? PackedMatMulCall }
    #expect(!linear.isEmpty && linear.allSatisfy { $0.operandPrecision == .bfloat16 })
    #expect(float32.instructions.compactMap { $0.call as? PackedMatMulCall }.allSatisfy { $0.precision == nil })
    // Half the packed weight bytes (a little more where a depth is odd).
    #expect(Double(Self.packedBytes(bfloat16)) <= 0.51 * Double(Self.packedBytes(float32)))
    let convolutions = bfloat16.instructions.compactMap { $0.call as? PackedConvolutionCall }
    #expect(convolutions.allSatisfy { $0.precision == .bfloat16 })
    #expect(model != "vit_tiny_legacy" || !convolutions.isEmpty, "the patch embedding runs on the packed GEMM")

    let inputs = try bfloat16.inputs.indices.map { try TensorFiles.readProto(data.appendingPathComponent("input_\($0).pb").path) }
    let dot = try Interpreter(plan: bfloat16).run(inputs)
    let exact = try Interpreter(plan: float32).run(inputs)
    setenv("ATTNC_GEMM_NO_BF16_DOT", "1", 1)
    let plain = try Interpreter(plan: bfloat16).run(inputs)
    unsetenv("ATTNC_GEMM_NO_BF16_DOT")
    var compared = 0
    for index in dot.indices {
      let file = data.appendingPathComponent("output_\(index).pb").path
      guard FileManager.default.fileExists(atPath: file) else { continue }
      let expected = try TensorFiles.readProto(file).floats()[...]
      let error = AttentionQuality.relativeError(dot[index].floats()[...], expected)
      #expect(error < 1e-2, "output \(index): bf16 error \(error) against ONNX Runtime")
      // It did round: float32's error is far smaller.
      #expect(AttentionQuality.relativeError(exact[index].floats()[...], expected) < error / 10)
      #expect(AttentionQuality.relativeError(plain[index].floats()[...], dot[index].floats()[...]) < 1e-5)
      compared += 1
    }
    #expect(compared > 0)

    // The precision survives the plan file.
    try Fixtures.withTemporaryDirectory { folder in
      let file = folder.appendingPathComponent("bf16.attnc").path
      try PlanFile.write(bfloat16, to: file)
      let read = try PlanFile.read(file)
      #expect(read.instructions.compactMap { $0.call as? PackedMatMulCall }.map(\.operandPrecision) == linear.map(\.operandPrecision))
      #expect(try Interpreter(plan: read).run(inputs).map { $0.floats() } == dot.map { $0.floats() })
    }
  }
}
