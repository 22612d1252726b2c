import AttncTensor
import CAttnc

/// attnc's GEMM against weights packed once, at conversion (`attnc_packed_gemm.h`): the kernel of
/// the `PackedMatMul` op.
///
/// Up to `rowLimit` rows it runs attnc's register-blocked tiles on the packed panels, with the
/// epilogue (addends, GELU) applied to each tile in registers: no per-call packing of the weight
/// and no separate pass over the output. Beyond it the weight is unpacked once for the call and
/// the product goes to OpenBLAS (`LinearAlgebra.fusedMatMul`), whose kernels are faster on long
/// inputs and for which the unpacking is then a few percent of the product.
public enum PackedGemm {
  /// Columns per packed panel.
  public static let panel = Int(ATTNC_GEMM_PANEL)

  /// Rows above which a call unpacks the weight and uses OpenBLAS (measured on bert_mini at 2
  /// threads, BENCHMARKS.md session 10: the tiles win at 128 rows, tie at 512, lose at 2048).
  public static let rowLimit = 1024

  /// Floats of a `[k, n]` weight once packed.
  public static func packedCount(k: Int, n: Int) -> Int { (n + panel - 1) / panel * panel * k }

  /// The packed tensor's shape for a `[k, n]` weight: `[⌈n/16⌉, k, 16]` floats, or for bfloat16
  /// `[⌈n/16⌉, ⌈k/2⌉, 16]` 32-bit elements each holding a pair of bfloat16 (half the bytes).
  public static func packedShape(k: Int, n: Int, precision: LinearPrecision) -> [Int] {
    [(n + panel - 1) / panel, precision == .bfloat16 ? (k + 1) / 2 : k, panel]
  }

  /// Packs row-major `b [k, n]` into `packedCount(k:n:)` floats at `packed`.
  public static func pack(_ b: UnsafePointer<Float>, k: Int, n: Int, into packed: UnsafeMutablePointer<Float>) {
    attnc_gemm_pack(b, k, n, packed)
  }

  /// Row-major `[k, n]` from `packed` (`pack`'s inverse).
  public static func unpack(_ packed: Tensor, k: Int, n: Int) -> Tensor {
    var b = FloatBuffer(uninitializedCount: k * n)
    packed.floats.withUnsafeBufferPointer { p in
      b.withUnsafeMutableBufferPointer { out in
        if let source = p.baseAddress, let target = out.baseAddress { attnc_gemm_unpack(source, k, n, target) }
      }
    }
    return .float(b, [k, n])
  }

  /// `activation(alpha · A×B + addends)` with B packed; A's leading axes are rows sharing B.
  ///
  /// - Parameters:
  ///   - a: `[…, m, k]` float32.
  ///   - packed: `packedShape(k:n:precision:)`, as `pack` (float32) or `packBFloat16` wrote it.
  ///   - columns: n.
  ///   - addends: up to two, each of the product's shape or a bias over its last axis (`[…, 1, n]`
  ///     or `[…, 1, 1]`).
  ///   - activation: `none`, `gelu`, `gelu_tanh` or `relu`.
  ///   - precision: the operands' precision: `bfloat16` rounds A's rows to bfloat16 (the weight
  ///     was rounded when packed) and accumulates the products in float32, at any row count.
  ///   - kernels: the instruction sets the tiles may use (tests compare them).
  /// - Throws: shapes that do not fit, naming them.
  public static func multiply(
    _ a: Tensor, packed: Tensor, columns n: Int, addends: [Tensor], alpha: Float, activation: String,
    precision: LinearPrecision = .float32, kernels: InstructionSets = .widest,
    output: FloatOutput = FloatBuffer.init(uninitializedCount:)
  ) throws -> Tensor {
    let k = a.shape.last ?? 0
    guard a.isFloat, packed.isFloat, a.rank >= 2, packed.shape == packedShape(k: k, n: n, precision: precision) else {
      throw AttncError.invalid(
        "PackedMatMul: A \(a.shape) does not fit packed \(precision.rawValue) weight \(packed.shape) of \(n) columns")
    }
    let rows = a.shape.dropLast().reduce(1, *)
    let shape = Array(a.shape.dropLast()) + [n]
    let (layouts, code) = try epilogue(addends, shape: shape, activation: activation, op: "PackedMatMul")
    if rows > rowLimit && precision == .float32 {
      // One [rows, k] × [k, n] product through OpenBLAS; addends as [rows, n] or [n] / [1].
      let flat = addends.enumerated().map { e, addend in
        Tensor.float(addend.floats, layouts[e].row == 0 ? [addend.shape.last ?? 1] : [rows, n])
      }
      let product = try LinearAlgebra.fusedMatMul(
        .float(a.floats, [rows, k]), unpack(packed, k: k, n: n), addends: flat, alpha: alpha, activation: activation,
        output: output)
      return .float(product.floats, shape, dtype: a.dtype)
    }
    var out = output(rows * n)
    guard rows > 0, n > 0 else { return .float(out, shape, dtype: a.dtype) }
    var inputs = [a.floats, packed.floats]
    for addend in addends { inputs.append(addend.floats) }
    LinearAlgebra.withBaseAddresses(inputs[...], []) { bases in
      out.withUnsafeMutableBufferPointer { z in
        var call = attnc_gemm()
        call.a = UnsafeRawPointer(bases[0])
        call.packed_b = UnsafeRawPointer(bases[1])
        call.c = z.baseAddress!
        call.m = rows
        call.n = n
        call.k = k
        call.alpha = alpha
        call.addend_count = Int32(addends.count)
        call.addends = addendSlots(layouts, bases.dropFirst(2))
        call.activation = code
        call.kernels = kernels.rawValue
        if precision == .bfloat16 {
          runBFloat16(call, a: bases[0])
        } else {
          run(call)
        }
      }
    }
    return .float(out, shape, dtype: a.dtype)
  }

