import AttncIR
import AttncTensor

extension ExpandContribAttention {
  /// `com.microsoft.GroupQueryAttention`, growing-cache form (`total_sequence_length = P + S`):
  ///
  ///     q, k, v = per head (a packed query split first)
  ///     p[b] = max(seqlens_k[b] + 1 − S, 0)      batch entry b's own cache length (0: a prompt)
  ///     q, k = RotaryEmbedding(·, cos, sin, p[b] + i)   with do_rotary and no position_ids
  ///     K = Concat(past_key, k), V = Concat(past_value, v)
  ///     Y = merge(Softmax(scale·q·repeat(K)ᵀ + bias)·repeat(V))
  ///
  /// as ONNX Runtime computes it for a ragged batch, whose entries have caches of their own
  /// lengths in one `[B, Hkv, P, d]` buffer: entry b keeps its first `p[b]` past keys, its new
  /// keys follow them (`present[b] = past[b, :p[b]] ++ new[b] ++ zeros`, `P + S` long), and query
  /// `i` sees its cached keys and the new ones up to itself and below `seqlens_k[b] + 1` (in a
  /// right-padded prompt, padded queries see the real keys only). The attention runs on
  /// `Concat(past, new)` with the keys an entry does not have (`p[b] ≤ j < P`) masked, so a full
  /// batch (`p[b] = P`) computes exactly the plain growing cache; the presents are that
  /// concatenation moved into ONNX Runtime's layout.
  static func expandGroupQuery(
    _ node: Node, _ op: GroupQueryAttention, _ context: NodeContext, _ b: inout StandardNodes
  ) throws -> Bool {
    guard let query = node.inputs[0], let output = node.outputs.first, let seqlens = node.input(5) else { return false }
    let sizes = try op.widths(context.inputs)
    var (qIn, kIn, vIn) = (query, node.input(1), node.input(2))
    if kIn == nil {
      let widths = [sizes.query, sizes.kv, sizes.kv].map { Int64($0) }
      let parts = try b.add("split", "Split", [query, b.constant(widths, "split")], outputs: [nil, nil, nil],
                            attributes: Attributes(["axis": .int(2)]))
      (qIn, kIn, vIn) = (parts[0], parts[1], parts[2])
    }
    guard let kIn, let vIn else { return false }
    var q = try b.splitHeads(qIn, heads: op.heads, depth: sizes.depth, "q")
    var k = try b.splitHeads(kIn, heads: op.kvHeads, depth: sizes.depth, "k")
    let v = try b.splitHeads(vIn, heads: op.kvHeads, depth: sizes.depth, "v")
    let ragged = try RaggedCache(seqlens: seqlens, queries: q, &b)
    if op.doRotary, let cos = node.input(7), let sin = node.input(8) {
      let positions = try node.input(9) ?? ragged.rotaryPositions(&b)
      let rotary = (b.type(cos)?.dims.last?.value).map { 2 * $0 } ?? sizes.depth
      let attributes = Attributes([
        "interleaved": .int(op.rotaryInterleaved ? 1 : 0), "rotary_embedding_dim": .int(Int64(rotary < sizes.depth ? rotary : 0)),
      ])
      q = try b.add("q_rotary", "RotaryEmbedding", [q, cos, sin, positions], attributes: attributes, opset: 23)
      k = try b.add("k_rotary", "RotaryEmbedding", [k, cos, sin, positions], attributes: attributes, opset: 23)
    }
    var keys = k, values = v
    let axis2 = Attributes(["axis": .int(2)])
    if let pastKey = node.input(3), let pastValue = node.input(4) {
      keys = try b.add("keys", "Concat", [pastKey, k], attributes: axis2)
      values = try b.add("values", "Concat", [pastValue, v], attributes: axis2)
    }
    let layout = try ragged.presentLayout(keys: keys, kvHeads: op.kvHeads, depth: sizes.depth, &b)
    let groups = op.heads / op.kvHeads
    let repeatedKeys = try b.repeatHeads(keys, groups: groups, depth: sizes.depth, kvHeads: op.kvHeads, "repeat_k")
    let repeatedValues = try b.repeatHeads(values, groups: groups, depth: sizes.depth, kvHeads: op.kvHeads, "repeat_v")
    var visible = try b.paddingBias(layout.keep, keys: keys, filter: -.greatestFiniteMagnitude)
    if let bias = node.input(10) { visible = try b.add("visible_with_bias", "Add", [visible, bias]) }
    let mask = op.causal ? try b.causalBias(queries: q, keys: keys, visible: visible) : visible
    let attended = try b.attend(
      q: q, k: repeatedKeys, v: repeatedValues, scale: op.scale != 0 ? op.scale : 1 / Float(sizes.depth).squareRoot(), mask: mask)
    _ = try b.mergeHeads(attended, width: sizes.query, into: output)
    // After the attention, so that `fuse-cache-append` may fold the concatenation into it.
    for (index, value) in [(1, keys), (2, values)] {
      if let present = consumedOutput(node, index, context) { try layout.present(value, into: present, index, &b) }
    }
    return true
  }

