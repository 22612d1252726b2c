import AttncKernels
import AttncTensor

/// attnc op: rotary position embedding as exporters spell it, `FusedRotary(X, cos, sin)`:
///
///     y[..., :R] = x_rot·cos + rotate(x_rot)·sin     x_rot = x[..., :R]
///     y[..., R:] = x[..., R:]
///
/// with `rotate` the rotate-half pairing `(−x₂, x₁)` of halves, or of neighbours when
/// `interleaved`. `cos` and `sin` broadcast to X's leading axes and hold `R` entries a row (one
/// per feature, as the model multiplies them) or `R/2`. Made by `match-rotary` from the exported
/// `Slice`/`Neg`/`Concat`/`Mul`/`Add` chains; runs `RotaryEmbeddingKernel.runBroadcast`.
public struct FusedRotary: NamedOp {
  public static let type = "FusedRotary"

  /// `R`: the features rotated, a prefix of the last axis; 0 = all of it.
  public var rotaryDim: Int
  public var interleaved: Bool

  public init(rotaryDim: Int, interleaved: Bool = false) {
    self.rotaryDim = rotaryDim
    self.interleaved = interleaved
  }

  /// X's type.
  /// - Throws: "cos [1, 7] does not broadcast to X's leading axes [batch, 4, seq]…", a rotary
  ///   dim that is odd or wider than the last axis.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(3...3)
    let x = try inputs.required(0)
    try x.expectFloatingPoint("X")
    guard x.rank >= 1, let depth = x.dims.last?.value else {
      throw AttncError.invalid("X must have a known last axis, got \(x.dims.shapeDescription)")
    }
    let rotary = rotaryDim == 0 ? depth : rotaryDim
    guard rotary % 2 == 0, rotary <= depth else {
      throw AttncError.invalid("rotary dim \(rotary) must be even and at most X's last axis \(depth)")
    }
    for (index, name) in [(1, "cos"), (2, "sin")] {
      let table = try inputs.required(index)
      try table.expectSameType(as: x, name, "X")
      let leading = Array(x.dims.dropLast())
      guard table.rank >= 1, table.rank <= x.rank, let width = table.dims.last?.value, width == rotary || width == rotary / 2,
        (try? Shapes.broadcast([leading, Array(table.dims.dropLast())])) == leading
      else {
        throw AttncError.invalid("\(name) \(table.dims.shapeDescription) does not broadcast to X's leading axes \(Array(x.dims.dropLast()).shapeDescription) with \(rotary) or \(rotary / 2) angles a row")
      }
    }
    return [x.type]
  }
}

extension FusedRotary: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(RotaryEmbeddingCall(interleaved: interleaved, rotaryDim: rotaryDim, numHeads: 0, broadcastTables: true))
  }
}

extension FusedRotary: ONNXExpressible {
  /// `x_rot·cos + rotate(x_rot)·sin` in standard ops: `rotate` is `Concat(−x₂, x₁)` of the
  /// halves, or per neighbouring pair through a `[..., R/2, 2]` view when interleaved; tables of
  /// `R/2` angles are widened to one per feature; the features past `R` are concatenated back.
  public func onnxForm(_ node: ONNXFormNode, into b: inout ONNXGraphBuilder) throws {
    let (x, cos, sin) = (try node.input(0), try node.input(1), try node.input(2))
    guard let xFact = node.inputFacts[0], let depth = xFact.dims.last?.value, let tableFact = node.inputFacts[1],
      let width = tableFact.dims.last?.value
    else { throw AttncError.invalid("rotary X and tables need known last axes") }
    let rotary = rotaryDim == 0 ? depth : rotaryDim, half = rotary / 2
    let rotated = rotary < depth ? b.slice(x, axis: -1, start: 0, end: rotary) : x
    let keep = { (rank: Int, tail: [Int]) in [Int](repeating: 0, count: rank - 1) + tail }
    func widened(_ table: String) -> String {
      guard width == half else { return table }
      if !interleaved { return b.add("Concat", [table, table], [("axis", .int(-1))])[0] }
      let pairs = b.add("Concat", [b.unsqueeze(table, axes: [tableFact.rank]), b.unsqueeze(table, axes: [tableFact.rank])], [("axis", .int(-1))])[0]
      return b.reshape(pairs, keep(tableFact.rank, [rotary]))
    }
    let partner: String
    if interleaved {
      let pairs = b.reshape(rotated, keep(xFact.rank, [half, 2]))
      let (first, second) = (b.slice(pairs, axis: -1, start: 0, end: 1), b.slice(pairs, axis: -1, start: 1, end: 2))
      partner = b.reshape(b.add("Concat", [b.op("Neg", second), first], [("axis", .int(-1))])[0], keep(xFact.rank, [rotary]))
    } else {
      let (first, second) = (b.slice(rotated, axis: -1, start: 0, end: half), b.slice(rotated, axis: -1, start: half, end: rotary))
      partner = b.add("Concat", [b.op("Neg", second), first], [("axis", .int(-1))])[0]
    }
    let y = b.op("Add", b.op("Mul", rotated, widened(cos)), b.op("Mul", partner, widened(sin)))
    if rotary < depth {
      b.add("Concat", [y, b.slice(x, axis: -1, start: rotary, end: depth)], [("axis", .int(-1))], outputs: node.outputs)
    } else {
      b.op("Identity", y, output: node.outputs[0])
    }
  }
}
