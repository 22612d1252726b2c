import AttncKit
import AttncRuntime
import AttncTensor
import Foundation

/// Inputs for `run` and `verify`: `--test-data DIR` (its `input_i.pb` in order) and
/// `--input name=FILE` (`.npy` or `.pb`), the latter overriding the former.
enum InputFeeds {
  /// - Throws: `.usage` for an unknown input name, a malformed `--input` or a missing value.
  static func load(for plan: Plan, inputs: [String], testData: String?) throws -> [HostTensor] {
    let names = plan.inputs.map { plan.slots[$0].name }
    var feeds = [HostTensor?](repeating: nil, count: names.count)
    if let testData {
      for index in names.indices {
        let path = URL(fileURLWithPath: testData).appendingPathComponent("input_\(index).pb").path
        feeds[index] = try TensorFiles.readProto(path)
      }
    }
    for text in inputs {
      guard let equals = text.firstIndex(of: "=") else { throw AttncError(.usage, "--input '\(text)' must look like name=FILE") }
      let name = String(text[..<equals]), file = String(text[text.index(after: equals)...])
      guard let index = names.firstIndex(of: name) else {
        throw AttncError(.usage, "--input names '\(name)', which is not an input of the plan (inputs: \(names.map { "'\($0)'" }.joined(separator: ", ")))")
      }
      feeds[index] = file.hasSuffix(".npy") ? try NPY.read(file) : try TensorFiles.readProto(file)
    }
    if let missing = feeds.indices.first(where: { feeds[$0] == nil }) {
      throw AttncError(.usage, "no value for input '\(names[missing])'; give --input \(names[missing])=FILE or --test-data DIR")
    }
    return feeds.compactMap { $0 }
  }
}
