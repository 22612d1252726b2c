import AttncIR
import AttncKernels
import AttncTensor

/// `pack-convolution-weights`: turns a float32 `Conv` or `ConvTranspose` of one group whose
/// weight is a constant into `PackedConvolution`, its filter stored as the rows of the packed
/// GEMM's A operand at the linear layers' precision (patch embeddings, upsampling heads): the
/// product then runs on attnc's GEMM, at bfloat16 the weights take half the bytes.
public enum PackConvolutionWeights {
  public static func pass(precision: LinearPrecision) -> Pass {
    Pass("pack-convolution-weights") { graph in run(&graph, precision: precision) }
  }

  static func run(_ graph: inout Graph, precision: LinearPrecision) -> Int {
    var hits = 0
    let matching = GraphMatching(graph)
    var absorbed = Set<Int>()
    for index in graph.nodes.indices {
      let node = graph.nodes[index]
      guard node.domain.isEmpty, let op = node.op as? any Lowerable else { continue }
      let transposed: Bool
      if let conv = op as? Conv, conv.geometry.group == 1 {
        transposed = false
      } else if let conv = op as? ConvTranspose, conv.geometry.group == 1 {
        transposed = true
      } else {
        continue
      }
      guard let x = node.inputs[0], let w = node.inputs.count > 1 ? node.inputs[1] : nil,
        graph.values[x].type?.dtype == .float, let weight = graph.values[w].constant, weight.dtype == .float,
        weight.rank >= 3, weight.count > 0, let output = node.outputs.first, graph.values[output].type?.dtype == .float
      else { continue }
      let floats = weight.floats()
      let rows = floats.withUnsafeBufferPointer {
        ConvolutionGemm.weightRows($0.baseAddress!, weightShape: weight.shape, transposed: transposed, precision: precision)
      }
      let shape = ConvolutionGemm.packedShape(weightShape: weight.shape, transposed: transposed, precision: precision)
      let tensor = HostTensor(floats: rows, shape: shape)
      let packed = graph.addConstant(tensor, name: graph.values[w].name + "__rows")
      var inputs = node.inputs
      inputs[1] = packed
      var outputs = node.outputs
      let relu = matching.soleConsumer(output).flatMap { reader in
        reader.node.domain.isEmpty && reader.node.opType == "Relu" && graph.values[reader.node.outputs[0]].type?.dtype == .float
          ? reader : nil
      }
      if let relu {
        outputs = relu.node.outputs
        absorbed.insert(relu.index)
      }
      graph.nodes[index] = Node(
        name: node.name, domain: PackedConvolution.domain, opType: PackedConvolution.type, inputs: inputs,
        outputs: outputs, opset: 1,
        op: PackedConvolution(
          convolution: op, transposed: transposed, weightShape: weight.shape, precision: precision, relu: relu != nil))
      hits += 1
    }
    if !absorbed.isEmpty {
      graph.nodes = graph.nodes.enumerated().filter { !absorbed.contains($0.offset) }.map(\.element)
    }
    return hits
  }
}
