@testable import AttncKernels
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// Every attention variant against a plain reference of its own math, written here in Double in
/// its explicit form (the `N × N` weight matrix where that is the plain form), with the same
/// random draws (features, projections, hash directions) the kernel made from its seed.
/// Cases cross the kernels' 64-row blocks, use GQA (4 query heads on 2 key/value heads), causal
/// attention with more keys than queries (bottom-right alignment), a key-padding mask, and
/// per-key weights (`key_weights`) for the variants that honour them.
@Suite struct AttentionVariantTests {
  struct Case: CustomStringConvertible {
    var batch = 2, heads = 4, kvHeads = 2, queries = 70, keys = 70, depth = 8, valueDepth = 6
    var scale: Float = 0.35
    var causal = false
    var padded = false
    /// General key weights (`key_weights`) instead of 0/1 padding.
    var weighted = false
    var description: String { "S=\(queries) L=\(keys) causal=\(causal) padded=\(padded) weighted=\(weighted)" }
  }

  static let cases: [Case] = [
    Case(), Case(padded: true), Case(causal: true), Case(queries: 50, keys: 70, causal: true, padded: true),
    Case(weighted: true), Case(queries: 50, keys: 70, causal: true, weighted: true),
  ]

  /// Padded: batch 1 masks its last 11 keys and key 3; batch 0 masks nothing. Weighted: those
  /// keys and key 5 of batch 0 weigh 0, every other key a weight in [0.25, 3).
  static func keyWeights(_ c: Case) -> [Float] {
    let general = SeededValues.floats(c.batch * c.keys, seed: 14).map { 1.625 + 1.375 * $0 }
    return (0..<(c.batch * c.keys)).map { index in
      let (b, j) = (index / c.keys, index % c.keys)
      let zero = (c.padded || c.weighted) && ((b == 1 && (j >= c.keys - 11 || j == 3)) || (c.weighted && b == 0 && j == 5))
      return zero ? 0 : c.weighted ? general[index] : 1
    }
  }

  /// The mask a case runs with: key padding, key weights, or none.
  static func mask(_ c: Case) -> TiledAttention.Mask {
    let weights = Tensor.float(keyWeights(c), [c.batch, c.keys])
    return c.weighted ? .keyWeights(weights) : c.padded ? .keyPadding(weights, fill: -10000) : .none
  }

  /// One (batch, head) in Double: scaled queries, keys, values, key weights, visible key count per query.
  struct Head {
    var q: [[Double]], k: [[Double]], v: [[Double]], weights: [Double]
    var visible: [Int]
    var seed: UInt64
  }

  static func heads(_ c: Case, parameters: VariantParameters) -> (run: [Float], heads: [Head]) {
    let q = SeededValues.floats(c.batch * c.heads * c.queries * c.depth, seed: 11, amplitude: 1.5)
    let k = SeededValues.floats(c.batch * c.kvHeads * c.keys * c.depth, seed: 12, amplitude: 1.5)
    let v = SeededValues.floats(c.batch * c.kvHeads * c.keys * c.valueDepth, seed: 13, amplitude: 2)
    let weights = keyWeights(c)
    var heads: [Head] = []
    for b in 0..<c.batch {
      for h in 0..<c.heads {
        let g = h / (c.heads / c.kvHeads)
        func rows(_ x: [Float], _ base: Int, _ count: Int, _ width: Int, _ scale: Double) -> [[Double]] {
          (0..<count).map { i in (0..<width).map { Double(x[base + i * width + $0]) * scale } }
        }
        heads.append(
          Head(
            q: rows(q, (b * c.heads + h) * c.queries * c.depth, c.queries, c.depth, Double(c.scale)),
            k: rows(k, (b * c.kvHeads + g) * c.keys * c.depth, c.keys, c.depth, 1),
            v: rows(v, (b * c.kvHeads + g) * c.keys * c.valueDepth, c.keys, c.valueDepth, 1),
            weights: (0..<c.keys).map { Double(weights[b * c.keys + $0]) },
            visible: (0..<c.queries).map { i in c.causal ? max(0, min(c.keys, i + c.keys - c.queries + 1)) : c.keys },
            seed: parameters.seed(head: h)))
      }
    }
    return (q + k + v, heads)
  }

