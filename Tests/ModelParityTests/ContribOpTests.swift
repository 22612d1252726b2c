import AttncCost
import AttncKernels
import AttncKit
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// ONNX Runtime contrib ops (`com.microsoft`) from import to the interpreter, each against a
/// plain Double formula.
@Suite struct ContribOpTests {
  /// Converts a one-node model of `type` in the `com.microsoft` domain over `x` [2, 5] and
  /// runs it.
  static func run(_ type: String, inputs: [Float]) throws -> (plan: Plan, output: [Float]) {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try OnnxBuilder()
      .input("x", ["2", "5"])
      .node(type, ["x"], ["y"], domain: "com.microsoft")
      .output("y")
      .with(opsets: [("", 17), ("com.microsoft", 1)])
      .write(to: dir)
    var options = ConversionOptions()
    options.policy = .exact
    let plan = try Compiler.convert(path, conversion: options).plan
    let output = try Interpreter(plan: plan).run([HostTensor(floats: inputs, shape: [2, 5])])
    return (plan, Tensor(output[0]).floats.owned)
  }

  static let x: [Float] = [-4, -2, -1, -0.5, -0.1, 0, 0.1, 0.5, 1, 3]

  @Test func quickGeluIsXTimesSigmoidOfAlphaX() throws {
    let (plan, y) = try Self.run("QuickGelu", inputs: Self.x)
    #expect(plan.instructions.map(\.kernel) == ["Swish"])
    for (value, result) in zip(Self.x, y) {
      let v = Double(value)
      let expected = v / (1 + exp(-1.702 * v))
      #expect(abs(Double(result) - expected) <= 1e-6 + 1e-5 * abs(expected), "x = \(value)")
    }
  }

  @Test func quickGeluRefusesIntegerInputs() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try OnnxBuilder()
      .input("x", dataType: 7, ["3"])
      .node("QuickGelu", ["x"], ["y"], domain: "com.microsoft")
      .output("y", dataType: 7)
      .with(opsets: [("", 17), ("com.microsoft", 1)])
      .write(to: dir)
    #expect {
      _ = try ModelLoader.load(path)
    } throws: { error in
      "\(error)".contains("input 'X' must be floating-point, got int64")
    }
  }
}