  /// A ragged batch's cache lengths: `starts[b] = max(seqlens_k[b] + 1 − S, 0)` past keys of
  /// entry b are its own, and `lengths[b] = seqlens_k[b] + 1` keys in all (`[B]`, int64).
  struct RaggedCache {
    let starts: ValueID
    let lengths: ValueID
    /// `S`, the new tokens (int64 scalar), and `queries` `[B, H, S, d]`.
    let count: ValueID
    let queries: ValueID

    init(seqlens: ValueID, queries: ValueID, _ b: inout StandardNodes) throws {
      let seqlens64 = try b.add("seqlens_k_int64", "Cast", [seqlens], attributes: Attributes(["to": .int(Int64(DType.int64.rawValue))]))
      lengths = try b.add("cache_lengths", "Add", [seqlens64, b.constant([1], shape: [], "one_key")])
      count = try b.length(queries, axis: 2, "new_length")
      let before = try b.add("cache_starts_unclamped", "Sub", [lengths, count])
      starts = try b.add("cache_starts", "Max", [before, b.constant([0], shape: [], "no_start")])
      self.queries = queries
    }

    /// `[B, S]` rotary positions `starts[b] + i` (ONNX Runtime's positions without position_ids:
    /// `P + i` for a full batch).
    func rotaryPositions(_ b: inout StandardNodes) throws -> ValueID {
      let row = try b.add("rotary_index_row", "Unsqueeze", [try b.positions(count, "rotary_index"), b.constant([0], "rotary_row_axis")])
      let column = try b.add("rotary_starts_column", "Unsqueeze", [starts, b.constant([1], "rotary_column_axis")])
      return try b.add("rotary_position_ids", "Add", [row, column])
    }

    /// Where each entry's keys are in `Concat(past, new)` (`keys`, `[B, Hkv, P + S, d]`):
    /// `keep [B, P + S]`, the keys it has (its first `starts[b]` past keys and its new keys
    /// below `lengths[b]`), and the row gather that moves them to ONNX Runtime's present layout.
    func presentLayout(keys: ValueID, kvHeads: Int, depth: Int, _ b: inout StandardNodes) throws -> PresentLayout {
      let total = try b.length(keys, axis: 2, "key_length")
      let past = try b.add("past_length", "Sub", [total, count])
      let slots = try b.add("key_slots_row", "Unsqueeze", [try b.positions(total, "key_slots"), b.constant([0], "slot_row_axis")])
      let startColumn = try b.add("cache_starts_column", "Unsqueeze", [starts, b.constant([1], "start_column_axis")])
      let lengthColumn = try b.add("cache_lengths_column", "Unsqueeze", [lengths, b.constant([1], "length_column_axis")])
      let cached = try b.add("own_cached_key", "Less", [slots, startColumn])
      let fromNew = try b.add("new_key_index", "Sub", [slots, past])
      let newSeen = try b.add("new_keys_seen", "Sub", [lengthColumn, startColumn])
      let isNew = try b.add("is_new_key", "Not", [try b.add("before_new_keys", "Less", [fromNew, b.constant([0], shape: [], "zero_index")])])
      let seenNew = try b.add("seen_new_key", "And", [isNew, try b.add("new_key_below_length", "Less", [fromNew, newSeen])])
      let keep = try b.add("keys_kept", "Or", [cached, seenNew])
      // present[b, j] = concat[b, j] (j < starts), concat[b, P + j − starts] (j < starts + S), else 0.
      let shifted = try b.add("present_source_new", "Add", [try b.add("present_offset", "Sub", [slots, startColumn]), past])
      let clamped = try b.add("present_source_new_clamped", "Min", [shifted, try b.add("last_slot", "Sub", [total, b.constant([1], shape: [], "one_slot")])])
      let source = try b.add("present_source", "Where", [cached, slots, clamped])
      let filled = try b.add("present_filled", "Less", [slots, try b.add("present_end", "Add", [startColumn, count])])
      // As rows of the concatenation seen as [B·Hkv·(P + S), d]: (b·Hkv + h)·(P + S) + source[b, j].
      let batch = try b.length(keys, axis: 0, "batch")
      let rowCount = try b.add("cache_row_blocks", "Mul", [batch, b.constant([Int64(kvHeads)], shape: [], "kv_heads")])
      let blocks = try b.add("cache_row_block_index", "Reshape", [
        try b.positions(rowCount, "cache_row_block"), b.constant([-1, Int64(kvHeads), 1], "row_block_shape"),
      ])
      let firstRows = try b.add("cache_row_block_start", "Mul", [blocks, total])
      let rows = try b.add("present_source_rows", "Add", [
        firstRows, try b.add("present_source_3d", "Unsqueeze", [source, b.constant([1], "source_head_axis")]),
      ])
      return PresentLayout(
        keep: keep, rows: rows,
        filled: try b.add("present_filled_4d", "Unsqueeze", [filled, b.constant([1, 3], "present_axes")]), depth: depth)
    }
  }