  static func run(
    _ name: String, _ c: Case, _ parameters: [String: Double], mask: TiledAttention.Mask? = nil
  ) throws -> (output: [Float], heads: [Head], parameters: VariantParameters) {
    let definition = try AttentionVariants.named(name)
    let resolved = try definition.resolve(parameters)
    let q = SeededValues.floats(c.batch * c.heads * c.queries * c.depth, seed: 11, amplitude: 1.5)
    let k = SeededValues.floats(c.batch * c.kvHeads * c.keys * c.depth, seed: 12, amplitude: 1.5)
    let v = SeededValues.floats(c.batch * c.kvHeads * c.keys * c.valueDepth, seed: 13, amplitude: 2)
    let y = try VariantAttention.run(
      definition, parameters: resolved, q: .float(q, [c.batch, c.heads, c.queries, c.depth]),
      k: .float(k, [c.batch, c.kvHeads, c.keys, c.depth]), v: .float(v, [c.batch, c.kvHeads, c.keys, c.valueDepth]),
      mask: mask ?? Self.mask(c), scale: c.scale, causal: c.causal)
    #expect(y.shape == [c.batch, c.heads, c.queries, c.valueDepth])
    return (y.floats.owned, heads(c, parameters: resolved).heads, resolved)
  }

  /// `‖y − reference‖_F / ‖reference‖_F`, the reference given per head as `[S][dv]`.
  static func relativeError(_ y: [Float], _ reference: [[[Double]]]) -> Double {
    var difference = 0.0, norm = 0.0, index = 0
    for head in reference {
      for row in head {
        for value in row {
          difference += (Double(y[index]) - value) * (Double(y[index]) - value)
          norm += value * value
          index += 1
        }
      }
    }
    return (difference / max(norm, 1e-300)).squareRoot()
  }

  // MARK: plain math

  /// `y_i = Σ_j w_j·W_ij v_j / Σ_j w_j·W_ij` over the keys query `i` sees (causal cut, key
  /// weights `w_j`: 0/1 for padding).
  static func weighted(_ head: Head, _ weight: (Int, Int) -> Double) -> [[Double]] {
    head.q.indices.map { i in
      var numerator = [Double](repeating: 0, count: head.v[0].count), denominator = 0.0
      for j in 0..<head.visible[i] where head.weights[j] != 0 {
        let w = head.weights[j] * weight(i, j)
        denominator += w
        for c in numerator.indices { numerator[c] += w * head.v[j][c] }
      }
      return denominator == 0 ? numerator.map { _ in 0 } : numerator.map { $0 / denominator }
    }
  }

  /// `φ(x) = m^{-1/2}·exp(Ωx − |x|²/2)` with the kernel's `Ω`.
  static func favor(_ x: [Double], _ omega: [Float], _ m: Int) -> [Double] {
    let d = x.count, norm = Reference.dot(x, x)
    return (0..<m).map { r in Foundation.exp((0..<d).reduce(0) { $0 + Double(omega[r * d + $1]) * x[$1] } - norm / 2) / Double(m).squareRoot() }
  }

  /// The members of each non-empty segment (tokens with nonzero weight).
  static func segments(_ n: Int, weights: [Double], count: Int) -> [[Int]] {
    let parts = min(count, n)
    return (0..<parts).map { s in ((s * n / parts)..<((s + 1) * n / parts)).filter { weights[$0] != 0 } }.filter { !$0.isEmpty }
  }

  /// Segment means `Σ w·x / Σ w` over each segment's tokens (empty segments dropped).
  static func pool(_ x: [[Double]], weights: [Double], count: Int) -> [[Double]] {
    segments(x.count, weights: weights, count: count).map { members in
      let total = members.reduce(0) { $0 + weights[$1] }
      return (0..<x[0].count).map { t in members.reduce(0) { $0 + weights[$1] * x[$1][t] } / total }
    }
  }

