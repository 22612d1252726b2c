import AttncKernels
import AttncTensor

/// attnc op: attention on a KV cache that this step extends,
/// `CachedAttention(Q, pastK, newK, pastV, newV, mask?) → Y, K, V` with
/// `K = Concat(pastK, newK)` and `V = Concat(pastV, newV)` along the key axis (the present keys
/// and values) and `Y` the `attention` it extends, on them: `FusedAttention(Q, K, V, mask)`.
///
/// Made at lowering by `fuse-cache-append` from a `FusedAttention` whose K and V are such
/// Concats (decoders exported with `past_key_values`): a decoding step then reads the cache once,
/// copying it into the present as it attends (`TiledAttention.runAppending`).
public struct CachedAttention: NamedOp {
  public static let type = "CachedAttention"

  /// The attention on the present keys and values (its spec, shape rule and kernel call).
  public var attention: FusedAttention

  public init(_ attention: FusedAttention) { self.attention = attention }

  /// `Y` as `FusedAttention` gives it on the concatenated keys and values, and their types.
  /// - Throws: "the cache and the new keys differ off the key axis…", and `FusedAttention`'s
  ///   shape errors.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    let masked = attention.spec.mask != .none
    try inputs.expectCount(masked ? 6...6 : 5...5)
    let q = try inputs.required(0)
    var present: [ValueFact] = []
    for (name, pastIndex) in [("keys", 1), ("values", 3)] {
      let past = try inputs.required(pastIndex), new = try inputs.required(pastIndex + 1)
      guard past.rank == 4, new.rank == 4, past.dtype == new.dtype else {
        throw AttncError.invalid("the cache and the new \(name) must be 4-D of one type, got \(past.type) and \(new.type)")
      }
      var dims = past.dims
      for axis in [0, 1, 3] { dims[axis] = try DimCheck.unify(past.dims[axis], new.dims[axis], "the cache's and the new \(name)' dim \(axis)") }
      dims[2] = past.dims[2] + new.dims[2]
      present.append(ValueFact(type: TensorType(past.dtype, dims)))
    }
    let y = try attention.outputTypes([q, present[0], present[1]] + (masked ? [inputs.optional(5)] : []), outputCount: 1)
    return y + present.map(\.type)
  }
}

extension CachedAttention: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    var call = attention.call
    call.appendsCache = true
    return Lowering(call)
  }
}
