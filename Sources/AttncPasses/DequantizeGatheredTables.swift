import AttncIR
import AttncKernels
import AttncTensor

/// `dequantize-gathered-tables`: an embedding table stored quantized and dequantized after the
/// lookup, as ONNX Runtime's quantizer writes it, is dequantized once, at conversion:
///
///     DequantizeLinear(Gather(table_q, ids), scale, zero) → Gather(DequantizeLinear(table_q), ids)
///
/// for a constant integer table and a per-tensor scale and zero point (the two orders give the
/// same elements: dequantization is element by element). The lookup then copies float rows and
/// the run holds the table as float32 instead of 64-bit integers (how integer tensors compute),
/// at four times the int8 table's bytes in the plan.
public enum DequantizeGatheredTables {
  public static let pass = Pass("dequantize-gathered-tables") { graph in try run(&graph) }

  static func run(_ graph: inout Graph) throws -> Int {
    let m = GraphMatching(graph)
    return try graph.rewriteNodes { node, graph in
      guard let dequantize = node.op as? DequantizeLinear, let output = node.outputs.first,
        graph.values[output].type?.dtype == .float, let gathered = node.inputs[0],
        let lookup = m.producer(gathered), let gather = lookup.op as? Gather, m.soleConsumer(gathered) != nil,
        let tableID = lookup.inputs[0], let indices = lookup.inputs.count > 1 ? lookup.inputs[1] : nil,
        let table = graph.values[tableID].constant, table.dtype.isInteger,
        let scale = node.inputs[1].flatMap({ graph.values[$0].constant }), scale.count == 1
      else { return nil }
      let zero = node.inputs.count > 2 ? node.inputs[2].flatMap { graph.values[$0].constant } : nil
      if node.inputs.count > 2, node.inputs[2] != nil, zero?.count != 1 { return nil }
      let values = try withContext(node.label) {
        try Quantization.dequantize(
          Tensor(table), scale: Tensor(scale), zeroPoint: zero.map(Tensor.init), axis: dequantize.axis, blockSize: 0,
          to: .float)
      }
      let floats = graph.addConstant(values.host, name: graph.values[tableID].name + "__dequantized")
      return [Node(
        name: lookup.name + "/dequantized", opType: "Gather", inputs: [floats, indices], outputs: [output],
        attributes: lookup.attributes, opset: lookup.opset, op: gather)]
    }
  }
}