  /// Each pooled token's weight: the mean weight of its segment's tokens with nonzero weight.
  static func pooledWeights(_ weights: [Double], count: Int) -> [Double] {
    segments(weights.count, weights: weights, count: count).map { members in
      members.reduce(0) { $0 + weights[$1] } / Double(members.count)
    }
  }

  // MARK: tests

  @Test(arguments: cases)
  func performerIsFavorPlusWithItsFeatures(_ c: Case) throws {
    let (y, heads, _) = try Self.run("performer", c, ["m": 24, "seed": 5])
    let reference = heads.map { head -> [[Double]] in
      let omega = PositiveRandomFeatures(features: 24, depth: c.depth, seed: head.seed).projection
      let fq = head.q.map { Self.favor($0, omega, 24) }, fk = head.k.map { Self.favor($0, omega, 24) }
      return Self.weighted(head) { i, j in Reference.dot(fq[i], fk[j]) }
    }
    #expect(Self.relativeError(y, reference) < 1e-4)
  }

  @Test func orthogonalFeaturesAreOrthogonalInBlocksWithChiNorms() {
    let d = 8, omega = PositiveRandomFeatures(features: 20, depth: d, seed: 3).projection
    func row(_ r: Int) -> [Double] { (0..<d).map { Double(omega[r * d + $0]) } }
    for block in 0..<2 {
      for a in 0..<d {
        for b in (a + 1)..<d { #expect(abs(Reference.dot(row(block * d + a), row(block * d + b))) < 1e-4 * Reference.dot(row(block * d + a), row(block * d + a)).squareRoot() * Reference.dot(row(block * d + b), row(block * d + b)).squareRoot()) }
      }
    }
    let norms = (0..<20).map { Reference.dot(row($0), row($0)).squareRoot() }
    #expect(Set(norms.map { ($0 * 1000).rounded() }).count > 15)  // chi draws, not all √d
    #expect(PositiveRandomFeatures(features: 20, depth: d, seed: 3).projection == omega)  // seeded
    #expect(PositiveRandomFeatures(features: 20, depth: d, seed: 4).projection != omega)
  }

  @Test(arguments: cases)
  func fastmaxIsThePolynomialScore(_ c: Case) throws {
    for p in [1, 2] {
      for normalize in [0, 1] {
        let (y, heads, _) = try Self.run("fastmax", c, ["p": Double(p), "normalize": Double(normalize)])
        let reference = heads.map { head -> [[Double]] in
          var q = head.q, k = head.k
          if normalize == 1 {
            func centred(_ rows: [[Double]], _ weights: [Double]?) -> [[Double]] {
              let rows = rows.map { r in r.map { $0 - r.reduce(0, +) / Double(r.count) } }
              let largest = rows.indices.filter { weights?[$0] ?? 1 != 0 }.map { Reference.dot(rows[$0], rows[$0]).squareRoot() }.max()!
              return rows.map { $0.map { $0 / largest } }
            }
            q = centred(head.q.map { $0.map { $0 / Double(c.scale) } }, nil)
            k = centred(head.k, head.weights)
          }
          return Self.weighted(head) { i, j in
            let x = Reference.dot(q[i], k[j])
            return 1 + x + (p == 2 ? x * x / 2 : 0)
          }
        }
        let error = Self.relativeError(y, reference)
        #expect(error < 1e-4, "p=\(p) normalize=\(normalize): \(error)")
      }
    }
  }

  @Test(arguments: cases)
  func scatterbrainIsExactOnItsSupportAndFavorElsewhere(_ c: Case) throws {
    for (w, m, b) in [(8, 16, 0), (10, 0, 0), (0, 16, 12), (6, 0, 10), (4, 12, 9), (0, 8, 0)] {
      let (y, heads, _) = try Self.run("scatterbrain", c, ["w": Double(w), "m": Double(m), "b": Double(b), "hashes": 2, "seed": 9])
      let reference = heads.map { head -> [[Double]] in
        let (n, l) = (head.q.count, head.k.count)
        var support = [[Bool]](repeating: [Bool](repeating: false, count: l), count: n)
        for i in 0..<n {
          for j in 0..<l where w > 0 && abs(j - (i + l - n)) <= w / 2 { support[i][j] = true }
        }
        if b > 0 {
          // XBOX+ transform, one direction per round, sort, equal clusters of b.
          let valid = (0..<l).filter { head.weights[$0] != 0 }
          let total = head.q.map { Reference.dot($0, $0) }.max()! + valid.map { Reference.dot(head.k[$0], head.k[$0]) }.max()!
          for a in Scatterbrain.hashDirections(seed: head.seed, rounds: 2, width: c.depth + 2).map({ $0.map(Double.init) }) {
            let pq = head.q.map { Reference.dot($0, Array(a[0..<c.depth])) + (total - Reference.dot($0, $0)).squareRoot() * a[c.depth + 1] }
            let pk = head.k.map { Reference.dot($0, Array(a[0..<c.depth])) + max(0, total - Reference.dot($0, $0)).squareRoot() * a[c.depth] }
            let queryOrder = (0..<n).sorted { pq[$0] < pq[$1] }, keyOrder = valid.sorted { pk[$0] < pk[$1] }
            for (rank, i) in queryOrder.enumerated() {
              let cluster = rank / b
              for j in keyOrder.dropFirst(cluster * b).prefix(b) { support[i][j] = true }
            }
          }
        }
        let omega = m > 0 ? PositiveRandomFeatures(features: m, depth: c.depth, seed: head.seed).projection : []
        let fq = head.q.map { m > 0 ? Self.favor($0, omega, m) : [] }, fk = head.k.map { m > 0 ? Self.favor($0, omega, m) : [] }
        return Self.weighted(head) { i, j in
          let low = m > 0 ? Reference.dot(fq[i], fk[j]) : 0
          return support[i][j] ? Foundation.exp(Reference.dot(head.q[i], head.k[j])) : low
        }
      }
      let error = Self.relativeError(y, reference)
      #expect(error < 1e-4, "w=\(w) m=\(m) b=\(b): \(error)")
    }
  }

  static let encoderCases = cases.filter { !$0.causal }

  @Test(arguments: encoderCases)
  func linformerIsSoftmaxOverProjectedKeys(_ c: Case) throws {
    // The random projection refuses key weights (variantsRefuseWhatTheyCannotHonour).
    for (k, random) in [(16, 0), (200, 0), (16, 1)] where !(c.weighted && random == 1) {
      let (y, heads, _) = try Self.run("linformer", c, ["k": Double(k), "random": Double(random), "delta": 0.5, "seed": 2])
      let reference = heads.map { head -> [[Double]] in
        if random == 1 {
          let r = SequenceProjection.gaussianMatrix(rows: k, columns: c.keys, seed: head.seed, weights: nil)
          func project(_ x: [[Double]], _ factor: Double) -> [[Double]] {
            (0..<k).map { i in (0..<x[0].count).map { t in (0..<c.keys).reduce(0) { $0 + factor * Double(r[i * c.keys + $1]) * head.weights[$1] * x[$1][t] } } }
          }
          return Reference.softmaxAttention(head.q, project(head.k, 0.5), project(head.v, Foundation.exp(-0.5)))
        }
        return Reference.softmaxAttention(
          head.q, Self.pool(head.k, weights: head.weights, count: k), Self.pool(head.v, weights: head.weights, count: k),
          bias: Self.pooledWeights(head.weights, count: k).map(Foundation.log))
      }
      let error = Self.relativeError(y, reference)
      #expect(error < 1e-4, "k=\(k) random=\(random): \(error)")
    }
  }

  @Test(arguments: encoderCases)
  func flurkaIsAFeatureMapOverProjectedKeys(_ c: Case) throws {
    for name in ["flurka-rf", "flurka-pool", "flurka-elu"] where !(c.weighted && name == "flurka-rf") {
      let (y, heads, _) = try Self.run(name, c, ["k": 20, "seed": 4].filter { name != "flurka-elu" || $0.key == "k" })
      let reference = heads.map { head -> [[Double]] in
        var keys = Self.pool(head.k, weights: head.weights, count: 20), values = Self.pool(head.v, weights: head.weights, count: 20)
        var pooledWeights = Self.pooledWeights(head.weights, count: 20)
        if name == "flurka-rf" {
          let r = SequenceProjection.gaussianMatrix(rows: 20, columns: c.keys, seed: head.seed, weights: nil)
          func project(_ x: [[Double]], _ factor: Double) -> [[Double]] {
            (0..<20).map { i in (0..<x[0].count).map { t in (0..<c.keys).reduce(0) { $0 + factor * Double(r[i * c.keys + $1]) * head.weights[$1] * x[$1][t] } } }
          }
          keys = project(head.k, 1)
          values = project(head.v, Foundation.exp(-1))
          pooledWeights = keys.map { _ in 1 }
        }
        let phi: ([Double]) -> [Double]
        if name == "flurka-elu" {
          phi = { $0.map { $0 > 0 ? $0 + 1 : Foundation.exp($0) } }
        } else {
          let omega = PositiveRandomFeatures(features: 128, depth: c.depth, seed: head.seed &+ 1).projection
          phi = { Self.favor($0, omega, 128) }
        }
        let fk = keys.map(phi)
        return head.q.map { qi in
          let fq = phi(qi)
          let w = fk.indices.map { pooledWeights[$0] * Reference.dot(fq, fk[$0]) }
          let total = w.reduce(0, +)
          return (0..<c.valueDepth).map { t in (0..<w.count).reduce(0) { $0 + w[$1] * values[$1][t] } / total }
        }
      }
      let error = Self.relativeError(y, reference)
      #expect(error < 1e-4, "\(name): \(error)")
    }
  }

  @Test(arguments: encoderCases)
  func nystromIsLandmarkSoftmaxWithIteratedPseudoInverse(_ c: Case) throws {
    let (y, heads, _) = try Self.run("nystrom", c, ["m": 10, "iterations": 6])
    let reference = heads.map { head -> [[Double]] in
      let ql = Self.pool(head.q, weights: head.q.map { _ in 1 }, count: 10), kl = Self.pool(head.k, weights: head.weights, count: 10)
      let landmarkWeights = Self.pooledWeights(head.weights, count: 10)
      /// `softmax(a·bᵀ + log w)` by rows.
      func softmaxRows(_ a: [[Double]], _ b: [[Double]], _ weights: [Double]?) -> [[Double]] {
        a.map { x in
          let s = b.indices.map { Reference.dot(x, b[$0]) + Foundation.log(weights?[$0] ?? 1) }
          let top = s.max()!, e = s.map { Foundation.exp($0 - top) }, total = e.reduce(0, +)
          return e.map { $0 / total }
        }
      }
      func multiply(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        a.map { row in (0..<b[0].count).map { j in row.indices.reduce(0) { $0 + row[$1] * b[$1][j] } } }
      }
      let k1 = softmaxRows(head.q, kl, landmarkWeights), k2 = softmaxRows(ql, kl, landmarkWeights)
      let k3 = softmaxRows(ql, head.k, head.weights)
      // Z₀ = Xᵀ/(max column sum · max row sum), Z ← ¼Z(13I − XZ(15I − XZ(7I − XZ))).
      let rows = k2.count
      let columnSums = (0..<k2[0].count).map { j in k2.reduce(0) { $0 + abs($1[j]) } }
      let rowSums = k2.map { $0.reduce(0) { $0 + abs($1) } }
      var z = (0..<k2[0].count).map { j in (0..<rows).map { i in k2[i][j] / (columnSums.max()! * rowSums.max()!) } }
      func minus(_ a: Double, _ x: [[Double]]) -> [[Double]] { x.indices.map { i in x[i].indices.map { j in (i == j ? a : 0) - x[i][j] } } }
      for _ in 0..<6 {
        let xz = multiply(k2, z)
        z = multiply(z, minus(13, multiply(xz, minus(15, multiply(xz, minus(7, xz)))))).map { $0.map { $0 / 4 } }
      }
      return multiply(multiply(k1, z), multiply(k3, head.v))
    }
    #expect(Self.relativeError(y, reference) < 1e-4)
  }

  @Test func nystromWithAsManyLandmarksAsTokensIsExact() throws {
    let c = Case(batch: 1, heads: 2, kvHeads: 2, queries: 12, keys: 12)
    let (y, heads, _) = try Self.run("nystrom", c, ["m": 12, "iterations": 30])
    let reference = heads.map { Reference.softmaxAttention($0.q, $0.k, $0.v) }
    #expect(Self.relativeError(y, reference) < 1e-3)
  }

  /// With key weights (one weighing 0), as many landmarks as tokens: exact proportional attention.
  @Test func nystromWithAsManyLandmarksAsTokensIsExactWithWeights() throws {
    let c = Case(batch: 1, heads: 2, kvHeads: 2, queries: 12, keys: 12, weighted: true)
    let (y, heads, _) = try Self.run("nystrom", c, ["m": 12, "iterations": 30])
    let reference = heads.map { Reference.softmaxAttention($0.q, $0.k, $0.v, bias: $0.weights.map(Foundation.log)) }
    #expect(Self.relativeError(y, reference) < 1e-3)
  }

  @Test func variantsRefuseWhatTheyCannotHonour() throws {
    for name in ["linformer", "flurka-rf", "flurka-pool", "flurka-elu", "nystrom"] {
      #expect(throws: AttncError.self) { _ = try Self.run(name, Case(causal: true), [:]) }
    }
    let definition = try AttentionVariants.named("performer")
    #expect(definition.refusal(causal: false, mask: "additive_bias", softcap: 0) != nil)
    #expect(definition.refusal(causal: true, mask: "key_padding", softcap: 0) == nil)
    #expect(definition.refusal(causal: false, mask: "none", softcap: 30) != nil)
  }

  @Test func parametersParseWithDefaultsAndClearErrors() throws {
    let (definition, parameters) = try AttentionVariants.parse("scatterbrain:w=32,m=0")
    #expect(definition.name == "scatterbrain")
    #expect(parameters.values == ["w": 32, "m": 0, "b": 0, "hashes": 2, "seed": 0])
    for (text, message) in [
      ("perfomer", "unknown attention variant 'perfomer'"), ("fastmax:p=3", "p must be an integer in 1...2, got 3"),
      ("performer:k=4", "performer has no parameter 'k' (it takes m, seed)"), ("nystrom:m", "is not key=number"),
    ] {
      do {
        _ = try AttentionVariants.parse(text)
        Issue.record("\(text) parsed")
      } catch {
        #expect("\(error)".contains(message), "\(error)")
      }
    }
  }

  @Test func aFullyMaskedBatchGivesZeros() throws {
    var c = Case(batch: 1, heads: 2, kvHeads: 2, queries: 5, keys: 5)
    c.padded = false
    // The variants with their own kernel (those run by the tiled kernel give its softmax over
    // the finitely masked keys).
    for name in AttentionVariants.all.filter({ $0.kernel != nil }).map(\.name) {
      let definition = try AttentionVariants.named(name)
      let y = try VariantAttention.run(
        definition, parameters: try definition.resolve([:]), q: .float(SeededValues.floats(2 * 5 * 8, seed: 1), [1, 2, 5, 8]),
        k: .float(SeededValues.floats(2 * 5 * 8, seed: 2), [1, 2, 5, 8]), v: .float(SeededValues.floats(2 * 5 * 6, seed: 3), [1, 2, 5, 6]),
        mask: .keyPadding(.float([0, 0, 0, 0, 0], [1, 5]), fill: -10000), scale: 0.3, causal: false)
      #expect(y.floats.allSatisfy { $0 == 0 }, "\(name)")
    }
  }

  @Test func costsGrowLinearlyForTheLinearVariants() throws {
    for name in ["performer", "linformer", "flurka-pool", "flurka-elu", "fastmax", "scatterbrain", "nystrom"] {
      let definition = try AttentionVariants.named(name)
      let p = try definition.resolve([:])
      let small = definition.cost(AttentionShape(queries: 4096, keys: 4096, depth: 64, valueDepth: 64), p).flops
      let large = definition.cost(AttentionShape(queries: 16384, keys: 16384, depth: 64, valueDepth: 64), p).flops
      #expect(large / small > 3.5 && large / small < 4.1, "\(name): \(large / small)")
    }
    let softmax = AttentionVariantDefinition.softmax
    let ratio = softmax.cost(AttentionShape(queries: 8192, keys: 8192, depth: 64, valueDepth: 64), VariantParameters([:])).flops
      / softmax.cost(AttentionShape(queries: 4096, keys: 4096, depth: 64, valueDepth: 64), VariantParameters([:])).flops
    #expect(abs(ratio - 4) < 0.01)
  }
}

// MARK: - Per-key weights

extension AttentionVariantTests {
  /// Every variant with a non-default setting worth covering, as `(name, parameters)`.
  static let settings: [(String, [String: Double])] = [
    ("performer", ["m": 24, "seed": 5]), ("fastmax", ["p": 1]), ("fastmax", ["p": 2, "normalize": 0]),
    ("scatterbrain", ["w": 8, "m": 16, "seed": 9]), ("scatterbrain", ["w": 0, "m": 12, "b": 9, "seed": 9]),
    ("linformer", ["k": 16]), ("linformer", ["k": 16, "random": 1]), ("flurka-rf", ["k": 20]), ("flurka-pool", ["k": 20, "m": 32]),
    ("flurka-elu", ["k": 20]), ("nystrom", ["m": 10]),
  ]

