import AttncIR
import AttncKit
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// Imports and canonicalizes every model of the ONNX node-test suite (`shared/onnx-node`) and
/// checks the inferred output types against the reference outputs' dtypes and dims.
@Suite struct NodeTestShapeTests {
  static let cases = Fixtures.nodeTestNames

  @Test(
    .enabled(if: Fixtures.nodeTestsAvailable, Comment(rawValue: Fixtures.nodeTestsMissing)),
    arguments: cases)
  func inferredOutputsMatchReference(test: String) throws {
    let shared = try #require(Fixtures.shared)
    let folder = shared.appendingPathComponent("onnx-node/\(test)")
    let model = try ModelLoader.load(folder.appendingPathComponent("model.onnx").path)
    try ModelLoader.checkSupported(model.imported)
    // `attnc inspect --format json` of every node-test model parses.
    let json = ModelSummary(model).json.rendered()
    #expect((try? JSONSerialization.jsonObject(with: Data(json.utf8))) != nil, "inspect JSON does not parse")
    let data = folder.appendingPathComponent("test_data_set_0")
    var bindings: [String: Int] = [:]
    for (index, input) in model.canonical.inputs.enumerated() {
      let path = data.appendingPathComponent("input_\(index).pb").path
      guard let type = model.canonical.values[input].type,
        FileManager.default.fileExists(atPath: path),
        let tensor = try? TensorFiles.readProto(path)
      else { continue }
      for (dim, actual) in zip(type.dims, tensor.shape) {
        if dim.symbols.count == 1, dim == .symbol(dim.symbols.first ?? "") {
          bindings[dim.symbols.first ?? ""] = actual
        }
      }
    }
    for (index, output) in model.canonical.outputs.enumerated() {
      let path = data.appendingPathComponent("output_\(index).pb").path
      guard FileManager.default.fileExists(atPath: path),
        let expected = try? TensorFiles.readProto(path)
      else { continue }
      let value = model.canonical.values[output]
      if value.nonTensorType != nil { continue }
      let type = try #require(value.type, "output \(index) '\(value.name)' has no inferred type")
      #expect(type.dtype == expected.dtype, "output '\(value.name)' dtype")
      #expect(type.rank == expected.rank, "output '\(value.name)' rank: \(type.dims.shapeDescription) vs \(expected.shape)")
      for (dim, actual) in zip(type.dims, expected.shape) where !dim.isDataDependent {
        if let evaluated = dim.evaluate(bindings) {
          #expect(
            evaluated == actual,
            "output '\(value.name)' dims \(type.dims.shapeDescription) vs \(expected.shape)")
        }
      }
    }
  }
}
