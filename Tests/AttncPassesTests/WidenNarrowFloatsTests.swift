import AttncIR
import AttncKit
import AttncONNX
import AttncPasses
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// `widen-narrow-floats`: a float16 or bfloat16 graph computes in float32, its weights converted
/// once, its inputs and outputs keeping their declared types through Casts.
@Suite struct WidenNarrowFloatsTests {
  static let weights: [Double] = [0.5, -1.25, 2, 0.125, 1, -0.5, 0.25, 3, -2, 1.5, 0.75, -0.25]

  /// `x: narrow[2, 4] · w: narrow[4, 3] → h` (a graph output, also read on), `Cast(h → float32)`,
  /// `Relu`, `Cast(→ narrow) → y`: the spellings ONNX Runtime's float16 converter and torch's
  /// half exports write.
  static func model(_ narrow: DType) -> OnnxBuilder {
    let type = Int64(narrow.rawValue)
    let w = HostTensor(dtype: narrow, shape: [4, 3], converting: weights)
    return OnnxBuilder()
      .input("x", dataType: type, ["2", "4"])
      .initializer(.init(name: "w", dataType: type, dims: [4, 3], raw: Array(w.storage.bytes)))
      .node("MatMul", ["x", "w"], ["h"], name: "matmul")
      .node("Cast", ["h"], ["h32"], name: "to_float", attributes: [("to", 1)])
      .node("Relu", ["h32"], ["r"], name: "relu")
      .node("Cast", ["r"], ["y"], name: "to_narrow", attributes: [("to", type)])
      .output("y", dataType: type, ["2", "3"])
      .output("h", dataType: type, ["2", "3"])
  }

  static func load(_ builder: OnnxBuilder) throws -> (LoadedModel, String, URL) {
    let directory = try Fixtures.temporaryDirectory()
    let path = try builder.write(to: directory)
    return (try ModelLoader.load(path), path, directory)
  }

  @Test(arguments: [DType.float16, .bfloat16])
  func computesInFloat32AndKeepsTheDeclaredTypesOutside(narrow: DType) throws {
    let (model, _, directory) = try Self.load(Self.model(narrow))
    defer { try? FileManager.default.removeItem(at: directory) }
    let graph = model.canonical
    #expect(graph.inputs.map { graph.values[$0].type?.dtype } == [narrow])
    #expect(graph.outputs.map { graph.values[$0].type?.dtype } == [narrow, narrow])
    #expect(graph.outputs.map { graph.values[$0].name } == ["y", "h"])
    // Inside, only the boundary casts touch the narrow type.
    let matmul = try #require(graph.nodes.first { $0.opType == "MatMul" })
    #expect(matmul.inputs.compactMap { $0.flatMap { graph.values[$0].type?.dtype } } == [.float, .float])
    #expect(graph.values[matmul.inputs[1]!].constant?.dtype == .float)
    let narrowCasts = graph.nodes.filter { ($0.op as? Cast)?.to == narrow }
    #expect(narrowCasts.count == 2, "one per output: \(graph.nodes.map(\.name))")
    #expect(graph.nodes.filter { ($0.op as? Cast)?.to == .float }.count == 1, "the input's")
    // x, w and h (now computed in float32, cast back for the output): three values widened.
    #expect(model.report.hits.first { $0.pass == "widen-narrow-floats" }?.count == 3)
    #expect(WidenNarrowFloats.narrowTypes(in: model.imported) == [narrow])
  }

  @Test func runningTheCanonicalGraphAgainChangesNothing() throws {
    let (model, _, directory) = try Self.load(Self.model(.float16))
    defer { try? FileManager.default.removeItem(at: directory) }
    var graph = model.canonical
    let report = try Canonicalize.pipeline.run(&graph)
    #expect(report.hits.allSatisfy { $0.count == 0 }, "\(report.hits)")
    #expect(graph.nodes.map(\.name) == model.canonical.nodes.map(\.name))
  }

  /// The plan gives the float32 product rounded once at each output, and records that the model
  /// computes in float16 so `run --test-data` compares by the low-precision rule.
  @Test(arguments: [DType.float16, .bfloat16])
  func theRoundedFloat32Result(narrow: DType) throws {
    let (_, path, directory) = try Self.load(Self.model(narrow))
    defer { try? FileManager.default.removeItem(at: directory) }
    let plan = try Compiler.plan(path).plan
    #expect(plan.sourcePrecision == narrow.description)
    #expect(ParityRule.forPlan(plan).kind == .relativeFrobenius(limit: 1e-2))
    let xs: [Double] = [1, -2, 0.5, 3, -1, 0.25, 2, -0.75]
    let x = HostTensor(dtype: narrow, shape: [2, 4], converting: xs)
    let outputs = try Interpreter(plan: plan).run([x])
    let x32 = x.doubles(), w32 = HostTensor(dtype: narrow, shape: [4, 3], converting: Self.weights).doubles()
    var product = [Double](repeating: 0, count: 6)
    for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { product[i * 3 + j] += x32[i * 4 + k] * w32[k * 3 + j] } } }
    let rounded = HostTensor(dtype: narrow, shape: [2, 3], converting: product)
    let relu = HostTensor(dtype: narrow, shape: [2, 3], converting: product.map { max($0, 0) })
    #expect(outputs.map(\.dtype) == [narrow, narrow])
    #expect(outputs[0].doubles() == relu.doubles())
    #expect(outputs[1].doubles() == rounded.doubles())
  }

  /// ONNX Runtime's float16 converter of a BERT export lowers to the kernels of the float32
  /// export (GELU fused though its √2 is float16's 1.4140625, biases in the products' epilogues),
  /// plus the Cast back to float16 at the output when the outputs are float16.
  @Test(.enabled(if: Fixtures.exportsAvailable, Comment(rawValue: Fixtures.exportsMissing)))
  func aFloat16ExportLowersToTheKernelsOfItsFloat32Source() throws {
    func kernels(_ name: String) throws -> [String: Int] {
      let plan = try Compiler.plan(Fixtures.exports.appendingPathComponent("\(name)/model.onnx").path).plan
      return plan.instructions.reduce(into: [:]) { $0[$1.kernel, default: 0] += 1 }
    }
    let float32 = try kernels("bert_eager_legacy")
    var float16 = try kernels("bert_float16_legacy")
    #expect(float16.removeValue(forKey: "Cast") == 1)
    #expect(float16 == float32)
    #expect(try kernels("bert_float16io32_legacy") == float32)
  }

  @Test func aFloat32ModelIsLeftAlone() throws {
    let builder = OnnxBuilder().input("x", ["2"]).node("Neg", ["x"], ["y"]).output("y")
    let (model, path, directory) = try Self.load(builder)
    defer { try? FileManager.default.removeItem(at: directory) }
    #expect(model.report.hits.first { $0.pass == "widen-narrow-floats" }?.count == 0)
    #expect(try Compiler.plan(path).plan.sourcePrecision.isEmpty)
  }
}
