import AttncKernels
import AttncTensor

/// attnc op: `BranchGuard(value, condition) = value` when the bool `condition` is `expected`,
/// else a run-time error; `BranchGuard(condition)` checks and passes the condition through.
///
/// Made at import where an `If` whose condition is a graph input was replaced by the branch the
/// caller pinned (`--branch use_cache_branch=true`): the plan computes that branch only, so a run
/// that feeds the other condition value is refused, naming the input and what to convert instead.
/// The one-input form runs first (it is the first node), so the refusal comes before any kernel
/// meets the other branch's inputs; the `If`'s first output passes through the two-input form,
/// which reads the checked condition and keeps the check alive.
public struct BranchGuard: NamedOp {
  public static let type = "BranchGuard"

  /// The condition value the plan was converted for.
  public var expected: Bool
  /// The graph input the condition is.
  public var condition: String
  /// The `If` node that was inlined.
  public var node: String

  public init(expected: Bool, condition: String, node: String) {
    (self.expected, self.condition, self.node) = (expected, condition, node)
  }

  /// Input 0's type; the condition (the last input) must be bool.
  /// - Throws: "expects 2 inputs, got 3", a condition that is not bool.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...2)
    let condition = try inputs.required(inputs.count - 1)
    guard condition.type.dtype == .bool else {
      throw AttncError.invalid("the condition '\(self.condition)' must be bool, got \(condition.type.dtype)")
    }
    return [try inputs.required(0).type]
  }
}

extension BranchGuard: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(BranchGuardCall(expected: expected, condition: condition, node: node))
  }
}

/// The standard form: ONNX has no run-time error, so the written file (one branch, as the plan)
/// passes the value through when the condition is `expected` and gives NaN otherwise (a float
/// value; others pass through); the one-input form passes the condition through.
extension BranchGuard: ONNXExpressible {
  public func onnxForm(_ node: ONNXFormNode, into b: inout ONNXGraphBuilder) throws {
    let value = try node.input(0)
    guard node.inputs.count == 2, let dtype = node.inputFacts[0]?.dtype, dtype.isFloatingPoint else {
      b.op("Identity", value, output: node.outputs[0])
      return
    }
    let condition = try node.input(1)
    let taken = expected ? condition : b.op("Not", condition)
    var nan = b.scalar(.nan, "nan")
    if dtype != .float { nan = b.op("CastLike", nan, value) }
    b.op("Where", taken, value, nan, output: node.outputs[0])
  }
}
