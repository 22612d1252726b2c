import AttncKernels
import AttncTensor

/// attnc op: one block's token merge (ToMe bipartite soft matching, `docs/token-merging.md`),
/// inserted by the `merge-tokens` pass between a block's attention and its MLP.
///
/// `TokenMerge(x [B, N, D], keys [B, H, N, d], sizes? [B, N], origin? [B, N₀], padding? [B, N])`
/// → `(x' [B, N − r, D], sizes' [B, N − r], origin' [B, N₀])`. The first merge of a model has no
/// `sizes` (every token size 1, or 0 where `padding` is 0) and no `origin` (`N₀ = N`); later ones
/// take the previous merge's outputs. Kernel: `TokenMergeKernel.merge`.
public struct TokenMergeOp: NamedOp {
  public static let type = "TokenMerge"

  /// The merge as the kernel runs it: `r` tokens merged away per batch item, the first token
  /// (a class token) protected or not.
  public var call: TokenMergeCall

  public init(r: Int, protectFirst: Bool = true) { call = TokenMergeCall(r: r, protectFirst: protectFirst) }

  /// - Throws: "keys [batch, 12, seq, 32] do not fit x [batch, seq - 8, 384]"…
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...5)
    let x = try inputs.required(0), keys = try inputs.required(1)
    guard x.dtype == .float, x.rank == 3 else { throw AttncError.invalid("x must be a float32 [B, N, D] tensor, got \(x.type)") }
    guard keys.dtype == .float, keys.rank == 4 else { throw AttncError.invalid("keys must be a float32 [B, H, N, d] tensor, got \(keys.type)") }
    let batch = try DimCheck.unify(x.dims[0], keys.dims[0], "batch of x and keys")
    let tokens = try DimCheck.unify(x.dims[1], keys.dims[2], "token counts of x and keys")
    let r = call.r
    guard r >= 0 else { throw AttncError.invalid("r must be non-negative, got \(r)") }
    if let n = tokens.value, r > (n + 1) / 2 - (call.protectFirst ? 1 : 0) {
      throw AttncError.invalid("cannot merge \(r) of \(n) tokens (at most \((n + 1) / 2 - (call.protectFirst ? 1 : 0)))")
    }
    var original = tokens
    if let sizes = inputs.optional(2) {
      guard sizes.dtype == .float, sizes.rank == 2 else { throw AttncError.invalid("sizes must be float32 [B, N], got \(sizes.type)") }
      _ = try DimCheck.unify(sizes.dims[0], batch, "batch of sizes and x")
      _ = try DimCheck.unify(sizes.dims[1], tokens, "token counts of sizes and x")
    }
    if let origin = inputs.optional(3) {
      guard origin.dtype == .int64, origin.rank == 2 else { throw AttncError.invalid("origin must be int64 [B, N₀], got \(origin.type)") }
      _ = try DimCheck.unify(origin.dims[0], batch, "batch of origin and x")
      original = origin.dims[1]
    }
    if let padding = inputs.optional(4) {
      guard padding.rank == 2 else { throw AttncError.invalid("the padding mask must be [B, N], got \(padding.type)") }
      _ = try DimCheck.unify(padding.dims[0], batch, "batch of the padding mask and x")
      _ = try DimCheck.unify(padding.dims[1], tokens, "token counts of the padding mask and x")
    }
    let merged = tokens - Dim(r)
    return [
      TensorType(.float, [batch, merged, x.dims[2]]), TensorType(.float, [batch, merged]), TensorType(.int64, [batch, original]),
    ]
  }
}

/// attnc op: `TokenUnmerge(y [B, N', …], origin [B, N₀])` → `[B, N₀, …]`, row `n` a copy of
/// `y[origin[n]]`: a per-token output of a merged model back at every original position.
public struct TokenUnmergeOp: NamedOp {
  public static let type = "TokenUnmerge"

  public init() {}

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let y = try inputs.required(0), origin = try inputs.required(1)
    guard y.rank >= 2 else { throw AttncError.invalid("y must have a token axis 1, got \(y.type)") }
    guard origin.dtype == .int64, origin.rank == 2 else { throw AttncError.invalid("origin must be int64 [B, N₀], got \(origin.type)") }
    var dims = y.dims
    dims[0] = try DimCheck.unify(y.dims[0], origin.dims[0], "batch of y and origin")
    dims[1] = origin.dims[1]
    return [TensorType(y.dtype, dims)]
  }
}

extension TokenMergeOp: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(call)
  }
}

extension TokenUnmergeOp: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(TokenUnmergeCall()) }
}
