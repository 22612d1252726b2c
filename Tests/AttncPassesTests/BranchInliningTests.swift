import AttncIR
import AttncKit
import AttncONNX
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// `If` nodes whose condition is known at conversion (`BranchInliner`): a constant condition, a
/// branch inside a branch, and a graph input pinned with `--branch`.
@Suite struct BranchInliningTests {
  func load(_ builder: OnnxBuilder, branches: [String: Bool] = [:]) throws -> LoadedModel {
    try Fixtures.withTemporaryDirectory { directory in
      try ModelLoader.load(try builder.write(to: directory), options: ImportOptions(branches: branches))
    }
  }

  static func flag(_ name: String, _ value: Bool) -> OnnxBuilder.Tensor {
    .init(name: name, dataType: 9, dims: [], raw: [value ? 1 : 0])
  }

  /// `If(true)` whose then-branch computes `t = Abs(x)` and holds an `If(false)` (on a branch
  /// initializer) whose else-branch reads `t` from the enclosing branch: `y = Neg(Abs(x))`.
  @Test func aConstantConditionInlinesTheTakenBranchInsideOut() throws {
    let inner = OnnxBuilder().ifNode(
      "inner_flag", ["u"], name: "inner", then: OnnxBuilder().node("Sigmoid", ["t"], ["s"]).output("s"),
      otherwise: OnnxBuilder().node("Neg", ["t"], ["n"]).output("n"))
    let then = inner.initializer(Self.flag("inner_flag", false)).node("Abs", ["x"], ["t"]).output("u")
    let builder = OnnxBuilder().input("x", ["2", "3"]).initializer(Self.flag("outer_flag", true))
      .ifNode("outer_flag", ["y"], name: "outer", then: then, otherwise: OnnxBuilder().node("Relu", ["x"], ["r"]).output("r"))
      .output("y")
    let model = try load(builder)
    #expect(!model.imported.nodes.contains { $0.opType == "If" })
    #expect(model.canonical.opCounts().map(\.type) == ["Abs", "Neg"])
    #expect(model.canonical.values[model.canonical.outputs[0]].type?.dims == [2, 3])
    let plan = try Fixtures.withTemporaryDirectory { try Compiler.plan(try builder.write(to: $0)).plan }
    let x = HostTensor(floats: [1, -2, 3, -4, 5, -6], shape: [2, 3])
    #expect(try Interpreter(plan: plan).run([x])[0].floats() == [-1, -2, -3, -4, -5, -6])
  }

  /// A graph-input condition pinned with `--branch`: the plan keeps the input, computes the
  /// pinned branch, and refuses the other value before any other kernel runs.
  @Test func aPinnedInputRunsItsBranchAndRefusesTheOther() throws {
    let builder = OnnxBuilder().input("x", ["n"]).input("flag", dataType: 9, ["1"])
      .ifNode("flag", ["y"], name: "choose", then: OnnxBuilder().node("Abs", ["x"], ["a"]).output("a"),
              otherwise: OnnxBuilder().node("Neg", ["x"], ["b"]).output("b"))
      .output("y")
    let plan = try Fixtures.withTemporaryDirectory { directory in
      try Compiler.plan(try builder.write(to: directory), options: ImportOptions(branches: ["flag": false])).plan
    }
    #expect(plan.inputs.map { plan.slots[$0].name } == ["x", "flag"])
    #expect(plan.instructions.first?.kernel == "BranchGuard")
    let x = HostTensor(floats: [1, -2], shape: [2])
    let interpreter = try Interpreter(plan: plan)
    #expect(try interpreter.run([x, HostTensor(dtype: .bool, shape: [1], converting: [0])])[0].floats() == [-1, 2])
    let error = #expect(throws: AttncError.self) {
      try interpreter.run([x, HostTensor(dtype: .bool, shape: [1], converting: [1])])
    }
    #expect(error?.description == "node 'choose/check' (BranchGuard): input 'flag' is true, but this plan holds only the "
      + "else_branch of node 'choose' (converted with --branch flag=false): convert the model again with --branch flag=true for the other branch")
  }

  /// `--branch` must name the condition of an `If`.
  @Test func aBranchOptionOnAnotherInputIsRefused() throws {
    let builder = OnnxBuilder().input("x", ["n"]).input("flag", dataType: 9, ["1"])
      .ifNode("flag", ["y"], name: "choose", then: OnnxBuilder().node("Abs", ["x"], ["a"]).output("a"),
              otherwise: OnnxBuilder().node("Neg", ["x"], ["b"]).output("b"))
      .output("y")
    let error = #expect(throws: AttncError.self) { _ = try load(builder, branches: ["flag": true, "x": true]) }
    #expect(error?.description.hasSuffix("--branch names 'x', which is not the condition of an If the model takes") == true,
            "\(error?.description ?? "")")
  }

  /// A condition computed by the graph stays an `If`, which conversion refuses.
  @Test func aComputedConditionIsRefused() throws {
    let builder = OnnxBuilder().input("x", ["n"]).node("ReduceSum", ["x"], ["total"]).node("Greater", ["total", "zero"], ["positive"])
      .initializer(.init(name: "zero", dims: [], floats: [0]))
      .ifNode("positive", ["y"], name: "choose", then: OnnxBuilder().node("Abs", ["x"], ["a"]).output("a"),
              otherwise: OnnxBuilder().node("Neg", ["x"], ["b"]).output("b"))
      .output("y")
    let error = #expect(throws: AttncError.self) {
      _ = try Fixtures.withTemporaryDirectory { try Compiler.plan(try builder.write(to: $0)) }
    }
    #expect(error?.description.hasSuffix(
      "unsupported op type: If (node 'choose'); If, Loop and Scan are control flow, which attnc's plans do not have "
        + "(an If is read when its condition is a constant, or a graph input given with --branch)") == true, "\(error?.description ?? "")")
  }
}