  /// The settings that honour key weights: all but the random projections.
  static func supportsWeights(_ name: String, _ parameters: [String: Double]) throws -> Bool {
    let definition = try AttentionVariants.named(name)
    return definition.refusal(causal: false, mask: "key_weights", softcap: 0, parameters: try definition.resolve(parameters)) == nil
  }

  /// With weights in {0, 1}, `key_weights` computes exactly what `key_padding` does.
  @Test func zeroOneWeightsGiveTheKeyPaddingResult() throws {
    for (name, parameters) in Self.settings where try Self.supportsWeights(name, parameters) {
      let causal = try AttentionVariants.named(name).supportsCausal
      for c in [Case(padded: true), Case(queries: 50, keys: 70, causal: causal, padded: true)] {
        let padded = try Self.run(name, c, parameters).output
        let weighted = try Self.run(name, c, parameters, mask: .keyWeights(.float(Self.keyWeights(c), [c.batch, c.keys]))).output
        #expect(weighted == padded, "\(name) \(parameters) \(c)")
      }
    }
  }

  @Test func weightsThatAreAllZeroGiveZeros() throws {
    let c = Case(batch: 1, heads: 2, kvHeads: 2, queries: 5, keys: 5)
    for (name, parameters) in Self.settings where try Self.supportsWeights(name, parameters) {
      let y = try Self.run(name, c, parameters, mask: .keyWeights(.float([0, 0, 0, 0, 0], [1, 5]))).output
      #expect(y.allSatisfy { $0 == 0 }, "\(name) \(parameters)")
    }
  }

