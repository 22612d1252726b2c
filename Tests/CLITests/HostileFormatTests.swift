import AttncKit
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// Hostile inputs of the formats attnc learned for issue #20 (contrib ops, quantized tensors,
/// float16 weights, KV caches): each is refused with exit status 2 and a message naming the node,
/// or runs with the results ONNX defines.
@Suite struct HostileFormatTests {
  let directory: URL

  init() throws { directory = try Fixtures.temporaryDirectory() }

  func convert(_ model: OnnxBuilder) throws -> (url: URL, result: CLI.Result) {
    let url = directory.appendingPathComponent("model.onnx")
    try Data(model.bytes()).write(to: url)
    let result = try CLI.run(["convert", url.path, "-o", directory.appendingPathComponent("model.attnc").path, "--policy", "exact"])
    return (url, result)
  }

  /// `com.microsoft.Attention` of hidden 8 with packed QKV weights `[8, 24]` and `attributes`.
  func contribAttention(_ attributes: [(String, Int64)]) -> OnnxBuilder {
    OnnxBuilder().input("x", ["1", "4", "8"])
      .initializer(.init(name: "w", dims: [8, 24], floats: [Float](repeating: 0.1, count: 8 * 24)))
      .initializer(.init(name: "b", dims: [24], floats: [Float](repeating: 0, count: 24)))
      .node("Attention", ["x", "w", "b"], ["y"], name: "contrib", attributes: attributes, domain: "com.microsoft")
      .output("y")
      .with(opsets: [("", 17), ("com.microsoft", 1)])
  }

  @Test func contribAttentionWithoutHeadsIsRefused() throws {
    let (url, result) = try convert(contribAttention([]))
    #expect(result.status == 2)
    #expect(result.stderr == "error: \(url.path): node 'contrib' (Attention): attribute 'num_heads' is required and must be positive\n")
  }

  @Test func contribAttentionWhoseHeadsDoNotDivideTheWeightsIsRefused() throws {
    let (url, result) = try convert(contribAttention([("num_heads", 3)]))
    #expect(result.status == 2)
    #expect(result.stderr == "error: \(url.path): node 'contrib' (Attention): weights have 24 columns, not 3 equal parts divisible by 3 heads\n")
  }

  @Test func nanDequantizationScaleIsRefused() throws {
    let model = OnnxBuilder().input("x", dataType: 2, ["4"])
      .initializer(.init(name: "s", dims: [], floats: [.nan]))
      .initializer(.init(name: "z", dataType: 2, dims: [], raw: [3]))
      .node("DequantizeLinear", ["x", "s", "z"], ["y"], name: "dequantize_x").output("y")
      .with(opsets: [("", 13)])
    let (url, result) = try convert(model)
    #expect(result.status == 2)
    #expect(result.stderr == "error: \(url.path): node 'dequantize_x' (DequantizeLinear): the scale holds nan at index 0\n")
  }

  /// float16 weights holding NaN and Inf run: the products carry them as ONNX Runtime's do.
  @Test func float16NaNAndInfinityWeightsRunWithTheirIEEEResults() throws {
    var halves = [UInt16](repeating: 0x3C00, count: 16)  // 1.0
    halves[0] = 0x7E00  // NaN at [0, 0]
    halves[5] = 0x7C00  // +Inf at [1, 1]
    let raw = halves.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
    let model = OnnxBuilder().input("x", dataType: 10, ["1", "4"])
      .initializer(.init(name: "w", dataType: 10, dims: [4, 4], raw: raw))
      .node("MatMul", ["x", "w"], ["y"], name: "product").output("y", dataType: 10)
    let (_, result) = try convert(model)
    #expect(result.status == 0, "\(result.stderr)")
    let input = directory.appendingPathComponent("x.npy"), out = directory.appendingPathComponent("out")
    try Data(NPY.encode(HostTensor(dtype: .float16, shape: [1, 4], converting: [1, 1, 1, 1]))).write(to: input)
    let run = try CLI.run([
      "run", directory.appendingPathComponent("model.attnc").path, "--input", "x=\(input.path)", "--output-dir", out.path,
    ])
    #expect(run.status == 0, "\(run.stderr)")
    let y = try NPY.read(out.appendingPathComponent("y.npy").path).doubles()
    #expect(y.count == 4 && y[0].isNaN && y[1] == .infinity && y[2] == 4 && y[3] == 4)
  }

  /// A KV-cache step whose attention mask is longer than past + new keys: ONNX Runtime runs it
  /// (reading the mask's first entries); attnc refuses it naming the attention.
  @Test(.enabled(if: Fixtures.exportsAvailable, Comment(rawValue: Fixtures.exportsMissing)))
  func pastLengthThatDisagreesWithTheMaskIsRefused() throws {
    let model = Fixtures.exports.appendingPathComponent("gpt2_sdpa_kv_legacy/model.onnx").path
    let plan = directory.appendingPathComponent("kv.attnc").path
    #expect(try CLI.run(["convert", model, "-o", plan, "--policy", "exact"]).status == 0)
    var arguments = ["run", plan]
    func input(_ name: String, _ tensor: HostTensor) throws {
      let url = directory.appendingPathComponent("\(name).npy")
      try Data(NPY.encode(tensor)).write(to: url)
      arguments += ["--input", "\(name)=\(url.path)"]
    }
    try input("input_ids", HostTensor(int64s: [1, 2], shape: [1, 2]))
    try input("attention_mask", HostTensor(int64s: [Int64](repeating: 1, count: 9), shape: [1, 9]))  // 5 + 2 = 7 keys
    for name in ["past_key_0", "past_value_0", "past_key_1", "past_value_1"] {
      try input(name, HostTensor(floats: [Float](repeating: 0.5, count: 2 * 5 * 16), shape: [1, 2, 5, 16]))
    }
    let result = try CLI.run(arguments)
    #expect(result.status == 2)
    #expect(result.stderr.contains("(FusedAttention): key-padding mask has shape [1, 9], expected [1, 7]"), "\(result.stderr)")
  }
}