  /// The gather from `Concat(past, new)` to ONNX Runtime's present layout (see `RaggedCache`).
  struct PresentLayout {
    let keep: ValueID
    /// `[B, Hkv, P + S]`: the row of `Concat(past, new)` as `[B·Hkv·(P + S), d]` each present
    /// slot takes (a `Gather` of whole rows, as fast as a copy), and `[B, 1, P + S, 1]` whether a
    /// slot holds a key (else 0).
    let rows: ValueID
    let filled: ValueID
    let depth: Int

    func present(_ concatenated: ValueID, into present: ValueID, _ index: Int, _ b: inout StandardNodes) throws {
      let flat = try b.add("present_\(index)_rows", "Reshape", [concatenated, b.constant([-1, Int64(depth)], "present_\(index)_row_shape")])
      let moved = try b.add("present_\(index)_moved", "Gather", [flat, rows], attributes: Attributes(["axis": .int(0)]))
      _ = try b.add("present_\(index)", "Where", [filled, moved, b.scalar(0, "present_\(index)_zero")], into: present)
    }
  }

  /// `com.microsoft.RotaryEmbedding(input, position_ids, cos, sin)` → ONNX's
  /// `RotaryEmbedding(input, cos, sin, position_ids)` (opset 23), one start position becoming
  /// `[B, S]` positions.
  static func expandRotary(
    _ node: Node, _ op: ContribRotaryEmbedding, _ context: NodeContext, _ b: inout StandardNodes
  ) throws -> Bool {
    guard node.inputs.count == 4, let x = node.inputs[0], var positions = node.inputs[1], let cos = node.inputs[2],
      let sin = node.inputs[3], let output = node.outputs.first, let rank = b.type(x)?.rank
    else { return false }
    if b.type(positions)?.rank == 1 {
      let count = try b.length(x, axis: rank == 4 ? 2 : 1, "length")
      let row = try b.add("positions", "Add", [try b.positions(count, "index"), positions])
      let wide = try b.add("positions_row", "Unsqueeze", [row, b.constant([0], "row_axis")])
      let shape = try b.add("input_shape", "Shape", [x])
      let batch = try b.add("batch", "Slice", [shape, b.constant([0], "batch_start"), b.constant([1], "batch_end")])
      let target = try b.add("positions_shape", "Concat", [batch, b.add("length_vector", "Unsqueeze", [count, b.constant([0], "length_axis")])],
                             attributes: Attributes(["axis": .int(0)]))
      positions = try b.add("position_ids", "Expand", [wide, target])
    }
    var attributes = Attributes(["interleaved": .int(op.interleaved ? 1 : 0), "rotary_embedding_dim": .int(Int64(op.rotaryDim))])
    if rank == 3 { attributes.values["num_heads"] = .int(Int64(op.numHeads)) }
    _ = try b.add("rotary", "RotaryEmbedding", [x, cos, sin, positions], into: output, attributes: attributes, opset: 23)
    return true
  }
}