  /// Runs `name` on one batch (GQA, 4 query heads on 2 key/value heads) twice: with integer key
  /// weights `counts`, and with key `j` repeated `counts[j]` times (dropped at 0) and no mask.
  static func weightedAndRepeated(_ name: String, _ parameters: [String: Double], counts: [Int]) throws -> (weighted: [Float], repeated: [Float]) {
    let (heads, kvHeads, queries, keys, depth, valueDepth) = (4, 2, 70, counts.count, 8, 6)
    let definition = try AttentionVariants.named(name)
    let resolved = try definition.resolve(parameters)
    let q = Tensor.float(SeededValues.floats(heads * queries * depth, seed: 31, amplitude: 1.5), [1, heads, queries, depth])
    let k = SeededValues.floats(kvHeads * keys * depth, seed: 32, amplitude: 1.5), v = SeededValues.floats(kvHeads * keys * valueDepth, seed: 33, amplitude: 2)
    func repeated(_ x: [Float], width: Int) -> Tensor {
      var rows: [Float] = []
      for g in 0..<kvHeads {
        for j in 0..<keys {
          for _ in 0..<counts[j] { rows += x[((g * keys + j) * width)..<((g * keys + j + 1) * width)] }
        }
      }
      return .float(rows, [1, kvHeads, counts.reduce(0, +), width])
    }
    let weighted = try VariantAttention.run(
      definition, parameters: resolved, q: q, k: .float(k, [1, kvHeads, keys, depth]), v: .float(v, [1, kvHeads, keys, valueDepth]),
      mask: .keyWeights(.float(counts.map(Float.init), [1, keys])), scale: 0.35, causal: false)
    let plain = try VariantAttention.run(
      definition, parameters: resolved, q: q, k: repeated(k, width: depth), v: repeated(v, width: valueDepth), mask: .none,
      scale: 0.35, causal: false)
    return (weighted.floats.owned, plain.floats.owned)
  }

