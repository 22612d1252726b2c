import AttncKernels
import AttncTensor

/// Building tensors by picking elements of others, for the evaluators of data-movement ops
/// (Transpose, Gather, Slice, Concat, Expand, Tile…). Works for every dtype: byte-aligned
/// elements are copied as bytes, packed sub-byte elements through their numeric value, strings
/// as strings.
enum ElementPicking {
  /// Row-major strides of `shape` (the kernels' definition).
  static func strides(_ shape: [Int]) -> [Int] { rowMajorStrides(shape) }

  /// A tensor of `shape` whose element `i` is element `picks[i].element` of
  /// `sources[picks[i].source]`; every source has the same dtype.
  static func assemble(
    _ sources: [HostTensor], shape: [Int], picks: [(source: Int, element: Int)]
  ) -> HostTensor {
    let dtype = sources[0].dtype
    if dtype == .string {
      return HostTensor(strings: picks.map { sources[$0.source].strings[$0.element] }, shape: shape)
    }
    if dtype.bitWidth % 8 != 0 {
      let values = sources.map { $0.doubles() }
      return HostTensor(dtype: dtype, shape: shape, converting: picks.map { values[$0.source][$0.element] })
    }
    let size = dtype.bitWidth / 8
    let storage = ByteStorage.build(count: picks.count * size) { out in
      guard let destination = out.baseAddress else { return }
      for (i, pick) in picks.enumerated() {
        (destination + i * size).copyMemory(
          from: sources[pick.source].storage.base + pick.element * size, byteCount: size)
      }
    }
    return (try? HostTensor(dtype: dtype, shape: shape, storage: storage))
      ?? HostTensor(dtype: dtype, shape: shape, converting: [Double](repeating: 0, count: picks.count))
  }

  /// Picks from a single source.
  static func pick(_ source: HostTensor, shape: [Int], elements: [Int]) -> HostTensor {
    assemble([source], shape: shape, picks: elements.map { (0, $0) })
  }

  /// Calls `body` with every multi-index of `shape` in row-major order (the kernels' loop).
  static func forEachIndex(_ shape: [Int], _ body: ([Int]) -> Void) {
    Movement.forEachIndex(shape, body)
  }
}

extension Array where Element == ValueFact? {
  /// The input at `index` as a required constant tensor (for evaluators that need the data).
  func constantInput(_ index: Int) -> HostTensor? { optional(index)?.constant }
}

/// Inputs for evaluators: the tensor at `index`, or a thrown error.
func required(_ inputs: [HostTensor?], _ index: Int) throws -> HostTensor {
  guard index < inputs.count, let tensor = inputs[index] else {
    throw AttncError.invalid("input \(index) is required")
  }
  return tensor
}

/// Concrete dims of a fact, or throws `.unsupported` (folding of symbolic shapes is skipped).
func concreteDims(_ dims: [Dim]) throws -> [Int] {
  var result: [Int] = []
  for dim in dims {
    guard let value = dim.value else { throw AttncError.unsupported("dims are symbolic") }
    result.append(value)
  }
  return result
}
