import AttncIR
import AttncTensor

/// The pieces of attention the contrib-op expansions spell out in standard ops, in the forms
/// `match-attention` reads back (the core, the GQA repeat, masks the probe classifies).
extension StandardNodes {
  /// `[B, S, H·d]` → `[B, H, S, d]`.
  mutating func splitHeads(_ x: ValueID, heads: Int, depth: Int, _ name: String) throws -> ValueID {
    let split = try add(name + "_heads", "Reshape", [x, constant([0, 0, Int64(heads), Int64(depth)], name + "_shape")])
    return try add(name + "_per_head", "Transpose", [split], attributes: Attributes(["perm": .ints([0, 2, 1, 3])]))
  }

  /// `[B, H, S, dv]` → `[B, S, H·dv]`, into `output` when given.
  mutating func mergeHeads(_ y: ValueID, width: Int, into output: ValueID?) throws -> ValueID {
    let swapped = try add("context_transposed", "Transpose", [y], attributes: Attributes(["perm": .ints([0, 2, 1, 3])]))
    return try add("output", "Reshape", [swapped, constant([0, 0, Int64(width)], "output_shape")], into: output)
  }

  /// `[B, Hkv, L, d]` with each head repeated `groups` times, `[B, Hkv·groups, L, d]`, as
  /// `Unsqueeze → Expand → Reshape` (which `match-attention`'s `repeat-kv` reads through); `Hkv`
  /// from `x`'s type, or `kvHeads` for a value made by the expansion (not yet typed).
  mutating func repeatHeads(_ x: ValueID, groups: Int, depth: Int, kvHeads: Int? = nil, _ name: String) throws -> ValueID {
    guard groups > 1, let heads = type(x)?.dims[1].value ?? kvHeads else { return x }
    let wide = try add(name + "_unsqueezed", "Unsqueeze", [x, constant([2], name + "_axis")])
    let expanded = try add(name + "_expanded", "Expand", [wide, constant([1, 1, Int64(groups), 1, 1], name + "_groups")])
    let shape = try add(name + "_shape", "Shape", [x])
    let batch = try add(name + "_batch", "Slice", [shape, constant([0], name + "_zero"), constant([1], name + "_one")])
    let length = try add(name + "_length", "Slice", [shape, constant([2], name + "_two"), constant([3], name + "_three")])
    let target = try add(
      name + "_target", "Concat", [batch, constant([Int64(heads * groups)], name + "_heads"), length, constant([Int64(depth)], name + "_depth")],
      attributes: Attributes(["axis": .int(0)]))
    return try add(name + "_repeated", "Reshape", [expanded, target])
  }

  /// The length of `x`'s axis `axis`, an int64 scalar.
  mutating func length(_ x: ValueID, axis: Int, _ name: String) throws -> ValueID {
    let shape = try add(name + "_shape", "Shape", [x])
    return try add(name, "Gather", [shape, constant([Int64(axis)], shape: [], name + "_axis")], attributes: Attributes(["axis": .int(0)]))
  }

  /// `0, 1, …, n − 1` for an int64 scalar `n`.
  mutating func positions(_ count: ValueID, _ name: String) throws -> ValueID {
    try add(name, "Range", [constant([0], shape: [], name + "_start"), count, constant([1], shape: [], name + "_step")])
  }

  /// The additive key padding of a key mask: `filter` where it is 0, else 0, as `[B, 1, 1, L]`
  /// (or `[B, 1, S, L]` from a `[B, S, L]` mask). `[B]` key lengths pad keys `j ≥ length[b]` of
  /// `keys` (`[B, ·, L, d]`).
  mutating func paddingBias(_ mask: ValueID, keys: ValueID, filter: Float) throws -> ValueID {
    var mask = mask
    let rank = type(mask)?.rank ?? 2
    if rank == 1 {
      let total = try length(keys, axis: 2, "key_length")
      let row = try add("key_positions_row", "Unsqueeze", [try positions(total, "key_positions"), constant([0], "row_axis")])
      let lengths = try add("key_lengths", "Cast", [mask], attributes: Attributes(["to": .int(Int64(DType.int64.rawValue))]))
      let column = try add("key_lengths_column", "Unsqueeze", [lengths, constant([1], "column_axis")])
      mask = try add("key_mask", "Less", [row, column])
    }
    let float = try add("mask_float", "Cast", [mask], attributes: Attributes(["to": .int(Int64(DType.float.rawValue))]))
    let padded = try add("mask_inverted", "Sub", [scalar(1, "one"), float])
    let bias = try add("mask_bias", "Mul", [padded, scalar(filter, "mask_filter")])
    return try add("mask_bias_4d", "Unsqueeze", [bias, constant(rank == 3 ? [1] : [1, 2], "mask_axes")])
  }

  /// The causal cut of `[B, ·, S, d]` queries on `[B, ·, L, d]` keys, bottom-right aligned (query
  /// `i` sees keys `j ≤ i + L − S`: a cache of `L − S` keys before the new ones): `−inf` past the
  /// diagonal, `visible` (or 0) elsewhere, `[·, S, L]`.
  mutating func causalBias(queries: ValueID, keys: ValueID, visible: ValueID?) throws -> ValueID {
    let count = try length(queries, axis: 2, "query_length"), total = try length(keys, axis: 2, "total_length")
    let offset = try add("cache_length", "Sub", [total, count])
    let rows = try add("query_positions", "Add", [try positions(count, "query_index"), offset])
    let column = try add("query_positions_column", "Unsqueeze", [rows, constant([1], "query_axis")])
    let row = try add("causal_key_row", "Unsqueeze", [try positions(total, "causal_keys"), constant([0], "causal_key_axis")])
    let hidden = try add("causal_hidden", "Greater", [row, column])
    return try add("causal_mask", "Where", [hidden, scalar(-.infinity, "hidden"), visible ?? scalar(0, "seen")])
  }

  /// `softmax(scale·q·kᵀ + mask)·v` on per-head `q [B, H, S, d]`, `k [B, H, L, d]`, `v [B, H, L, dv]`.
  mutating func attend(q: ValueID, k: ValueID, v: ValueID, scale: Float, mask: ValueID?) throws -> ValueID {
    let keysT = try add("keys_transposed", "Transpose", [k], attributes: Attributes(["perm": .ints([0, 1, 3, 2])]))
    var scores = try add("scaled", "Mul", [try add("scores", "MatMul", [q, keysT]), scalar(scale, "scale")])
    if let mask { scores = try add("masked", "Add", [scores, mask]) }
    let probabilities = try add("softmax", "Softmax", [scores], attributes: Attributes(["axis": .int(-1)]))
    return try add("context", "MatMul", [probabilities, v])
  }
}
