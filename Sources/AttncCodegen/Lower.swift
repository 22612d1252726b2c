import AttncIR
import AttncKernels
import AttncRuntime
import AttncTensor

/// Lowers a canonicalized graph to a plan: one slot per live value, one instruction per node,
/// weights attached to constant slots.
///
/// Every node must have a kernel; the nodes that do not are listed together in one error
/// ("no kernel yet for: Conv (node 'patch/Conv'); Resize (nodes 'a', 'b')").
public enum Lower {
  public static func plan(
    _ graph: Graph, sourceSHA256: [UInt8], producer: String, policy: String
  ) throws -> Plan {
    var slotOf: [ValueID: Int] = [:]
    var slots: [Plan.Slot] = []
    var constants: [Int: HostTensor] = [:]
    func slot(_ id: ValueID) throws -> Int {
      if let existing = slotOf[id] { return existing }
      let value = graph.values[id]
      guard let type = value.type else {
        throw AttncError.unsupported("value '\(value.name)' has no known type (a sequence, optional or data-dependent value)")
      }
      slots.append(Plan.Slot(name: value.name, dtype: type.dtype, dims: type.dims))
      let index = slots.count - 1
      slotOf[id] = index
      if let constant = value.constant { constants[index] = constant }
      return index
    }
    let inputs = try graph.inputs.map(slot)
    var instructions: [Plan.Instruction] = []
    var missing: [(String, [String])] = []
    for node in graph.nodes {
      let facts = graph.inputFacts(of: node)
      let outputTypes = node.outputs.map { graph.values[$0].type }
      guard let call = try withContext(node.label, { try kernelCall(node, facts, outputTypes, graph: graph) }) else {
        if let i = missing.firstIndex(where: { $0.0 == node.opType }) {
          missing[i].1.append(node.name)
        } else {
          missing.append((node.opType, [node.name]))
        }
        continue
      }
      let used = call.usedInputs ?? node.inputs.count
      instructions.append(
        Plan.Instruction(
          kernel: call.kernel, parameters: call.parameters,
          inputs: try node.inputs.prefix(used).map { try $0.map(slot) },
          outputs: try node.outputs.prefix(call.usedOutputs ?? node.outputs.count).map(slot),
          label: node.name))
    }
    if !missing.isEmpty {
      let parts = missing.map { type, nodes in
        "\(type) (\(nodes.count == 1 ? "node" : "nodes") \(nodes.prefix(3).map { "'\($0)'" }.joined(separator: ", "))\(nodes.count > 3 ? ", …" : ""))"
      }
      throw AttncError.unsupported("no kernel yet for: \(parts.joined(separator: "; "))")
    }
    let outputs = try graph.outputs.map(slot)
    return Plan(
      sourceSHA256: sourceSHA256, producer: producer, policy: policy, slots: slots,
      inputs: inputs, outputs: outputs, instructions: instructions, constants: constants)
  }

  /// A node's kernel and parameters; nil when no kernel implements it yet.
  struct Call {
    var kernel: String
    var parameters: [String: KernelParameter] = [:]
    /// Inputs/outputs the kernel uses (a prefix); nil for all.
    var usedInputs: Int?
    var usedOutputs: Int?
  }

