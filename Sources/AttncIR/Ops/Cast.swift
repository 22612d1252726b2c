import AttncKernels
import AttncTensor

/// `Cast(x)`: every element converted to the `to` dtype, dims unchanged.
///
/// Floats to integers truncate toward zero and wrap to the width (undefined in ONNX when out of
/// range); integers wrap; anything to bool is `x != 0`. To the 8-bit float formats values round
/// to nearest even and, with `saturate` (opset 19, default 1), clamp to the largest finite value;
/// without it they overflow to infinity (E5M2) or NaN. float4e2m1 always saturates and maps NaN
/// to -0 (no NaN encoding). float8e8m0 keeps the power of two, rounded as `round_mode` says
/// (`up`, `down`, `nearest`; opset 24). `NarrowFloat` holds these rules, shared with the runtime
/// kernel. Strings parse as numbers ("1e-5", "INF", "NaN") and
/// numbers print in their shortest form. Integer contents pass through, so a `Cast` in the middle
/// of shape arithmetic keeps the dims symbolic.
public struct Cast: AttributedOp, ContentPropagating {
  /// How a value becomes a float8e8m0 power of two (`up`, `down`, `nearest`).
  public typealias RoundMode = NarrowFloat.Rounding

  /// The target dtype.
  public var to: DType
  /// The `saturate` attribute: clamp out-of-range values of 8-bit float targets.
  public var saturate: Bool
  /// The `round_mode` attribute, for float8e8m0 targets.
  public var roundMode: RoundMode

  /// A cast to `to` with the ONNX defaults.
  public init(to: DType, saturate: Bool = true, roundMode: RoundMode = .up) {
    self.to = to
    self.saturate = saturate
    self.roundMode = roundMode
  }

  /// Reads `to` (a type name such as "FLOAT" in opsets 1–5, a `DataType` number from 6),
  /// `saturate` (default 1) and `round_mode` (default "up").
  /// - Throws: "attribute 'to' is required"; "unknown tensor data type 40"; "unknown tensor
  ///   data type name 'FLOAT128'"; "round_mode 'sideways' is not one of up, down, nearest".
  public init(attributes: Attributes, opset: Int) throws {
    switch attributes["to"] {
    case .string(let name)?:
      guard let dtype = Cast.legacyNames[name.uppercased()] else {
        throw AttncError.unsupported("unknown tensor data type name '\(name)'")
      }
      self.init(to: dtype)
    case .int(let number)?:
      self.init(to: try DType(onnx: Int32(clamping: number)))
    case nil:
      throw AttncError.invalid("attribute 'to' is required")
    default:
      throw AttncError.invalid("attribute 'to' must be an int")
    }
    try readConversionAttributes(attributes)
  }

  /// The `TensorProto.DataType` names opsets 1–5 spell `to` with.
  static let legacyNames: [String: DType] = [
    "FLOAT": .float, "UINT8": .uint8, "INT8": .int8, "UINT16": .uint16, "INT16": .int16,
    "INT32": .int32, "INT64": .int64, "STRING": .string, "BOOL": .bool, "FLOAT16": .float16,
    "DOUBLE": .double, "UINT32": .uint32, "UINT64": .uint64, "COMPLEX64": .complex64,
    "COMPLEX128": .complex128, "BFLOAT16": .bfloat16,
  ]

  /// Reads the attributes Cast and CastLike share.
  mutating func readConversionAttributes(_ attributes: Attributes) throws {
    saturate = try attributes.int("saturate", default: 1) != 0
    roundMode = try attributes.choice("round_mode", default: RoundMode.up)
  }

  /// The input's dims in the target dtype.
  /// - Throws: "expects 1 inputs, got 2".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    return [TensorType(to, try inputs.required(0).dims)]
  }

  /// Integer (and bool) contents to an integer target pass through; to bool they become 0/1.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    [Cast.content(inputs.first ?? nil, to: to)]
  }

  /// `x`'s content after a cast to `target`, when it stays an integer vector.
  static func content(_ x: ValueFact?, to target: DType) -> [Dim]? {
    guard let x, let content = x.content, x.dtype.isInteger || x.dtype == .bool else { return nil }
    if target == .bool {
      let values = content.compactMap(\.value)
      guard values.count == content.count else { return nil }
      return values.map { Dim($0 != 0 ? 1 : 0) }
    }
    guard target.isInteger else { return nil }
    // Narrowing would wrap large values; dims and small constants fit every integer type.
    let fits = content.allSatisfy { d in d.value.map { abs($0) < 128 } ?? true }
    return fits || target.bitWidth >= 32 ? content : nil
  }
}

extension Cast: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    guard let type = context.outputs.first ?? nil else { return nil }
    return Lowering(CastCall(to: type.dtype, saturate: saturate, rounding: roundMode), usedInputs: 1)
  }
}

extension Cast: Tokenwise {
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule { .elementwise(reads, context) }
}

extension Cast: Bypassable {
  public func isNoOp(_ context: NodeContext) -> Bool { outputTypeIsInputType(context) }
}
