import AttncKernels
import AttncTensor

/// attnc op: an integer vector (or scalar) whose elements are dim expressions of the graph's
/// input symbols, evaluated when the input shapes are bound.
///
/// Canonicalization replaces exporter shape arithmetic (`Shape → Gather → Unsqueeze → Concat`)
/// by one of these, so `Reshape(x, [batch, seq, 12, 64])` needs no shape computation at run time.
public struct DimExpressions: NamedOp, ContentPropagating {
  public static let type = "DimExpressions"
  public var dims: [Dim]
  public var dtype: DType
  /// Rank 0 output when true (a single dim), else rank 1.
  public var scalar: Bool

  public init(dims: [Dim], dtype: DType = .int64, scalar: Bool = false) {
    self.dims = dims
    self.dtype = dtype
    self.scalar = scalar
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    [TensorType(dtype, scalar ? [] : [Dim(dims.count)])]
  }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    [dims]
  }

  /// `[batch, seq, 12, 64]`.
  public var description: String { dims.shapeDescription }
}

extension DimExpressions: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(DimExpressionsCall(dims: dims, dtype: dtype, scalar: scalar))
  }
}

extension DimExpressions: ONNXExpressible {
  /// The dims computed from the graph inputs' shapes (`Shape`, `Mul`, `Div`, `Add`), squeezed
  /// to a scalar and cast as the node says.
  public func onnxForm(_ node: ONNXFormNode, into b: inout ONNXGraphBuilder) throws {
    var value = try b.dims(dims)
    if scalar { value = b.squeeze(value, axes: [0]) }
    if dtype != .int64 { value = b.op("Cast", value, attributes: [("to", .int(Int64(dtype.rawValue)))]) }
    b.op("Identity", value, output: node.outputs[0])
  }
}
