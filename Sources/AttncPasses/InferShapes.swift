import AttncIR
import AttncTensor

/// Shape inference: each node's output types (and small integer contents) from its inputs'
/// facts, in topological order.
///
/// Outputs of unsupported ops, and of nodes reading a value of unknown type, stay unknown.
public enum InferShapes {
  /// Contents longer than this are not tracked symbolically.
  static let maximumContentLength = 64

  /// The output types of one node, with the node as error context.
  static func inferTypes(_ node: Node, _ facts: [ValueFact?]) throws -> [TensorType] {
    try withContext(node.label) {
      let types = try node.op.outputTypes(facts, outputCount: node.outputs.count)
      guard types.count >= node.outputs.count else {
        throw AttncError.invalid(
          "has \(node.outputs.count) outputs but the op defines \(types.count)")
      }
      // Dim arithmetic on hostile declared dims overflows to `Dim.overflowed`, refused here.
      if let index = types.firstIndex(where: { $0.dims.contains(where: \.isOverflowed) }) {
        throw AttncError.invalid("output \(index)'s dims do not fit in 64 bits (the input dims are too large to be real)")
      }
      return types
    }
  }

  /// Errors with code `.unsupported` mean "not known from these facts" (a data-dependent rank, a
  /// shape input not folded yet): the outputs stay unknown instead.
  /// - Throws: the shape rule's error with the node as context
  ///   (`node 'attn/Softmax' (Softmax): axis 5 is out of range for rank 2`).
  public static func run(_ graph: inout Graph) throws {
    for index in graph.nodes.indices {
      let node = graph.nodes[index]
      let unknownInput = node.inputs.contains { id in id.map { graph.values[$0].type == nil } ?? false }
      if unknownInput || !node.isSupported {
        for output in node.outputs {
          graph.values[output].type = nil
          graph.values[output].content = nil
        }
        continue
      }
      let facts = graph.inputFacts(of: node)
      let inferred: [TensorType]
      do {
        inferred = try inferTypes(node, facts)
      } catch let error as AttncError where error.code == .unsupported {
        // Not knowable from the facts at hand (yet): a later fold may settle it.
        for output in node.outputs {
          graph.values[output].type = nil
          graph.values[output].content = nil
        }
        continue
      }
      let types = inferred
      var contents: [[Dim]?] = Array(repeating: nil, count: node.outputs.count)
      if let propagating = node.op as? any ContentPropagating {
        let computed = propagating.outputContents(facts, outputTypes: types)
        for k in contents.indices where k < computed.count {
          guard let content = computed[k], content.count <= maximumContentLength,
            types[k].rank <= 1, types[k].dtype.isInteger || types[k].dtype == .bool
          else { continue }
          contents[k] = content
        }
      }
      for (k, output) in node.outputs.enumerated() {
        graph.values[output].type = types[k]
        graph.values[output].content = contents[k]
      }
    }
  }
}
