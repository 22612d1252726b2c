import AttncKernels
import AttncTensor

/// The standard ONNX form of one block's token merge: a call of a local function
/// `ai.attnc::token_merge_<n>` whose body is `TokenMergeKernel.merge` in standard ops.
///
/// - sizes: the previous merge's, else the padding mask as 0/1, else ones;
/// - metric: the keys averaged over heads (`ReduceSum · 1/H`), each row scaled by
///   `1/‖row‖` (0 for a zero row);
/// - matching: A = even positions, B = odd (`Slice` with step 2), `MatMul(A, Bᵀ)`, protected B
///   columns (size 0) set to −∞; each A row's best B by `ReduceMax` and `ArgMax` (the first
///   maximum, `select_last_index` 0, as the kernel's scan); protected A rows (size 0, and the
///   first token) get −∞; the `r` sources by `TopK` (ONNX breaks ties by the lower index, as the
///   kernel's ranking does);
/// - destinations: kept A tokens at the exclusive `CumSum` of the kept flags, B token `j` at
///   `|A| − r + j`, a source at its partner's slot; interleaved back to positions;
/// - merge: sizes and counts summed per slot, each token weighted by `s_n / S'_slot` (1 when it
///   is alone in its slot, so a kept token is copied exactly) and the rows summed per slot, each
///   sum a `ScatterND` with `reduction = add` into the flattened `[B·N'(, D)]` rows
///   `slot + b·N'` (the source flags likewise);
/// - origin: `GatherElements(destination, origin)`, or the destination for the first merge.
///
/// An input with fewer mergeable tokens than `r` (which the plan refuses at run time) has a
/// `−∞` among the chosen best edges; the form then returns NaN for that batch item (`0·(−∞)`
/// added to its outputs) rather than a silently different merge.
extension TokenMergeOp: ONNXExpressible {
  /// `ScatterND` takes `reduction` from opset 16.
  public var minimumONNXOpset: Int { 16 }

  public func onnxForm(_ node: ONNXFormNode, into b: inout ONNXGraphBuilder) throws {
    guard b.opset >= minimumONNXOpset else {
      throw AttncError.unsupported("token merging needs opset \(minimumONNXOpset) (ScatterND with reduction); writing \(b.opset)")
    }
    var f = ONNXGraphBuilder(opset: b.opset, prefix: "f", isFunctionBody: true)
    let x = "X", keys = "K"
    var inputs = [x, keys], arguments = [try node.input(0), try node.input(1)]
    func optional(_ index: Int, _ name: String) -> String? {
      guard index < node.inputs.count, let given = node.inputs[index] else { return nil }
      inputs.append(name)
      arguments.append(given)
      f.reserve(name)
      return name
    }
    let (sizes, origin, padding) = (optional(2, "S"), optional(3, "O"), optional(4, "P"))
    for name in ["X", "K", "Y", "SIZES", "ORIGIN"] { f.reserve(name) }
    try body(&f, x: x, keys: keys, sizes: sizes, origin: origin, padding: padding, heads: node.inputFacts[1]?.dims[1].value)
    b.call(
      f, named: "token_merge", domain: FusedAttention.functionDomain, inputs: inputs, arguments: arguments,
      results: ["Y", "SIZES", "ORIGIN"], outputs: node.outputs,
      docString: "attnc token merge (ToMe bipartite soft matching) of r = \(call.r) tokens\(call.protectFirst ? ", first token protected" : "")")
  }

