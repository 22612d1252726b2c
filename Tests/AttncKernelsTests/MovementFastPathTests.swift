@testable import AttncKernels
import AttncTensor
import Testing

/// Slice and Concat (strided run copies) against element-by-element references written here:
/// ranks 1–5, odd and zero-size dims, negative and out-of-range bounds, steps above 1 and
/// negative steps, for float, integer and string tensors.
@Suite struct MovementFastPathTests {
  /// A small deterministic generator (the tests must not depend on a seed the library picks).
  struct Generator {
    var state: UInt64
    mutating func next(_ bound: Int) -> Int {
      state = state &* 6364136223846793005 &+ 1442695040888963407
      return Int((state >> 33) % UInt64(bound))
    }
    mutating func between(_ low: Int, _ high: Int) -> Int { low + next(high - low + 1) }
  }

  /// The indices ONNX Slice takes on one axis of size `d`, by walking from the clamped start.
  static func picks(start: Int, end: Int, step: Int, dim d: Int) -> [Int] {
    var s = start < 0 ? start + d : start
    var e = end < 0 ? end + d : end
    var result: [Int] = []
    if step > 0 {
      s = min(max(s, 0), d)
      e = min(max(e, 0), d)
      var i = s
      while i < e { result.append(i); i += step }
    } else {
      s = min(max(s, 0), d - 1)
      e = min(max(e, -1), d - 1)
      var i = s
      while i > e { result.append(i); i += step }
    }
    return result
  }

  /// Flat source offsets of the cartesian product of `picks`, row-major.
  static func offsets(_ picks: [[Int]], shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    for axis in stride(from: shape.count - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * shape[axis + 1] }
    var result = [0]
    for (axis, axisPicks) in picks.enumerated() {
      var next: [Int] = []
      for base in result { for i in axisPicks { next.append(base + i * strides[axis]) } }
      result = next
    }
    return result
  }

  func sliceCase(_ seed: UInt64) throws {
    var g = Generator(state: seed)
    let rank = g.between(1, 5)
    let shape = (0..<rank).map { _ in g.next(6) == 0 ? 0 : g.between(1, rank > 3 ? 5 : 9) }
    let count = shape.reduce(1, *)
    var starts: [Int] = [], ends: [Int] = [], steps: [Int] = []
    var first = [Int](repeating: 0, count: rank), counts = shape, stepsByAxis = [Int](repeating: 1, count: rank)
    var picks = shape.map { Array(0..<$0) }
    for axis in 0..<rank {
      let d = shape[axis]
      if g.next(4) == 0 { continue }  // axis left whole
      var start = g.between(-d - 3, d + 3), end = g.between(-d - 3, d + 3)
      if g.next(8) == 0 { start = Int(Int64.min) }
      if g.next(8) == 0 { end = Int(Int64.max) }
      let step = [1, 1, 1, 2, 3, -1, -2, -3][g.next(8)]
      starts.append(start); ends.append(end); steps.append(step)
      let (s, c) = Movement.clampSlice(start: start, end: end, step: step, dim: d)
      let expected = Self.picks(start: start, end: end, step: step, dim: d)
      #expect(c == expected.count, "clampSlice \(start) \(end) \(step) on \(d)")
      first[axis] = s
      counts[axis] = c
      stepsByAxis[axis] = step
      picks[axis] = expected
    }
    let source = Self.offsets(picks, shape: shape)
    let floats = Tensor.float((0..<count).map { Float($0) * 0.5 - 7 }, shape)
    let sliced = Movement.slice(floats, starts: first, counts: counts, steps: stepsByAxis)
    #expect(sliced.shape == picks.map(\.count), "shape \(shape) starts \(starts) ends \(ends) steps \(steps)")
    #expect(Array(sliced.floats) == source.map { Float($0) * 0.5 - 7 }, "shape \(shape) starts \(starts) ends \(ends) steps \(steps)")
    let ints = Tensor.int((0..<count).map { Int64($0) * 3 - 5 }, shape, dtype: .int32)
    let slicedInts = Movement.slice(ints, starts: first, counts: counts, steps: stepsByAxis)
    #expect(slicedInts.dtype == .int32)
    #expect(slicedInts.ints == source.map { Int64($0) * 3 - 5 })
    let strings = Tensor(dtype: .string, shape: shape, strings: (0..<count).map { "s\($0)" })
    #expect(Movement.slice(strings, starts: first, counts: counts, steps: stepsByAxis).strings == source.map { "s\($0)" })
  }

