import AttncKernels
import AttncTensor

/// ONNX `RotaryEmbedding` (opset 23): rotates pairs `(x₁, x₂)` of each head's first
/// `rotary_embedding_dim` features (default: all) by position-dependent angles,
/// `(x₁·cos - x₂·sin, x₁·sin + x₂·cos)`; pairs are the two halves, or neighbours when
/// `interleaved = 1`. The output has X's type and shape.
///
/// `X [B, H, S, D]`, or `[B, S, H·D]` with `num_heads` given. With `position_ids [B, S]` (int64)
/// the caches are tables `cos_cache, sin_cache [max_position, R/2]`; without, they are
/// `[B, S, R/2]`; `R` (the rotary dim) is even and at most `D`.
public struct RotaryEmbedding: AttributedOp {
  public var interleaved: Bool
  public var numHeads: Int?
  /// `rotary_embedding_dim`; 0 = the head size.
  public var rotaryDim: Int

  public init(attributes: Attributes, opset: Int) throws {
    interleaved = try attributes.int("interleaved", default: 0) != 0
    numHeads = try attributes.int("num_heads")
    rotaryDim = try attributes.int("rotary_embedding_dim", default: 0)
    if let numHeads, numHeads < 1 {
      throw AttncError.invalid("attribute 'num_heads' must be positive, got \(numHeads)")
    }
    guard rotaryDim >= 0, rotaryDim % 2 == 0 else {
      throw AttncError.invalid(
        "attribute 'rotary_embedding_dim' must be even and non-negative, got \(rotaryDim)")
    }
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(3...4)
    let operands = try inputs.floatOperands("X", "cos_cache", "sin_cache")
    let (x, cos, sin) = (operands[0], operands[1], operands[2])
    let batch: Dim
    let length: Dim
    let headSize: Dim
    switch x.rank {
    case 4:
      (batch, length, headSize) = (x.dims[0], x.dims[2], x.dims[3])
    case 3:
      guard let numHeads else {
        throw AttncError.invalid("input 'X' is 3-D and needs the attribute 'num_heads'")
      }
      (batch, length) = (x.dims[0], x.dims[1])
      headSize = try DimCheck.divide(x.dims[2], by: numHeads, "X's hidden size")
    default:
      throw AttncError.invalid("input 'X' must be 3-D or 4-D, got rank \(x.rank)")
    }
    let rotary = rotaryDim > 0 ? Dim(rotaryDim) : headSize
    if let r = rotary.value, let d = headSize.value, r > d || r % 2 != 0 {
      throw AttncError.invalid("rotary dim \(r) must be even and at most the head size \(d)")
    }
    let half = rotary.floorDivided(by: 2)
    let cacheRank: Int
    if let positions = inputs.optional(3) {
      guard positions.dtype == .int64 else {
        throw AttncError.invalid("input 'position_ids' must be int64, got \(positions.dtype)")
      }
      try positions.expectRank(2, "position_ids")
      _ = try DimCheck.unify(positions.dims[0], batch, "batch sizes of 'position_ids' and X")
      _ = try DimCheck.unify(positions.dims[1], length, "sequence lengths of 'position_ids' and X")
      cacheRank = 2
    } else {
      cacheRank = 3
    }
    for (fact, name) in [(cos, "cos_cache"), (sin, "sin_cache")] {
      try fact.expectRank(cacheRank, name)
      _ = try DimCheck.unify(
        fact.dims[cacheRank - 1], half, "last dim of '\(name)' and rotary dim / 2")
      if cacheRank == 3 {
        _ = try DimCheck.unify(fact.dims[0], batch, "batch sizes of '\(name)' and X")
        _ = try DimCheck.unify(fact.dims[1], length, "sequence lengths of '\(name)' and X")
      }
    }
    return [x.type]
  }
}

extension RotaryEmbedding: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(RotaryEmbeddingCall(interleaved: interleaved, rotaryDim: rotaryDim, numHeads: numHeads ?? 0))
  }
}