  /// The fused epilogue of a product of `shape` (last axis n): each addend as (row stride,
  /// column stride) over the rows × n product, and the activation's code.
  /// - Throws: more than two addends, an addend that is neither the product's shape nor a bias
  ///   over its last axis, an unknown activation; `op` names the caller.
  static func epilogue(_ addends: [Tensor], shape: [Int], activation: String, op: String) throws
    -> (layouts: [(row: Int, column: Int)], activation: Int32)
  {
    let n = shape.last ?? 1
    guard addends.count <= 2 else { throw AttncError.invalid("\(op) takes at most two addends, got \(addends.count)") }
    let layouts: [(row: Int, column: Int)] = try addends.map { addend in
      guard addend.isFloat else { throw AttncError.invalid("\(op) addend must be float32, got \(addend.dtype)") }
      if addend.shape == shape { return (n, 1) }
      guard addend.rank <= shape.count, addend.shape.dropLast().allSatisfy({ $0 == 1 }),
        addend.shape.last.map({ $0 == 1 || $0 == n }) ?? true
      else {
        throw AttncError.invalid("\(op) addend \(addend.shape) is neither the product's shape \(shape) nor a bias over its last axis")
      }
      return (0, addend.shape.last == n && n != 1 ? 1 : 0)
    }
    let code: Int32
    switch activation {
    case "none": code = Int32(ATTNC_EPILOGUE_NONE)
    case "gelu": code = Int32(ATTNC_EPILOGUE_GELU)
    case "gelu_tanh": code = Int32(ATTNC_EPILOGUE_GELU_TANH)
    case "relu": code = Int32(ATTNC_EPILOGUE_RELU)
    default: throw AttncError.invalid("\(op) activation '\(activation)' is not none, gelu, gelu_tanh or relu")
    }
    return (layouts, code)
  }

  /// Splits the call over the threads (`Parallel.product`).
  static func run(_ call: attnc_gemm) {
    withUnsafePointer(to: call) { call in
      Parallel.product(rows: call.pointee.m, columns: call.pointee.n, depth: Int(call.pointee.k), panel: panel) { rows, columns in
        attnc_gemm_run(call, rows.lowerBound, rows.upperBound, columns.lowerBound, columns.upperBound)
      }
    }
  }

  /// The C epilogue's two addend slots for `layouts` over `values` (unused slots empty).
  static func addendSlots(_ layouts: [(row: Int, column: Int)], _ values: ArraySlice<UnsafePointer<Float>>)
    -> (attnc_addend, attnc_addend)
  {
    var slots = (attnc_addend(), attnc_addend())
    for (index, (layout, base)) in zip(layouts, values).enumerated() {
      let addend = attnc_addend(values: base, row_stride: layout.row, column_stride: layout.column)
      if index == 0 { slots.0 = addend } else { slots.1 = addend }
    }
    return slots
  }
}
