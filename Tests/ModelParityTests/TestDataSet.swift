import AttncKit
import AttncRuntime
import AttncTensor
import Foundation
import Testing

/// An ONNX `test_data_set_N` folder (`input_i.pb`, `output_i.pb`) as the export fixtures hold them.
enum TestDataSet {
  /// The folder's `count` inputs, in order.
  static func inputs(_ folder: URL, count: Int) throws -> [HostTensor] {
    try (0..<count).map { try TensorFiles.readProto(folder.appendingPathComponent("input_\($0).pb").path) }
  }

  /// Runs `plan` on the folder's inputs and expects each output to have the expected shape and
  /// to lie within `relative`/`absolute` of the expected values.
  static func expectMatches(_ plan: Plan, _ folder: URL, _ label: String, relative: Double = 1e-3, absolute: Double = 1e-5) throws {
    let outputs = try Interpreter(plan: plan).run(try inputs(folder, count: plan.inputs.count))
    for (index, output) in outputs.enumerated() {
      let expected = try TensorFiles.readProto(folder.appendingPathComponent("output_\(index).pb").path)
      #expect(output.shape == expected.shape, "\(label): output \(index) shape")
      let comparison = Comparison(output, expected, relative: relative, absolute: absolute)
      #expect(comparison.withinTolerance, "\(label): output \(index): max abs error \(comparison.maxAbsolute), max rel error \(comparison.maxRelative)")
    }
  }
}