  static func kernelCall(_ node: Node, _ facts: [ValueFact?], _ outputs: [TensorType?], graph: Graph) throws -> Call? {
    let op = node.op
    let rank = facts.first??.rank ?? 0
    func consumed(_ k: Int) -> Bool {
      guard k < node.outputs.count else { return false }
      let id = node.outputs[k]
      return graph.outputs.contains(id) || graph.nodes.contains { $0.inputs.contains(id) }
    }
    switch op {
    case let op as FusedMatMul:
      return Call(kernel: "FusedMatMul", parameters: ["alpha": .float(Double(op.alpha)), "activation": .string(op.activation.rawValue)])
    case let op as PackedMatMul:
      return Call(kernel: "PackedMatMul", parameters: [
        "alpha": .float(Double(op.alpha)), "activation": .string(op.activation.rawValue), "columns": .int(Int64(op.columns)),
      ])
    case let op as RotaryEmbedding:
      return Call(kernel: "RotaryEmbedding", parameters: [
        "interleaved": .int(op.interleaved ? 1 : 0), "rotary_embedding_dim": .int(Int64(op.rotaryDim)),
        "num_heads": .int(Int64(op.numHeads ?? 0)),
      ])
    case let op as LinearAttention:
      let (decays, correctsDelta): (Bool, Bool)
      switch op.updateRule {
      case .linear: (decays, correctsDelta) = (false, false)
      case .gated: (decays, correctsDelta) = (true, false)
      case .delta: (decays, correctsDelta) = (false, true)
      case .gatedDelta: (decays, correctsDelta) = (true, true)
      }
      return Call(kernel: "LinearAttention", parameters: [
        "q_num_heads": .int(Int64(op.qHeads)), "kv_num_heads": .int(Int64(op.kvHeads)), "scale": .float(Double(op.scale)),
        "decays": .int(decays ? 1 : 0), "corrects_delta": .int(correctsDelta ? 1 : 0),
      ])
    case let op as FusedAttention:
      let spec = op.spec
      var parameters: [String: KernelParameter] = [
        "scale": .float(Double(spec.scale)), "causal": .int(spec.causal ? 1 : 0), "softcap": .float(Double(spec.softcap)),
        "mask": .string(spec.mask.rawValue),
      ]
      if spec.mask == .keyPadding { parameters["mask_fill"] = .float(Double(spec.maskFill)) }
      if spec.causal && spec.causalFill.isFinite { parameters["causal_fill"] = .float(Double(spec.causalFill)) }
      if spec.zeroesNaNRows { parameters["zero_nan_rows"] = .int(1) }
      parameters = AttentionVariants.kernelParameters(parameters, variant: spec.variant.name, values: spec.variant.parameters)
      if let dispatch = spec.dispatch { parameters["dispatch"] = .string(dispatch.description) }
      return Call(kernel: "FusedAttention", parameters: parameters)
    case let op as TokenMergeOp:
      return Call(kernel: "TokenMerge", parameters: ["r": .int(Int64(op.r)), "protect_first": .int(op.protectFirst ? 1 : 0)])
    case is TokenUnmergeOp:
      return Call(kernel: "TokenUnmerge")
    case let op as DimExpressions:
      return Call(kernel: "DimExpressions", parameters: ["dims": .dims(op.dims), "dtype": .int(Int64(op.dtype.rawValue)), "scalar": .int(op.scalar ? 1 : 0)])
    case let op as Binary:
      return Call(kernel: op.function.rawValue, parameters: ["fmod": .int(op.fmod ? 1 : 0)])
    case let op as Unary:
      var parameters: [String: KernelParameter] = [:]
      switch op.function {
      case .hardSigmoid(let alpha, let beta): parameters = ["alpha": .float(alpha), "beta": .float(beta)]
      case .leakyRelu(let alpha): parameters = ["alpha": .float(alpha)]
      case .swish(let alpha): parameters = ["alpha": .float(alpha)]
      case .gelu(let tanh): parameters = ["approximate": .string(tanh ? "tanh" : "none")]
      case .isInf(let negative, let positive):
        return Call(kernel: "IsInf", parameters: ["detect_negative": .int(negative ? 1 : 0), "detect_positive": .int(positive ? 1 : 0)])
      default: break
      }
      return Call(kernel: op.function.onnxType, parameters: parameters)
    case let op as Variadic:
      return Call(kernel: op.function.rawValue)
    case let op as Clip:
      var parameters: [String: KernelParameter] = [:]
      if let bounds = op.attributeBounds { parameters = ["min": .floats([bounds.min]), "max": .floats([bounds.max])] }
      return Call(kernel: "Clip", parameters: parameters)
    case let op as Softmax:
      return Call(kernel: "Softmax", parameters: ["axis": .int(Int64(try Shapes.normalize(axis: op.axis, rank: rank))), "coerce2d": .int(op.coercesTo2D ? 1 : 0)])
    case is Cast, is CastLike:
      guard let type = outputs.first ?? nil else { return nil }
      let cast = (op as? Cast) ?? (op as? CastLike)?.cast(to: type.dtype)
      return Call(kernel: "Cast", parameters: ["to": .int(Int64(type.dtype.rawValue)), "saturate": .int(cast?.saturate == false ? 0 : 1), "round_mode": .string(cast?.roundMode.rawValue ?? "up")], usedInputs: 1)
    case is Reshape, is Flatten, is Squeeze, is Unsqueeze:
      guard let type = outputs.first ?? nil else { return nil }
      if !type.dims.contains(where: \.isDataDependent) {
        return Call(kernel: "Reshape", parameters: ["dims": .dims(type.dims)], usedInputs: 1)
      }
      if let reshape = op as? Reshape, reshape.shapeAttribute == nil {
        return Call(kernel: "ReshapeDynamic", parameters: ["allowzero": .int(reshape.allowZero ? 1 : 0)])
      }
      if let squeeze = op as? Squeeze {
        return Call(kernel: "SqueezeDynamic", parameters: squeeze.axesAttribute.map { ["axes": .ints($0.map { Int64($0) })] } ?? [:])
      }
      if let unsqueeze = op as? Unsqueeze {
        return Call(kernel: "UnsqueezeDynamic", parameters: unsqueeze.axesAttribute.map { ["axes": .ints($0.map { Int64($0) })] } ?? [:])
      }
      return nil
    case is Identity:
      return Call(kernel: "Identity")
    case let op as Dropout:
      // Inference (no training_mode input, or a constant false one) with an unused mask is a copy.
      let training = node.inputs.count > 2 ? node.inputs[2] : nil
      if !consumed(1) && training.map({ graph.values[$0].constant?.scalarInt == 0 }) ?? true {
        return Call(kernel: "Identity", usedInputs: 1, usedOutputs: 1)
      }
      var parameters: [String: KernelParameter] = ["mask_dtype": .int(Int64((outputs.count > 1 ? outputs[1]?.dtype : nil)?.rawValue ?? DType.bool.rawValue))]
      if let seed = op.seed { parameters["seed"] = .int(seed) }
      return Call(kernel: "Dropout", parameters: parameters, usedOutputs: consumed(1) ? nil : 1)
    case is Where, is MatMul, is Expand, is Tile, is Range, is Size:
      return Call(kernel: node.opType)
    case let op as Transpose:
      return Call(kernel: "Transpose", parameters: ["perm": .ints((try op.permutation(rank)).map { Int64($0) })])
    case let op as Concat:
      return Call(kernel: "Concat", parameters: ["axis": .int(Int64(op.axis))])
    case let op as Gather:
      return Call(kernel: "Gather", parameters: ["axis": .int(Int64(op.axis))])
    case let op as GatherElements:
      return Call(kernel: "GatherElements", parameters: ["axis": .int(Int64(op.axis))])
    case let op as GatherND:
      return Call(kernel: "GatherND", parameters: ["batch_dims": .int(Int64(op.batchDims))])
    case let op as Shape:
      var parameters: [String: KernelParameter] = ["start": .int(Int64(op.start))]
      if let end = op.end { parameters["end"] = .int(Int64(end)) }
      return Call(kernel: "Shape", parameters: parameters)
    case let op as Slice:
      guard let form = op.attributeForm else { return Call(kernel: "Slice") }
      var parameters: [String: KernelParameter] = ["starts": .ints(form.starts.map { Int64($0) }), "ends": .ints(form.ends.map { Int64($0) })]
      if let axes = form.axes { parameters["axes"] = .ints(axes.map { Int64($0) }) }
      return Call(kernel: "Slice", parameters: parameters)
    case let op as Split:
      var parameters: [String: KernelParameter] = ["axis": .int(Int64(op.axis))]
      if let split = op.splitAttribute { parameters["split"] = .ints(split.map { Int64($0) }) }
      if let n = op.numOutputs { parameters["num_outputs"] = .int(Int64(n)) }
      return Call(kernel: "Split", parameters: parameters)
    case let op as ConstantOfShape:
      let value: KernelParameter = op.value.dtype.isFloatingPoint ? .float(op.value.scalarDouble ?? 0) : .int(op.value.scalarInt ?? 0)
      return Call(kernel: "ConstantOfShape", parameters: ["value": value, "dtype": .int(Int64(op.value.dtype.rawValue))])
    case let op as Reduce:
      var parameters: [String: KernelParameter] = ["keepdims": .int(op.keepDims ? 1 : 0), "noop_with_empty_axes": .int(op.noopWithEmptyAxes ? 1 : 0)]
      if let axes = op.axesAttribute { parameters["axes"] = .ints(axes.map { Int64($0) }) }
      return Call(kernel: op.function.rawValue, parameters: parameters)
    case let op as CumSum:
      return Call(kernel: "CumSum", parameters: ["exclusive": .int(op.exclusive ? 1 : 0), "reverse": .int(op.reverse ? 1 : 0)])
    case let op as Trilu:
      return Call(kernel: "Trilu", parameters: ["upper": .int(op.upper ? 1 : 0)])
    case let op as LayerNormalization:
      let statistics = consumed(1) || consumed(2)
      return Call(kernel: "LayerNormalization", parameters: ["axis": .int(Int64(try Shapes.normalize(axis: op.axis, rank: rank))), "epsilon": .float(Double(op.epsilon))], usedOutputs: statistics ? nil : 1)
    case let op as RMSNormalization:
      return Call(kernel: "RMSNormalization", parameters: ["axis": .int(Int64(try Shapes.normalize(axis: op.axis, rank: rank))), "epsilon": .float(Double(op.epsilon))])
    case let op as Attention:
      var parameters: [String: KernelParameter] = [
        "is_causal": .int(op.isCausal ? 1 : 0), "softcap": .float(Double(op.softcap)),
        "qk_matmul_output_mode": .int(Int64(op.qkMatmulOutputMode)),
        "left_window_size": .int(Int64(op.leftWindow)), "right_window_size": .int(Int64(op.rightWindow)),
      ]
      if let h = op.qHeads { parameters["q_num_heads"] = .int(Int64(h)) }
      if let h = op.kvHeads { parameters["kv_num_heads"] = .int(Int64(h)) }
      if let s = op.scale { parameters["scale"] = .float(Double(s)) }
      return Call(kernel: "Attention", parameters: parameters)
    case let op as Conv:
      guard let x = facts.first ?? nil, let w = facts.count > 1 ? facts[1] : nil, let out = outputs.first ?? nil,
        let pads = try op.beginPads(x.dims, w.dims, out.dims)
      else { return nil }
      let spatial = x.rank - 2
      return Call(kernel: "Conv", parameters: [
        "strides": .ints((0..<spatial).map { Int64(op.geometry.stride($0)) }),
        "dilations": .ints((0..<spatial).map { Int64(op.geometry.dilation($0)) }),
        "pads_begin": .ints(pads.map { Int64($0) }), "group": .int(Int64(op.geometry.group)),
        "output": .dims(out.dims),
      ])
    case let op as ConvTranspose:
      guard let x = facts.first ?? nil, let w = facts.count > 1 ? facts[1] : nil, let out = outputs.first ?? nil,
        let pads = op.beginPads(x.dims, w.dims, out.dims)
      else { return nil }
      let spatial = x.rank - 2
      return Call(kernel: "ConvTranspose", parameters: [
        "strides": .ints((0..<spatial).map { Int64(op.geometry.stride($0)) }),
        "dilations": .ints((0..<spatial).map { Int64(op.geometry.dilation($0)) }),
        "pads_begin": .ints(pads.map { Int64($0) }), "group": .int(Int64(op.geometry.group)),
        "output": .dims(out.dims),
      ])
    case let op as Resize:
      var parameters: [String: KernelParameter] = [
        "mode": .string(op.mode.rawValue), "coordinate_transformation_mode": .string(op.coordinateTransformation),
        "nearest_mode": .string(op.nearestMode), "cubic_coeff_a": .float(Double(op.cubicCoefficient)),
        "exclude_outside": .int(op.excludeOutside ? 1 : 0), "extrapolation_value": .float(Double(op.extrapolationValue)),
        "antialias": .int(op.antialias ? 1 : 0), "keep_aspect_ratio_policy": .string(op.keepAspectRatioPolicy),
        "scales_only": .int(op.scalesOnly ? 1 : 0),
      ]
      if let axes = op.axes { parameters["axes"] = .ints(try axes.map { Int64(try Shapes.normalize(axis: $0, rank: rank)) }) }
      return Call(kernel: "Resize", parameters: parameters)
    case let op as Einsum:
      let ranks = facts.map { $0?.rank }
      guard let dtype = facts.first??.dtype, dtype.isFloatingPoint, !ranks.contains(nil) else { return nil }
      let (terms, output) = try op.axisLabels(ranks: ranks.compactMap { $0 })
      return Call(kernel: "Einsum", parameters: [
        "labels": .ints(terms.joined().map { Int64($0) }), "ranks": .ints(terms.map { Int64($0.count) }),
        "output": .ints(output.map { Int64($0) }),
      ])
    case let op as BatchNormalization:
      let training = op.trainingMode || (op.maximumOutputs > 3 && node.outputs.count > 1)
      return Call(kernel: "BatchNormalization", parameters: [
        "epsilon": .float(Double(op.epsilon)), "momentum": .float(Double(op.momentum)), "training": .int(training ? 1 : 0),
      ], usedOutputs: training ? nil : 1)
    default:
      return nil
    }
  }
}
