import AttncIR
import AttncTensor

/// `widen-narrow-floats`: a graph that computes in float16 or bfloat16 computes in float32.
///
/// attnc's kernels compute in float32 whatever the stored type, so widening the whole graph
/// once, at conversion, costs nothing at run time and lets every later pass (attention matching,
/// fusions, weight packing, the variants) see the float32 graph it knows:
///
/// ```
/// x: float16 ─ [Cast → float] ─ … float32 compute … ─ [Cast → float16] ─ y: float16
/// ```
///
/// - narrow constants (initializers, folded constants, `Constant` and `ConstantOfShape` values)
///   are converted to float32 (exact: every float16 and bfloat16 is a float32);
/// - a `Cast` to a narrow type inside the graph becomes a `Cast` to float32 (a no-op that
///   `remove-no-ops` removes when its input is already float32);
/// - a narrow graph input keeps its declared type and is read through a `Cast` to float32;
///   a narrow graph output keeps its declared type and is written through a `Cast` back to it
///   (a `Cast` to the output's type that already writes the output is that boundary).
///
/// The results are float32 results rounded once at the outputs, not float16 arithmetic: they
/// differ from a float16 runtime's by that runtime's own rounding (README, "Which exports attnc
/// reads"). Hits count the values widened (inputs, constants and node outputs), so a second run
/// finds nothing.
public enum WidenNarrowFloats {
  public static let pass = Pass("widen-narrow-floats") { graph in run(&graph) }

  /// The float types attnc widens.
  public static let narrowTypes: Set<DType> = [.float16, .bfloat16]

  /// The narrow float types the graph computes in or stores (declared value types, constants,
  /// `Cast` targets), in a fixed order: what `inspect` names.
  public static func narrowTypes(in graph: Graph) -> [DType] {
    var found = Set<DType>()
    for value in graph.values {
      if let dtype = value.type?.dtype ?? value.constant?.dtype, narrowTypes.contains(dtype) { found.insert(dtype) }
    }
    for node in graph.nodes {
      if let cast = node.op as? Cast, narrowTypes.contains(cast.to) { found.insert(cast.to) }
      if let value = (node.op as? Constant)?.value ?? (node.op as? ConstantOfShape)?.value,
        narrowTypes.contains(value.dtype)
      {
        found.insert(value.dtype)
      }
    }
    return [DType.float16, .bfloat16].filter(found.contains)
  }

  static func run(_ graph: inout Graph) -> Int {
    var widened = bridgeInputs(&graph)
    let (boundaries, bridged) = bridgeOutputs(&graph)
    widened += bridged
    for id in graph.values.indices where !graph.outputs.contains(id) {
      guard let constant = graph.values[id].constant, narrowTypes.contains(constant.dtype) else { continue }
      graph.values[id].constant = widenedTensor(constant)
      graph.values[id].type?.dtype = .float
      widened += 1
    }
    for index in graph.nodes.indices where !boundaries.contains(index) {
      var node = graph.nodes[index]
      widened += node.outputs.filter { graph.values[$0].type.map { narrowTypes.contains($0.dtype) } ?? false }.count
      if var cast = node.op as? Cast, narrowTypes.contains(cast.to) {
        cast.to = .float
        node.op = cast
        node.attributes["to"] = .int(Int64(DType.float.rawValue))
      } else if var constant = node.op as? Constant, narrowTypes.contains(constant.value.dtype) {
        constant.value = widenedTensor(constant.value)
        node.op = constant
        node.attributes = Attributes(["value": .tensor(constant.value)])
      } else if var fill = node.op as? ConstantOfShape, narrowTypes.contains(fill.value.dtype) {
        fill.value = widenedTensor(fill.value)
        node.op = fill
        node.attributes["value"] = .tensor(fill.value)
      }
      graph.nodes[index] = node
    }
    return widened
  }

  /// `tensor`'s elements as float32.
  static func widenedTensor(_ tensor: HostTensor) -> HostTensor {
    HostTensor(floats: tensor.floats(), shape: tensor.shape)
  }

  /// Puts a `Cast` back to the declared type in front of every narrow graph output that a node
  /// computes (not one that is a graph input or a constant); returns the indices of the boundary
  /// casts, which keep their narrow target, and how many outputs it bridged.
  static func bridgeOutputs(_ graph: inout Graph) -> (boundaries: Set<Int>, bridged: Int) {
    var boundaries = Set<Int>()
    var bridged = 0
    var producers = graph.producers()
    for output in Set(graph.outputs).sorted() {
      guard let type = graph.values[output].type, narrowTypes.contains(type.dtype),
        let producer = producers[output]
      else { continue }
      if let cast = graph.nodes[producer].op as? Cast, cast.to == type.dtype {
        boundaries.insert(producer)
        continue
      }
      let name = graph.values[output].name
      let wide = graph.addValue(Value(name: graph.freshName(name + "__float32"), type: TensorType(.float, type.dims)))
      for n in graph.nodes.indices {
        graph.nodes[n].inputs = graph.nodes[n].inputs.map { $0 == output ? wide : $0 }
        graph.nodes[n].outputs = graph.nodes[n].outputs.map { $0 == output ? wide : $0 }
      }
      let cast = castNode(name + "/cast_to_\(type.dtype)", wide, output, to: type.dtype, opset: graph.info.opsets[""])
      graph.nodes.insert(cast, at: producer + 1)
      boundaries = Set(boundaries.map { $0 > producer ? $0 + 1 : $0 })
      boundaries.insert(producer + 1)
      producers = graph.producers()
      bridged += 1
    }
    return (boundaries, bridged)
  }

  /// Reads every narrow graph input through a `Cast` to float32 (unless every reader already
  /// casts it to float32); returns how many inputs it bridged.
  static func bridgeInputs(_ graph: inout Graph) -> Int {
    let consumers = graph.consumers()
    var casts: [Node] = []
    for input in graph.inputs {
      guard let type = graph.values[input].type, narrowTypes.contains(type.dtype) else { continue }
      let readers = consumers[input] ?? []
      if readers.allSatisfy({ (graph.nodes[$0].op as? Cast)?.to == .float }) { continue }
      let name = graph.values[input].name
      let wide = graph.addValue(Value(name: graph.freshName(name + "__float32"), type: TensorType(.float, type.dims)))
      for n in Set(readers) {
        graph.nodes[n].inputs = graph.nodes[n].inputs.map { $0 == input ? wide : $0 }
      }
      casts.append(castNode(name + "/cast_to_float", input, wide, to: .float, opset: graph.info.opsets[""]))
    }
    graph.nodes.insert(contentsOf: casts, at: 0)
    return casts.count
  }

  /// A standard `Cast` node from `input` to `output` (at the model's opset).
  static func castNode(_ name: String, _ input: ValueID, _ output: ValueID, to dtype: DType, opset: Int?) -> Node {
    Node(
      name: name, opType: "Cast", inputs: [input], outputs: [output],
      attributes: Attributes(["to": .int(Int64(dtype.rawValue))]), opset: opset ?? 21, op: Cast(to: dtype))
  }
}