  /// Writes the function body: `X [B, N, D]`, `K [B, H, N, d]` and the optional inputs →
  /// `Y [B, N − r, D]`, `SIZES [B, N − r]`, `ORIGIN [B, N₀]`.
  private func body(
    _ f: inout ONNXGraphBuilder, x: String, keys: String, sizes: String?, origin: String?, padding: String?, heads: Int?
  ) throws {
    let toFloat: [(name: String, value: ONNXAttribute)] = [("to", .int(Int64(DType.float.rawValue)))]
    let (zero, one) = (f.scalar(0, "fzero"), f.scalar(1, "fone"))
    let (intZero, intOne) = (f.int(0, "zero"), f.int(1, "one"))
    func filled(_ shape: String, _ value: HostTensor) -> String { f.op("ConstantOfShape", shape, attributes: [("value", .tensor(value))]) }
    let batch = f.dimension(of: x, axis: 0), tokens = f.dimension(of: x, axis: 1)  // [1] each
    let batchTokens = f.add("Concat", [batch, tokens], [("axis", .int(0))])[0]
    // Sizes: carried, or 0/1 from the padding mask, or ones.
    let s: String
    if let sizes {
      s = sizes
    } else if let padding {
      s = f.op("Cast", f.op("Not", f.op("Equal", f.op("Cast", padding, attributes: toFloat), zero)), attributes: toFloat)
    } else {
      s = filled(batchTokens, HostTensor(floats: [1], shape: [1]))
    }
    guard call.r > 0 else {
      f.op("Identity", x, output: "Y")
      f.op("Identity", s, output: "SIZES")
      let identity = f.op("Expand", f.op("Range", intZero, f.squeeze(tokens, axes: [0]), intOne), f.add("Concat", [batch, f.ints([1], "one_vector")], [("axis", .int(0))])[0])
      if let origin {
        f.op("GatherElements", identity, origin, attributes: [("axis", .int(1))], output: "ORIGIN")
      } else {
        f.op("Identity", identity, output: "ORIGIN")
      }
      return
    }
    // The metric: keys averaged over heads, rows scaled to unit length (a zero row stays zero).
    let summed = f.reduce("ReduceSum", keys, axes: [1], keepDims: false)
    let metric = heads.map { f.op("Mul", summed, f.scalar(1 / Float($0), "inverse_heads")) } ?? f.reduce("ReduceMean", keys, axes: [1], keepDims: false)
    let squares = f.reduce("ReduceSum", f.op("Mul", metric, metric), axes: [2])
    let inverse = f.op("Where", f.op("Greater", squares, zero), f.op("Reciprocal", f.op("Sqrt", squares)), zero)
    let normalized = f.op("Mul", metric, inverse)
    // A = even positions, B = odd.
    func strided(_ value: String, from start: Int) -> String {
      f.op("Slice", value, f.ints([start], "start"), f.ints([Int(Int64.max)], "end"), f.ints([1], "token_axis"), f.ints([2], "step"))
    }
    let (setA, setB) = (strided(normalized, from: 0), strided(normalized, from: 1))
    let (sizesA, sizesB) = (strided(s, from: 0), strided(s, from: 1))
    let negativeInfinity = f.scalar(-.infinity, "minus_infinity")
    let scores = f.op("MatMul", setA, f.transpose(setB, [0, 2, 1]))  // [B, |A|, |B|]
    let open = f.op("Where", f.unsqueeze(f.op("Equal", sizesB, zero), axes: [1]), negativeInfinity, scores)
    let edge = f.reduce("ReduceMax", open, axes: [2], keepDims: false)  // [B, |A|]
    let partner = f.op("ArgMax", open, attributes: [("axis", .int(2)), ("keepdims", .int(0)), ("select_last_index", .int(0))])
    let countA = f.dimension(of: setA, axis: 1), countB = f.dimension(of: setB, axis: 1)  // [1] each
    var protectedA = f.op("Equal", sizesA, zero)
    if call.protectFirst {
      protectedA = f.op("Or", protectedA, f.op("Equal", f.op("Range", intZero, f.squeeze(countA, axes: [0]), intOne), intZero))
    }
    let best = f.op("Where", protectedA, negativeInfinity, edge)
    let r = f.ints([call.r], "r")
    let chosen = f.add("TopK", [best, r], [("axis", .int(1)), ("largest", .int(1)), ("sorted", .int(1))], count: 2)  // values, indices [B, r]
    // Sums per slot: ScatterND with reduction add over `[B·length(, width)]`, row `index + b·length`.
    func scatterAdd(_ length: String, _ index: String, _ updates: String, _ zeroValue: HostTensor, width: String? = nil) -> String {
      let offsets = f.unsqueeze(f.op("Mul", f.op("Range", intZero, f.squeeze(batch, axes: [0]), intOne), f.squeeze(length, axes: [0])), axes: [1])
      let rows = f.unsqueeze(f.op("Add", index, offsets), axes: [2])  // [B, n, 1]
      let flatLength = f.op("Mul", batch, length)
      let shape = width.map { f.add("Concat", [flatLength, $0], [("axis", .int(0))])[0] } ?? flatLength
      let flat = f.op("ScatterND", filled(shape, zeroValue), rows, updates, attributes: [("reduction", .string("add"))])
      return f.op("Reshape", flat, f.add("Concat", [batch, length] + (width.map { [$0] } ?? []), [("axis", .int(0))])[0])
    }
    // Destinations: kept A by their rank among the kept, B after them, sources at their partner's slot.
    let ones = filled(f.op("Shape", chosen[1]), HostTensor(int64s: [1], shape: [1]))
    let flags = scatterAdd(countA, chosen[1], ones, HostTensor(int64s: [0], shape: [1]))  // [B, |A|]: 1 = source
    let isSource = f.op("Equal", flags, intOne)
    let kept = f.op("Sub", countA, r)  // [1]: |A| − r
    let slotA = f.op("CumSum", f.op("Sub", intOne, flags), intOne, attributes: [("exclusive", .int(1))])
    let destinationA = f.op("Where", isSource, f.op("Add", partner, kept), slotA)  // [B, |A|]
    let oneVector = f.ints([1], "one_vector")
    let batchColumn = f.add("Concat", [batch, oneVector], [("axis", .int(0))])[0]  // [B, 1]
    let destinationB = f.op("Expand", f.op("Add", f.op("Range", intZero, f.squeeze(countB, axes: [0]), intOne), kept), batchColumn)
    // Interleave back to positions: [B, |A|, 2] → [B, 2|A|] → the first N.
    let paddedB = f.add("Concat", [destinationB, f.op("Slice", destinationA, countB, countA, oneVector)], [("axis", .int(1))])[0]
    let pairs = f.add("Concat", [f.unsqueeze(destinationA, axes: [2]), f.unsqueeze(paddedB, axes: [2])], [("axis", .int(2))])[0]
    let destination = f.op("Slice", f.reshape(pairs, [0, -1]), f.ints([0], "start"), tokens, oneVector)  // [B, N]
    // Merge: sizes and counts per slot, then each row weighted by s_n / S'_slot (1 when alone) and summed.
    let outputTokens = f.op("Sub", tokens, r)  // [1]: N' = N − r
    let floatZero = HostTensor(floats: [0], shape: [1])
    let mergedSizes = scatterAdd(outputTokens, destination, s, floatZero)
    let counts = scatterAdd(outputTokens, destination, filled(batchTokens, HostTensor(floats: [1], shape: [1])), floatZero)
    func gathered(_ perSlot: String) -> String { f.op("GatherElements", perSlot, destination, attributes: [("axis", .int(1))]) }
    let alone = f.op("Equal", gathered(counts), one)
    let weight = f.op("Where", alone, one, f.op("Div", s, gathered(mergedSizes)))
    let width = f.dimension(of: x, axis: 2)
    let shaped = scatterAdd(outputTokens, destination, f.op("Mul", x, f.unsqueeze(weight, axes: [2])), floatZero, width: width)
    // NaN for a batch item whose chosen edges include −∞ (fewer mergeable tokens than r).
    let poison = f.op("Mul", f.reduce("ReduceSum", chosen[0], axes: [1]), zero)  // [B, 1]
    f.op("Add", shaped, f.unsqueeze(poison, axes: [2]), output: "Y")
    f.op("Add", mergedSizes, poison, output: "SIZES")
    if let origin {
      f.op("GatherElements", destination, origin, attributes: [("axis", .int(1))], output: "ORIGIN")
    } else {
      f.op("Identity", destination, output: "ORIGIN")
    }
  }
}

/// The standard ONNX form of an unmerge: `Gather` of the rows `origin + b·N'` from `y` flattened
/// to `[B·N', …]`.
extension TokenUnmergeOp: ONNXExpressible {
  public func onnxForm(_ node: ONNXFormNode, into b: inout ONNXGraphBuilder) throws {
    let (y, origin) = (try node.input(0), try node.input(1))
    let (zero, one) = (b.int(0, "zero"), b.int(1, "one"))
    let batch = b.scalarDimension(of: y, axis: 0), current = b.scalarDimension(of: y, axis: 1)
    let offsets = b.unsqueeze(b.op("Mul", b.op("Range", zero, batch, one), current), axes: [1])  // [B, 1]
    let rest = b.op("Shape", y, attributes: [("start", .int(2))])
    let flat = b.op("Reshape", y, b.add("Concat", [b.ints([-1], "minus_one"), rest], [("axis", .int(0))])[0])
    b.op("Gather", flat, b.op("Add", origin, offsets), attributes: [("axis", .int(0))], output: node.outputs[0])
  }
}
