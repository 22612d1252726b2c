import AttncKernels
import AttncTensor
import Testing

/// The `TokenMerge` / `TokenUnmerge` op kernels on hand-computed cases: which tokens merge, the
/// size-weighted means, padding kept out, origins composed across blocks, unmerge.
@Suite struct TokenMergeKernelTests {
  /// Five tokens, one head: keys chosen so token 2 matches token 1 exactly (cosine 1) and token
  /// 4 matches token 3 (cosine 0.995); token 0 is the protected class token.
  static let keys = Tensor.float([1, 0, 0, 1, 0, 1, 1, 0, 1, 0.1], [1, 1, 5, 2])
  static let x = Tensor.float([10, 0, 1, 2, 3, 4, 5, 6, 7, 8], [1, 5, 2])

  @Test func mergingEverythingItMayMatchesTheHandComputedResult() throws {
    // A = {0, 2, 4} (0 protected), B = {1, 3}: r = 2 merges 2 → 1 and 4 → 3; the output is
    // [unmerged A ; B] = [x0, mean(x1, x2), mean(x3, x4)].
    let out = try TokenMergeKernel.merge(x: Self.x, keys: Self.keys, sizes: nil, origin: nil, padding: nil, r: 2)
    #expect(out[0].shape == [1, 3, 2])
    #expect(out[0].floats == [10, 0, 2, 3, 6, 7])
    #expect(out[1].floats == [1, 2, 2])
    #expect(out[2].ints == [0, 1, 1, 2, 2])
  }

  @Test func mergingMoreThanMayMergeIsAClearError() {
    #expect(throws: AttncError.self) {
      _ = try TokenMergeKernel.merge(x: Self.x, keys: Self.keys, sizes: nil, origin: nil, padding: nil, r: 3)
    }
    do {
      _ = try TokenMergeKernel.merge(x: Self.x, keys: Self.keys, sizes: nil, origin: nil, padding: nil, r: 3)
    } catch {
      #expect("\(error)".contains("2 mergeable tokens of 5"))
    }
  }

  @Test func mergingNothingIsTheIdentity() throws {
    let out = try TokenMergeKernel.merge(x: Self.x, keys: Self.keys, sizes: nil, origin: nil, padding: nil, r: 0)
    #expect(out[0].floats == Self.x.floats)
    #expect(out[1].floats == [1, 1, 1, 1, 1])
    #expect(out[2].ints == [0, 1, 2, 3, 4])
  }

  @Test func paddingNeverMergesAndKeepsSizeZero() throws {
    // Tokens 3 and 4 are padding: protected with 0 and 2 (the class token). Only 2 may merge
    // (into 1); the padding rows are carried unchanged with size 0.
    let padding = Tensor.int([1, 1, 1, 0, 0], [1, 5])
    let out = try TokenMergeKernel.merge(x: Self.x, keys: Self.keys, sizes: nil, origin: nil, padding: padding, r: 1)
    // Order: unmerged A (0, 4), then B (1, 3).
    #expect(out[0].floats == [10, 0, 7, 8, 2, 3, 5, 6])
    #expect(out[1].floats == [1, 0, 2, 0])
    #expect(out[2].ints == [0, 2, 2, 3, 1])
    #expect(throws: AttncError.self) {
      _ = try TokenMergeKernel.merge(x: Self.x, keys: Self.keys, sizes: nil, origin: nil, padding: padding, r: 2)
    }
  }

  @Test func aSecondMergeWeighsBySizeAndComposesTheOrigin() throws {
    let first = try TokenMergeKernel.merge(x: Self.x, keys: Self.keys, sizes: nil, origin: nil, padding: nil, r: 2)
    // Three tokens now: [x0, m12, m34] of sizes [1, 2, 2]. Keys: token 2 (A) matches token 1 (B).
    let keys = Tensor.float([1, 0, 0, 1, 0, 1], [1, 1, 3, 2])
    let second = try TokenMergeKernel.merge(x: first[0], keys: keys, sizes: first[1], origin: first[2], padding: nil, r: 1)
    #expect(second[0].floats == [10, 0, 4, 5])  // (2·(2,3) + 2·(6,7)) / 4
    #expect(second[1].floats == [1, 4])
    #expect(second[2].ints == [0, 1, 1, 1, 1])
  }

  @Test func unmergeCopiesEachTokenBackToItsPositions() throws {
    let y = Tensor.float([1, 2, 3, 4, 5, 6], [1, 3, 2])
    let restored = try TokenMergeKernel.unmerge(y: y, origin: .int([0, 1, 1, 2, 2], [1, 5]))
    #expect(restored.shape == [1, 5, 2])
    #expect(restored.floats == [1, 2, 3, 4, 3, 4, 5, 6, 5, 6])
    #expect(throws: AttncError.self) { _ = try TokenMergeKernel.unmerge(y: y, origin: .int([0, 3], [1, 2])) }
  }
}
