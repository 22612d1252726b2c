import AttncIR
import AttncTensor

/// `fold-constants`: evaluates nodes whose inputs are all constants and replaces their outputs
/// by the computed tensors (the node disappears; its output values keep their names).
///
/// Nodes fold through their op's kernel call (`Lowerable.evaluate`), the code the plan runs. A
/// fold is skipped when the op has no kernel for that case, or when it would store much more
/// data than it reads (an `Expand` of a scalar to a 2048×2048 mask stays a node).
public enum FoldConstants {
  /// Outputs up to this many elements always fold; larger ones only if no larger than the inputs.
  static let smallOutputElements = 1 << 16

  public static let pass = Pass("fold-constants") { graph in try run(&graph) }

  static func run(_ graph: inout Graph) throws -> Int {
    var folded = 0
    var keep: [Node] = []
    keep.reserveCapacity(graph.nodes.count)
    for node in graph.nodes {
      guard let tensors = try evaluateIfConstant(node, in: graph) else {
        keep.append(node)
        continue
      }
      for (output, tensor) in zip(node.outputs, tensors) {
        setConstant(output, tensor, in: &graph)
      }
      folded += 1
    }
    graph.nodes = keep
    return folded
  }

  /// Turns `value` into a constant holding `tensor`.
  static func setConstant(_ value: ValueID, _ tensor: HostTensor, in graph: inout Graph) {
    graph.values[value].constant = tensor
    graph.values[value].type = TensorType(tensor.dtype, tensor.shape.map { Dim($0) })
    graph.values[value].content = ValueFact.contentOf(tensor)
  }

  static func evaluateIfConstant(_ node: Node, in graph: Graph) throws -> [HostTensor]? {
    if let constant = node.op as? Constant { return [constant.value] }
    guard let op = node.op as? any Lowerable else { return nil }
    var inputs: [HostTensor?] = []
    var inputElements = 0
    for id in node.inputs {
      guard let id else {
        inputs.append(nil)
        continue
      }
      guard let constant = graph.values[id].constant else { return nil }
      inputs.append(constant)
      inputElements += constant.count
    }
    // Estimate the output size from inferred types before computing anything.
    var outputElements = 0
    for output in node.outputs {
      guard let type = graph.values[output].type, let dims = type.concreteDims else { return nil }
      // Hostile dims can overflow the count: such an output is never folded (nor allocated).
      guard let elements = try? HostTensor.elementCount(dims) else { return nil }
      let (sum, overflow) = outputElements.addingReportingOverflow(elements)
      guard !overflow else { return nil }
      outputElements = sum
    }
    guard outputElements <= max(smallOutputElements, inputElements) else { return nil }
    do {
      let tensors = try op.evaluate(inputs, outputCount: node.outputs.count)
      guard tensors.count >= node.outputs.count else { return nil }
      return Array(tensors.prefix(node.outputs.count))
    } catch let error as AttncError where error.code == .unsupported {
      return nil
    } catch let error as AttncError {
      throw error.adding(context: node.label)
    }
  }
}

/// `fold-shape-arithmetic`: replaces a node whose integer output is known as dim expressions
/// (the `Shape → Gather → Unsqueeze → Concat` chains exporters write) by a constant when every
/// dim is a number, else by one `DimExpressions` node evaluated from the input shapes.
public enum FoldShapeArithmetic {
  public static let pass = Pass("fold-shape-arithmetic") { graph in run(&graph) }

  static func run(_ graph: inout Graph) -> Int {
    var hits = 0
    var rewritten: [Node] = []
    for node in graph.nodes {
      guard !(node.op is DimExpressions), node.isSupported, node.outputs.count == 1,
        let output = node.outputs.first, let type = graph.values[output].type,
        let content = graph.values[output].content, type.rank <= 1,
        type.dtype == .int64 || type.dtype == .int32 || type.dtype == .bool,
        !content.contains(where: \.isDataDependent),
        type.dtype != .bool || content.allSatisfy(\.isConstant)
      else {
        rewritten.append(node)
        continue
      }
      if content.allSatisfy(\.isConstant) {
        let ints = content.compactMap(\.value).map { Int64($0) }
        let shape = type.rank == 0 ? [] : [ints.count]
        FoldConstants.setConstant(
          output, HostTensor(dtype: type.dtype, shape: shape, integers: ints), in: &graph)
      } else {
        let op = DimExpressions(dims: content, dtype: type.dtype, scalar: type.rank == 0)
        rewritten.append(
          Node(
            name: node.name, op: op, inputs: [], outputs: [output]))
      }
      hits += 1
    }
    graph.nodes = rewritten
    return hits
  }
}
