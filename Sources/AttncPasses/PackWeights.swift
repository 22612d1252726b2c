import AttncIR
import AttncKernels
import AttncTensor

/// `pack-weights`: turns a float32 `MatMul` or `FusedMatMul` (without a softmax epilogue) whose B
/// is a constant `[k, n]` matrix into `PackedMatMul` with B packed into the panels attnc's GEMM
/// reads, once, at conversion. The plan stores the packed weight; the unpacked one is dropped
/// when nothing else reads it. A weight read by several products is packed once.
public enum PackWeights {
  public static let pass = Pass("pack-weights") { graph in run(&graph) }

  static func run(_ graph: inout Graph) -> Int {
    var packed: [ValueID: ValueID] = [:]
    var hits = 0
    for index in graph.nodes.indices {
      let node = graph.nodes[index]
      let alpha: Float, activation: FusedMatMul.Activation
      if node.domain.isEmpty, node.opType == "MatMul", node.inputs.count == 2 {
        (alpha, activation) = (1, .none)
      } else if let fused = node.op as? FusedMatMul, fused.activation != .softmax {
        (alpha, activation) = (fused.alpha, fused.activation)
      } else {
        continue
      }
      guard let a = node.inputs[0], let b = node.inputs[1], let output = node.outputs.first,
        let product = graph.values[output].type, product.dtype == .float,
        let aType = graph.values[a].type, aType.dtype == .float, aType.rank >= 2,
        let weight = graph.values[b].constant, weight.dtype == .float, weight.rank == 2,
        weight.shape[0] > 0, weight.shape[1] > 0, aType.dims.last == Dim(weight.shape[0]),
        product.dims == Array(aType.dims.dropLast()) + [Dim(weight.shape[1])]
      else { continue }
      let addends = Array(node.inputs.dropFirst(2))
      guard addends.allSatisfy({ addend in
        guard let addend, let type = graph.values[addend].type else { return false }
        return type.dtype == .float && PackedMatMul.rowAligned(type.dims, product.dims)
      }) else { continue }
      let panels: ValueID
      if let existing = packed[b] {
        panels = existing
      } else {
        guard let tensor = pack(weight) else { continue }
        panels = graph.addConstant(tensor, name: graph.values[b].name + "__packed")
        packed[b] = panels
      }
      let op = PackedMatMul(alpha: alpha, activation: activation, columns: weight.shape[1])
      graph.nodes[index] = Node(
        name: node.name, op: op, inputs: [a, panels] + addends, outputs: node.outputs)
      hits += 1
    }
    return hits
  }

  /// `weight [k, n]` as `[⌈n/16⌉, k, 16]` panels.
  static func pack(_ weight: HostTensor) -> HostTensor? {
    let (k, n) = (weight.shape[0], weight.shape[1])
    let shape = PackedMatMul.packedShape(k: k, n: n)
    let storage = ByteStorage.build(count: PackedGemm.packedCount(k: k, n: n) * 4) { target in
      let out = target.bindMemory(to: Float.self).baseAddress!
      let source = weight.storage.bytes
      if Int(bitPattern: source.baseAddress) % MemoryLayout<Float>.alignment == 0 {
        PackedGemm.pack(source.baseAddress!.assumingMemoryBound(to: Float.self), k: k, n: n, into: out)
      } else {
        let floats = weight.floats()
        PackedGemm.pack(floats, k: k, n: n, into: out)
      }
    }
    return try? HostTensor(dtype: .float, shape: shape, storage: storage)
  }
}
