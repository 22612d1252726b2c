import AttncTestSupport
import Foundation
import Testing

/// Every kind of bad input is refused with exit status 2 and one line naming the file, the node or
/// tensor, and the fact.
@Suite struct BadInputTests {
  let directory: URL

  init() throws { directory = try Fixtures.temporaryDirectory() }

  /// Runs `attnc inspect` on `bytes` written to `name` and returns (status, stderr).
  func inspect(_ bytes: [UInt8], name: String = "model.onnx") throws -> CLI.Result {
    let url = directory.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return try CLI.run(["inspect", url.path])
  }

  func expectRefused(_ result: CLI.Result, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status == 2, sourceLocation: sourceLocation)
    let path = directory.appendingPathComponent("model.onnx").path
    #expect(result.stderr == "error: \(path): \(message)\n", sourceLocation: sourceLocation)
  }

  var valid: OnnxBuilder {
    OnnxBuilder().input("x", ["n"]).node("Neg", ["x"], ["y"], name: "neg").output("y")
  }
}

// MARK: - Files that are not models

extension BadInputTests {
  @Test func emptyFile() throws {
    expectRefused(try inspect([]), "file is empty")
  }

  @Test func truncatedFile() throws {
    let bytes = valid.bytes()
    expectRefused(
      try inspect(Array(bytes.prefix(bytes.count - 3))),
      "not a valid ONNX model: protobuf decoding failed (truncated or corrupted file)")
  }

  @Test func randomBytes() throws {
    let bytes = SeededValues.bytes(4096, seed: 42)
    expectRefused(
      try inspect(bytes), "not a valid ONNX model: protobuf decoding failed (truncated or corrupted file)")
  }
}

// MARK: - Broken graphs

extension BadInputTests {
  @Test func cycle() throws {
    let model = OnnxBuilder().input("x", ["n"])
      .node("Add", ["x", "b"], ["a"], name: "first")
      .node("Neg", ["a"], ["b"], name: "second")
      .output("b")
    expectRefused(try inspect(model.bytes()), "graph has a cycle through nodes 'first', 'second'")
  }

  @Test func undefinedValue() throws {
    let model = OnnxBuilder().input("x", ["n"])
      .node("Add", ["x", "ghost"], ["y"], name: "add")
      .output("y")
    expectRefused(
      try inspect(model.bytes()),
      "node 'add' (Add): input 'ghost' is not defined by any node, initializer or graph input")
  }

  @Test func duplicateOutputNames() throws {
    let model = OnnxBuilder().input("x", ["n"])
      .node("Neg", ["x"], ["y"], name: "one")
      .node("Abs", ["x"], ["y"], name: "two")
      .output("y")
    expectRefused(
      try inspect(model.bytes()),
      "node 'two' (Abs): output 'y' is already defined by another node, an initializer or a graph input")
  }

  @Test func newerIRVersion() throws {
    expectRefused(
      try inspect(valid.with(irVersion: 99).bytes()),
      "IR version 99 is newer than the newest supported, 14")
  }

  @Test func newerOpset() throws {
    expectRefused(
      try inspect(valid.with(opsets: [("", 99)]).bytes()),
      "opset 99 of domain 'ai.onnx' is newer than the newest supported, 28")
  }

  @Test func unknownOpsAreListedTogetherAfterPrintingTheGraph() throws {
    let model = OnnxBuilder().input("x", ["n"])
      .node("FancyOp", ["x"], ["a"], name: "f1")
      .node("FancyOp", ["a"], ["b"], name: "f2")
      .node("OtherOp", ["b"], ["y"], name: "o1")
      .output("y")
    let result = try inspect(model.bytes())
    expectRefused(result, "unsupported op types: FancyOp (nodes 'f1', 'f2'); OtherOp (node 'o1')")
    #expect(result.stdout.contains("FancyOp"))
    #expect(result.stdout.contains("op type"))
  }

  /// A file ONNX Runtime optimized at level 99 holds its machine-specific blocked-layout ops:
  /// the refusal says where they come from and which file to convert instead.
  @Test func blockedLayoutOpsSayHowToAvoidThem() throws {
    let model = OnnxBuilder().input("x", ["1", "8", "4", "4"])
      .node("ReorderInput", ["x"], ["b"], name: "reorder_in", domain: "com.microsoft.nchwc")
      .node("ReorderOutput", ["b"], ["y"], name: "reorder_out", domain: "com.microsoft.nchwc")
      .output("y")
    let result = try inspect(model.with(opsets: [("", 17), ("com.microsoft.nchwc", 1)]).bytes())
    expectRefused(
      result,
      "unsupported op types: com.microsoft.nchwc.ReorderInput (node 'reorder_in'); com.microsoft.nchwc.ReorderOutput "
        + "(node 'reorder_out'); com.microsoft.nchwc ops are ONNX Runtime's blocked memory layout for the vector width "
        + "of the machine that saved the file, which its optimizer writes at level 99 (ORT_ENABLE_ALL; it warns that such files belong to the "
        + "machine that made them): convert the model before that optimization, or optimize it at level 2 "
        + "(ORT_ENABLE_EXTENDED) or below")
  }

  @Test func shapeRuleErrorsNameTheNode() throws {
    let model = OnnxBuilder().input("x", ["2", "3"])
      .node("Softmax", ["x"], ["y"], name: "encoder/Softmax_3", attributes: [("axis", 5)])
      .output("y")
    expectRefused(
      try inspect(model.bytes()),
      "node 'encoder/Softmax_3' (Softmax): axis 5 is out of range for rank 2")
  }
}

// MARK: - Quantization parameters

extension BadInputTests {
  /// A constant quantization scale of 0 (QuantizeLinear divides by it) stops `convert` with exit
  /// status 2 and one line naming the file and the node.
  @Test func zeroQuantizationScale() throws {
    let model = OnnxBuilder().input("x", ["4"])
      .initializer(.init(name: "s", dims: [], floats: [0]))
      .initializer(.init(name: "z", dataType: 3, dims: [], raw: [0]))
      .node("QuantizeLinear", ["x", "s", "z"], ["y"], name: "quantize_x").output("y", dataType: 3)
      .with(opsets: [("", 13)])
    let url = directory.appendingPathComponent("model.onnx")
    try Data(model.bytes()).write(to: url)
    let result = try CLI.run(["convert", url.path, "-o", directory.appendingPathComponent("model.attnc").path])
    #expect(result.status == 2)
    #expect(result.stderr == "error: \(url.path): node 'quantize_x' (QuantizeLinear): the scale holds 0 at index 0: quantizing divides by it\n")
  }
}

// MARK: - Dims too large to be real (found by the onnx fuzz target's seed)

extension BadInputTests {
  /// Two inputs declared with 2^62 elements, concatenated: the output dim would overflow 64 bits
  /// (it trapped in `Dim.+`), and is refused naming the node.
  @Test func aConcatenationWhoseDimOverflowsIsRefused() throws {
    let big = "\(1 << 62)"
    let model = OnnxBuilder().input("a", [big]).input("b", [big])
      .node("Concat", ["a", "b"], ["y"], name: "cat", attributes: [("axis", 0)]).output("y")
    let result = try inspect(model.bytes())
    #expect(result.status == 2)
    #expect(result.stderr.contains("'cat'"), "\(result.stderr)")
    #expect(result.stderr.contains("output 0's dims do not fit in 64 bits (the input dims are too large to be real)"), "\(result.stderr)")
  }
}
