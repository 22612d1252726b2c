import AttncIR
import AttncKernels
import AttncTensor

/// `pack-weights`: turns a float32 `MatMul` or `FusedMatMul` (without a softmax epilogue) whose B
/// is a constant `[k, n]` matrix into `PackedMatMul` with B packed into the panels attnc's GEMM
/// reads, once, at conversion. The plan stores the packed weight; the unpacked one is dropped
/// when nothing else reads it. A weight read by several products is packed once. At `bfloat16`
/// (`--linear-precision bf16`) the weights are rounded to bfloat16 as they are packed (half the
/// bytes) and the products run on bfloat16 operands.
public enum PackWeights {
  public static let pass = pass(precision: .float32)

  /// The pass packing at `precision`.
  public static func pass(precision: LinearPrecision) -> Pass {
    Pass("pack-weights") { graph in run(&graph, precision: precision) }
  }

  static func run(_ graph: inout Graph, precision: LinearPrecision) -> Int {
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
        guard let tensor = pack(weight, precision: precision) else { continue }
        panels = graph.addConstant(tensor, name: graph.values[b].name + "__packed")
        packed[b] = panels
      }
      let op = PackedMatMul(alpha: alpha, activation: activation, columns: weight.shape[1], precision: precision)
      graph.nodes[index] = Node(
        name: node.name, op: op, inputs: [a, panels] + addends, outputs: node.outputs)
      hits += 1
    }
    return hits
  }

  /// `weight [k, n]` as the panels of `precision` (`PackedMatMul.packedShape`).
  static func pack(_ weight: HostTensor, precision: LinearPrecision) -> HostTensor? {
    let (k, n) = (weight.shape[0], weight.shape[1])
    let shape = PackedMatMul.packedShape(k: k, n: n, precision: precision)
    let storage = ByteStorage.build(count: shape.reduce(1, *) * 4) { target in
      let source = weight.storage.bytes
      let aligned = Int(bitPattern: source.baseAddress) % MemoryLayout<Float>.alignment == 0
      let copy = aligned ? nil : weight.floats()
      func packFloats(_ floats: UnsafePointer<Float>) {
        if precision == .bfloat16 {
          PackedGemm.packBFloat16(floats, k: k, n: n, into: target.bindMemory(to: UInt32.self).baseAddress!)
        } else {
          PackedGemm.pack(floats, k: k, n: n, into: target.bindMemory(to: Float.self).baseAddress!)
        }
      }
      if let copy {
        copy.withUnsafeBufferPointer { packFloats($0.baseAddress!) }
      } else {
        packFloats(source.baseAddress!.assumingMemoryBound(to: Float.self))
      }
    }
    return try? HostTensor(dtype: .float, shape: shape, storage: storage)
  }
}