  @Test(arguments: 0..<300)
  func sliceMatchesReference(seed: Int) throws { try sliceCase(UInt64(seed) &* 7919 &+ 17) }

  /// Through the kernel call: negative axes, axes in any order, bounds from inputs, and the
  /// output written into memory the context gives.
  @Test func sliceCallTakesAxesAndSteps() throws {
    let shape = [2, 3, 5, 7]
    let x = Tensor.float((0..<210).map { Float($0) }, shape)
    let call = SliceCall(starts: nil, ends: nil, axes: nil)
    let out = try call.run(
      KernelContext(), [x, .int([-1, 1], [2]), .int([-8, 100], [2]), .int([-1, 2], [2]), .int([-2, 1], [2])])[0]
    // Axis 3 (−1): 6 down to past −8 + 7 = −1 by 2; axis 2: 1 up to the end.
    let expected = Self.offsets([[0, 1], [0, 1, 2], [1, 2, 3, 4], [6, 4, 2, 0]], shape: shape).map { Float($0) }
    #expect(out.shape == [2, 3, 4, 4])
    #expect(Array(out.floats) == expected)
  }

  func concatCase(_ seed: UInt64) throws {
    var g = Generator(state: seed)
    let rank = g.between(1, 5)
    let base = (0..<rank).map { _ in g.between(1, rank > 3 ? 4 : 7) }
    let axis = g.next(rank)
    let parts = g.between(1, 4)
    var shapes: [[Int]] = []
    for _ in 0..<parts {
      var s = base
      s[axis] = g.next(5) == 0 ? 0 : g.between(1, 5)
      shapes.append(s)
    }
    let floats = shapes.enumerated().map { k, s in Tensor.float((0..<s.reduce(1, *)).map { Float(k * 1000 + $0) }, s) }
    let ints = shapes.enumerated().map { k, s in Tensor.int((0..<s.reduce(1, *)).map { Int64(k * 1000 + $0) }, s, dtype: .bool) }
    let strings = shapes.enumerated().map { k, s in Tensor(dtype: .string, shape: s, strings: (0..<s.reduce(1, *)).map { "\(k)/\($0)" }) }
    // Reference: walk the output's multi-index, find the part and its element.
    var outShape = base
    outShape[axis] = shapes.reduce(0) { $0 + $1[axis] }
    var expected: [(Int, Int)] = []
    Movement.forEachIndex(outShape) { index in
      var i = index[axis], k = 0
      while i >= shapes[k][axis] { i -= shapes[k][axis]; k += 1 }
      var flat = 0
      for a in 0..<rank { flat = flat * shapes[k][a] + (a == axis ? i : index[a]) }
      expected.append((k, flat))
    }
    let negativeAxis = axis - rank
    let f = try Movement.concat(floats, axis: g.next(2) == 0 ? axis : negativeAxis)
    #expect(f.shape == outShape)
    #expect(Array(f.floats) == expected.map { Float($0.0 * 1000 + $0.1) }, "shapes \(shapes) axis \(axis)")
    let i = try Movement.concat(ints, axis: axis)
    #expect(i.dtype == .bool && i.shape == outShape)
    #expect(i.ints == expected.map { Int64($0.0 * 1000 + $0.1) })
    #expect(try Movement.concat(strings, axis: axis).strings == expected.map { "\($0.0)/\($0.1)" })
  }

  @Test(arguments: 0..<200)
  func concatMatchesReference(seed: Int) throws { try concatCase(UInt64(seed) &* 104729 &+ 3) }

