import AttncKernels
import AttncTensor

/// attnc op: `PackedMatMul(A, P, addend…)` = `activation(alpha · A×B + addend₁ + addend₂)` where
/// `P` is a constant weight `B [k, n]` packed into panels of 16 columns (`[⌈n/16⌉, k, 16]`, zeros
/// past column n), the layout attnc's own GEMM tiles read (`attnc_packed_gemm.h`). With
/// `precision` bfloat16, B was rounded to bfloat16 when packed (`[⌈n/16⌉, ⌈k/2⌉, 16]` 32-bit
/// elements, each a pair of bfloat16 along k) and A is rounded when the call runs; the products
/// are summed in float32.
///
/// Produced by the `pack-weights` pass from a `MatMul` or `FusedMatMul` whose B is a float32
/// constant matrix, so the plan stores the weight as the kernel reads it and nothing repacks it
/// per call. A has rank ≥ 2; every leading axis is a batch of rows sharing B. Each addend either
/// has the product's dims (residual) or broadcasts along every axis but the last (bias).
public struct PackedMatMul: NamedOp {
  public static let type = "PackedMatMul"
  /// Columns per packed panel (`ATTNC_GEMM_PANEL`).
  public static let panel = 16

  public var alpha: Float
  /// `none`, `gelu`, `geluTanh` or `relu` (a softmax epilogue is not packed).
  public var activation: FusedMatMul.Activation
  /// n: the product's last dim (the packed panels are padded past it).
  public var columns: Int
  /// The operands' precision (`--linear-precision`).
  public var precision: LinearPrecision

  public init(alpha: Float, activation: FusedMatMul.Activation, columns: Int, precision: LinearPrecision = .float32) {
    self.alpha = alpha
    self.activation = activation
    self.columns = columns
    self.precision = precision
  }

  /// The packed shape of a `[k, n]` weight at `precision`.
  public static func packedShape(k: Int, n: Int, precision: LinearPrecision = .float32) -> [Int] {
    PackedGemm.packedShape(k: k, n: n, precision: precision)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...4)
    let a = try inputs.required(0), packed = try inputs.required(1)
    guard a.type.dtype == .float, packed.type.dtype == .float, a.type.rank >= 2 else {
      throw AttncError.invalid("PackedMatMul takes a float32 matrix of rank ≥ 2 and packed float32 panels, got \(a.type) and \(packed.type)")
    }
    guard let k = a.type.dims.last?.value,
      packed.type.dims == PackedMatMul.packedShape(k: k, n: columns, precision: precision).map({ Dim($0) })
    else {
      throw AttncError.invalid("packed \(precision.rawValue) weight \(packed.type.dims.shapeDescription) does not hold \(columns) columns of depth \(a.type.dims.last?.description ?? "?")")
    }
    let product = TensorType(.float, Array(a.type.dims.dropLast()) + [Dim(columns)])
    for index in 2..<inputs.count {
      let addend = try inputs.required(index)
      guard addend.type.dtype == .float, PackedMatMul.rowAligned(addend.type.dims, product.dims) else {
        throw AttncError.invalid("addend \(addend.type.dims.shapeDescription) is neither the product's shape \(product.dims.shapeDescription) nor a bias over its last axis")
      }
    }
    return [product]
  }

  /// Whether an addend of `dims` reads as rows of the flattened product: the product's own dims,
  /// or ones everywhere but a last dim of 1 or n.
  public static func rowAligned(_ dims: [Dim], _ product: [Dim]) -> Bool {
    if dims == product { return true }
    guard dims.count <= product.count, let last = dims.last else { return dims.isEmpty }
    return dims.dropLast().allSatisfy { $0 == Dim(1) } && (last == Dim(1) || last == product.last)
  }
}

extension PackedMatMul: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(PackedMatMulCall(alpha: alpha, activation: activation.rawValue, columns: columns, precision: precision))
  }
}
