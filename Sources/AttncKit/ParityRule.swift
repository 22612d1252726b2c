import AttncKernels
import AttncRuntime
import AttncTensor

/// How a plan's outputs are compared with a reference runtime's (ONNX Runtime's `output_i.pb`).
///
/// A float32 model is compared element by element (the ONNX test runner's rule). A model that
/// computes in float16 or bfloat16, or is quantized, is compared by relative Frobenius error per
/// output: attnc computes such a model in float32, the reference rounds every operation to the
/// narrow type (or quantizes activations its own way), so single elements near zero differ by
/// far more than `rtol` while the output as a whole agrees to the narrow type's precision.
public struct ParityRule: Sendable, CustomStringConvertible {
  public enum Kind: Sendable, Equatable {
    /// `|actual − expected| ≤ absolute + relative·|expected|` for every element.
    case elementwise(relative: Double, absolute: Double)
    /// `‖actual − expected‖_F / ‖expected‖_F ≤ limit` for each output.
    case relativeFrobenius(limit: Double)
  }

  public var kind: Kind
  /// Why this rule: empty for the element-wise default, else what the model computes in.
  public var reason: String

  /// The limit for low-precision models: float16 keeps 11 significant bits (relative rounding
  /// 2⁻¹¹ ≈ 4.9e-4 per operation), bfloat16 8 (3.9e-3); a few layers of such rounding stay
  /// within 1e-2 of the float32 computation.
  public static let lowPrecisionLimit = 1e-2

  public init(kind: Kind, reason: String = "") {
    self.kind = kind
    self.reason = reason
  }

  /// What of `plan` runs on bfloat16 or int8 operands: linear layers and convolutions
  /// (`--linear-precision`), attention (`softmax:prec=bf16`, `softmax:prec=int8`).
  static func reducedPrecisionKernels(_ plan: Plan) -> [String] {
    let calls = plan.instructions.map(\.call)
    var kernels: [String] = []
    if calls.contains(where: { ($0 as? PackedMatMulCall)?.operandPrecision == .bfloat16 }) {
      kernels.append("linear layers (--linear-precision)")
    }
    if calls.contains(where: { ($0 as? PackedConvolutionCall)?.precision == .bfloat16 }) {
      kernels.append("convolutions (--linear-precision)")
    }
    let attention = Set(calls.compactMap { ($0 as? FusedAttentionCall).map { TiledAttention.Precision(VariantParameters($0.variantValues)) } })
    for precision in [TiledAttention.Precision.bfloat16, .int8, .int8pv] where attention.contains(precision) {
      kernels.append("attention (softmax:prec=\(precision.name))")
    }
    return kernels
  }

  /// The rule for `plan`: element-wise with `relative`/`absolute` for float32 models, relative
  /// Frobenius error ≤ `frobeniusLimit` when the plan records a narrow or quantized source or
  /// runs its linear layers on bfloat16 operands.
  public static func forPlan(
    _ plan: Plan, relative: Double = 1e-3, absolute: Double = 1e-5, frobeniusLimit: Double = lowPrecisionLimit
  ) -> ParityRule {
    switch plan.sourcePrecision {
    case "" where !reducedPrecisionKernels(plan).isEmpty:
      return ParityRule(
        kind: .relativeFrobenius(limit: frobeniusLimit),
        reason: "the plan computes in reduced precision: \(reducedPrecisionKernels(plan).joined(separator: ", "))")
    case "":
      return ParityRule(kind: .elementwise(relative: relative, absolute: absolute))
    case "int8":
      return ParityRule(
        kind: .relativeFrobenius(limit: frobeniusLimit),
        reason: "the model is quantized (int8): the reference quantizes and rounds in its own order")
    case let narrow:
      return ParityRule(
        kind: .relativeFrobenius(limit: frobeniusLimit),
        reason: "the model computes in \(narrow): attnc computes in float32, the reference rounds every operation to \(narrow)")
    }
  }

  /// Whether `comparison` passes this rule.
  public func accepts(_ comparison: Comparison) -> Bool {
    switch kind {
    case .elementwise: comparison.withinTolerance
    case .relativeFrobenius(let limit): comparison.shapesMatch && comparison.relativeFrobenius <= limit
    }
  }

  /// Compares `actual` with `expected` under this rule.
  public func compare(_ actual: HostTensor, _ expected: HostTensor) -> (comparison: Comparison, passed: Bool) {
    let (relative, absolute): (Double, Double)
    switch kind {
    case .elementwise(let r, let a): (relative, absolute) = (r, a)
    case .relativeFrobenius: (relative, absolute) = (0, 0)
    }
    let comparison = Comparison(actual, expected, relative: relative, absolute: absolute)
    return (comparison, accepts(comparison))
  }

  /// `element-wise |a − e| ≤ atol + rtol·|e| (rtol 0.001, atol 1e-05)` or `relative Frobenius
  /// error ≤ 0.01 per output (the model computes in float16: …)`.
  public var description: String {
    switch kind {
    case .elementwise(let relative, let absolute):
      "element-wise |a - e| <= atol + rtol*|e| (rtol \(relative), atol \(absolute))"
    case .relativeFrobenius(let limit):
      "relative Frobenius error ||a - e|| / ||e|| <= \(limit) per output (\(reason))"
    }
  }
}