  @Test func concatRejectsMismatchedParts() {
    let a = Tensor.float([1, 2, 3, 4], [2, 2])
    #expect(throws: AttncError.self) { try Movement.concat([a, .float([1, 2, 3], [3, 1])], axis: 1) }
    #expect(throws: AttncError.self) { try Movement.concat([a, .float([1, 2], [2])], axis: 0) }
    #expect(throws: AttncError.self) { try Movement.concat([a, .int([1, 2], [2, 1])], axis: 1) }
    #expect(throws: AttncError.self) { try Movement.concat([], axis: 0) }
  }

  /// Large enough that the copies split over the threads (rows and one long run).
  @Test func largeSliceAndConcatSplitAcrossThreads() throws {
    let shape = [3, 257, 131]
    let count = shape.reduce(1, *)
    let x = Tensor.float((0..<count).map { Float($0) }, shape)
    let half = Movement.slice(x, starts: [0, 0, 65], counts: [3, 257, 66], steps: [1, 1, 1])
    let rest = Movement.slice(x, starts: [0, 0, 0], counts: [3, 257, 65], steps: [1, 1, 1])
    let joined = try Movement.concat([rest, half], axis: 2)
    #expect(Array(joined.floats) == Array(x.floats))
    let reversed = Movement.slice(x, starts: [2, 256, 130], counts: [3, 257, 131], steps: [-1, -1, -1])
    #expect(Array(reversed.floats) == Array(x.floats).reversed())
    let flat = x.reshaped([count])
    let everyOther = Movement.slice(flat, starts: [1], counts: [count / 2], steps: [2])
    #expect(Array(everyOther.floats) == (0..<(count / 2)).map { Float(2 * $0 + 1) })
  }
}

extension MovementFastPathTests {
  /// Every permutation of ranks 1–4 (and some of rank 5), float and integer, against a loop.
  @Test(arguments: 1...5)
  func transposeMatchesReference(rank: Int) throws {
    let shape = [3, 1, 4, 5, 2].prefix(rank).map { $0 }
    let count = shape.reduce(1, *)
    func permutations(_ items: [Int]) -> [[Int]] {
      items.count <= 1 ? [items] : items.indices.flatMap { i in
        permutations(items.enumerated().filter { $0.offset != i }.map(\.element)).map { [items[i]] + $0 }
      }
    }
    var strides = [Int](repeating: 1, count: rank)
    for axis in stride(from: rank - 2, through: 0, by: -1) { strides[axis] = strides[axis + 1] * shape[axis + 1] }
    for perm in permutations(Array(0..<rank)).enumerated().filter({ rank < 5 || $0.offset % 7 == 0 }).map(\.element) {
      let outShape = perm.map { shape[$0] }
      var expected: [Int] = []
      Movement.forEachIndex(outShape) { index in
        expected.append(zip(perm, index).reduce(0) { $0 + $1.1 * strides[$1.0] })
      }
      let f = Movement.transpose(.float((0..<count).map { Float($0) }, shape), perm: perm)
      #expect(f.shape == outShape && Array(f.floats) == expected.map { Float($0) }, "perm \(perm)")
      let i = Movement.transpose(.int((0..<count).map { Int64($0) }, shape, dtype: .uint8), perm: perm)
      #expect(i.dtype == .uint8 && i.ints == expected.map { Int64($0) }, "perm \(perm)")
    }
  }

  @Test func splitRefusesSizesThatDoNotFitTheAxis() throws {
    let x = Tensor.float((0..<12).map { Float($0) }, [3, 4])
    #expect(throws: AttncError.invalid("split sizes [3, 2] do not fit axis 1 of size 4")) {
      try Movement.split(x, axis: 1, sizes: [3, 2])
    }
    #expect(throws: AttncError.invalid("split sizes [-1, 5] do not fit axis 1 of size 4")) {
      try Movement.split(x, axis: 1, sizes: [-1, 5])
    }
    let strings = Tensor(dtype: .string, shape: [4], strings: ["a", "b", "c", "d"])
    let parts = try Movement.split(strings, axis: 0, sizes: [1, 3])
    #expect(parts.map(\.strings) == [["a"], ["b", "c", "d"]])
  }
}
