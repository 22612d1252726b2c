import AttncCodegen
import AttncKit
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// Every `test_data_set_N` of every model in `shared/models` (and the bundled sample) through
/// the conversion pipeline (canonicalize → fuse → lower) and the interpreter, compared with ONNX Runtime's outputs (rtol 1e-3, atol 1e-5).
@Suite(.serialized) struct ModelParityTests {
  static let tolerance = (relative: 1e-3, absolute: 1e-5)

  static var cases: [String] {
    var result: [String] = []
    for name in Fixtures.modelNames {
      guard let shared = Fixtures.shared else { break }
      let folder = shared.appendingPathComponent("models/\(name)")
      let sets = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
        .filter { $0.hasPrefix("test_data_set_") }.sorted()
      result += sets.map { "\(name)/\($0)" }
    }
    // ATTNC_MODEL_FILTER=vit runs only the matching cases (for development).
    if let filter = ProcessInfo.processInfo.environment["ATTNC_MODEL_FILTER"], !filter.isEmpty {
      result = result.filter { $0.contains(filter) }
    }
    return result
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)), arguments: cases)
  func matchesOnnxRuntime(testCase: String) throws {
    guard let shared = Fixtures.shared else { return }
    let parts = testCase.split(separator: "/").map(String.init)
    let folder = shared.appendingPathComponent("models/\(parts[0])")
    let plan = try Compiler.plan(folder.appendingPathComponent("model.onnx").path).plan
    let data = folder.appendingPathComponent(parts[1])
    let inputs = try plan.inputs.indices.map { try TensorFiles.readProto(data.appendingPathComponent("input_\($0).pb").path) }
    let outputs = try Interpreter(plan: plan).run(inputs)
    for (index, output) in outputs.enumerated() {
      let path = data.appendingPathComponent("output_\(index).pb").path
      guard FileManager.default.fileExists(atPath: path) else { continue }
      let expected = try TensorFiles.readProto(path)
      #expect(output.shape == expected.shape, "output \(index) shape")
      let comparison = Comparison(output, expected, relative: Self.tolerance.relative, absolute: Self.tolerance.absolute)
      #expect(comparison.withinTolerance, "output \(index): max abs error \(comparison.maxAbsolute), max rel error \(comparison.maxRelative)")
    }
  }
}