  /// `‖a − b‖ / ‖b‖`.
  static func relativeDifference(_ a: [Float], _ b: [Float]) -> Double {
    let difference = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
    return (difference / max(b.reduce(0.0) { $0 + Double($1) * Double($1) }, 1e-300)).squareRoot()
  }

  /// Integer weights are key duplication for the pure feature-map methods: `Σ_j w_j·φ(q)·φ(k_j)`
  /// is the sum over `w_j` copies (fastmax's normalisation takes the largest norm over keys with
  /// nonzero weight, which copies do not change; Performer's features depend on the seed, not on
  /// the keys). flurka-elu is one of them only when every segment is a single token (`k` at least
  /// the repeated length). It does not hold for the pooling methods in general (segments are cut
  /// by position, so copies shift the segment edges; linformer, flurka-pool/elu with small `k`,
  /// nystrom's landmarks) nor for scatterbrain (its window is positional and its LSH clusters hold
  /// `b` keys each, copies included). Encoder only: copies also move the causal diagonal.
  @Test func integerWeightsEqualRepeatedKeysForFeatureMaps() throws {
    let counts = (0..<40).map { ($0 * 7 + 3) % 4 }  // 3, 2, 1, 0, …: 60 keys once repeated
    for (name, parameters) in [
      ("fastmax", ["p": 1.0, "normalize": 0.0]), ("fastmax", ["p": 1, "normalize": 1]), ("fastmax", ["p": 2, "normalize": 0]),
      ("fastmax", ["p": 2, "normalize": 1]), ("flurka-elu", ["k": 200]), ("performer", ["m": 32, "seed": 3]),
    ] {
      let (weighted, repeated) = try Self.weightedAndRepeated(name, parameters, counts: counts)
      let difference = Self.relativeDifference(weighted, repeated)
      #expect(difference < 1e-5, "\(name) \(parameters): \(difference)")
    }
  }

  @Test func randomProjectionsRefuseKeyWeights() throws {
    let flurka = try AttentionVariants.named("flurka-rf")
    #expect(flurka.refusal(causal: false, mask: "key_weights", softcap: 0) == "flurka-rf cannot honour per-key weights")
    #expect(flurka.refusal(causal: false, mask: "key_padding", softcap: 0) == nil)
    let linformer = try AttentionVariants.named("linformer")
    #expect(linformer.refusal(causal: false, mask: "key_weights", softcap: 0) == nil)
    #expect(
      linformer.refusal(causal: false, mask: "key_weights", softcap: 0, parameters: try linformer.resolve(["random": 1]))
        == "linformer cannot honour per-key weights with these parameters")
    for (name, parameters) in [("flurka-rf", [:]), ("linformer", ["random": 1.0])] {
      #expect(throws: AttncError.self) { _ = try Self.run(name, Case(weighted: true), parameters) }
    }
    for name in ["softmax", "performer", "linformer", "flurka-pool", "flurka-elu", "fastmax", "scatterbrain", "nystrom"] {
      let definition = try AttentionVariants.named(name)
      #expect(definition.refusal(causal: definition.supportsCausal, mask: "key_weights", softcap: 0) == nil, "\(name)")
    }
  }
}
