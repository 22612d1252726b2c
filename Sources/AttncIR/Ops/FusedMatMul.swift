import AttncKernels
import AttncTensor

/// attnc op: `FusedMatMul(A, B, addend…)` = `activation(alpha · A×B + addend₁ + addend₂)`, a
/// float32 MatMul with its elementwise epilogue (scale, bias and residual adds, GELU or a
/// last-axis softmax) applied per output block while it is in cache.
///
/// Produced by the `fuse-matmul-epilogues` pass from `MatMul` followed by single-use
/// `Mul`/`Div` by a scalar constant, `Add`s of values that broadcast into the product's shape
/// without growing it, and `Gelu` or `Softmax(axis: -1)`. Both matrix inputs have rank ≥ 2.
public struct FusedMatMul: NamedOp {
  public static let type = "FusedMatMul"

  /// The function applied last.
  public enum Activation: String, Sendable {
    case none
    case gelu
    case geluTanh = "gelu_tanh"
    case relu
    case softmax
  }

  public var alpha: Float
  public var activation: Activation

  public init(alpha: Float, activation: Activation) {
    self.alpha = alpha
    self.activation = activation
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...4)
    let product = try MatMul().outputTypes(Array(inputs.prefix(2)), outputCount: 1)[0]
    guard product.dtype == .float, product.rank >= 2 else {
      throw AttncError.invalid("FusedMatMul takes float32 matrices, got \(product.dtype) of rank \(product.rank)")
    }
    for index in 2..<inputs.count {
      let addend = try inputs.required(index)
      guard addend.dtype == .float, try Shapes.broadcast([product.dims, addend.dims]) == product.dims else {
        throw AttncError.invalid("addend \(addend.dims.shapeDescription) does not broadcast into \(product.dims.shapeDescription)")
      }
    }
    return [product]
  }
}

extension FusedMatMul: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(FusedMatMulCall(alpha: alpha, activation: activation.rawValue))
  }
}
