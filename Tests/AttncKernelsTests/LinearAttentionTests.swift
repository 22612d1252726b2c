import AttncKernels
import AttncTestSupport
import Foundation
import Testing

/// The LinearAttention recurrence against a plain loop that follows the ONNX formulas term by
/// term, in Double, for every update rule, grouped heads, both gate widths and a past state.
@Suite struct LinearAttentionTests {
  struct Case: CustomStringConvertible {
    var qHeads = 2, kvHeads = 2, decays = false, correctsDelta = false
    /// Decay per key feature (`[B, T, Hkv·dk]`) or per head (`[B, T, Hkv]`).
    var decayPerFeature = true
    /// Beta per head (`[B, T, Hkv]`) or one for all heads (`[B, T, 1]`).
    var betaPerHead = true
    var withPast = false
    var scale: Float = 0
    let batch = 2, length = 3, keyDim = 3, valueDim = 2
    var description: String {
      "Hq \(qHeads)/Hkv \(kvHeads) decays \(decays) delta \(correctsDelta) past \(withPast)"
    }
  }

  static let cases: [Case] = [
    Case(),
    Case(decays: true),
    Case(correctsDelta: true, scale: 0.5),
    Case(decays: true, correctsDelta: true, withPast: true),
    Case(qHeads: 4, kvHeads: 2, decays: true, correctsDelta: true, decayPerFeature: false),
    Case(qHeads: 4, kvHeads: 1, decays: true, correctsDelta: true, betaPerHead: false),
  ]

  struct Inputs {
    var query, key, value: Tensor
    var past, decay, beta: Tensor?
  }

  static func inputs(_ c: Case) -> Inputs {
    let (b, t) = (c.batch, c.length)
    let decayWidth = c.decayPerFeature ? c.kvHeads * c.keyDim : c.kvHeads
    let betaWidth = c.betaPerHead ? c.kvHeads : 1
    return Inputs(
      query: .float(SeededValues.floats(b * t * c.qHeads * c.keyDim, seed: 1), [b, t, c.qHeads * c.keyDim]),
      key: .float(SeededValues.floats(b * t * c.kvHeads * c.keyDim, seed: 2), [b, t, c.kvHeads * c.keyDim]),
      value: .float(
        SeededValues.floats(b * t * c.kvHeads * c.valueDim, seed: 3), [b, t, c.kvHeads * c.valueDim]),
      past: c.withPast
        ? .float(
          SeededValues.floats(b * c.kvHeads * c.keyDim * c.valueDim, seed: 4),
          [b, c.kvHeads, c.keyDim, c.valueDim]) : nil,
      decay: c.decays
        ? .float(SeededValues.floats(b * t * decayWidth, seed: 5).map { $0 * 0.5 - 0.25 }, [b, t, decayWidth])
        : nil,
      beta: c.correctsDelta
        ? .float(SeededValues.floats(b * t * betaWidth, seed: 6).map { 0.5 + 0.4 * $0 }, [b, t, betaWidth]) : nil
    )
  }

  /// `[output, state]` by the formulas: `S ← exp(g)⊙S`, `S ← S + β·k ⊗ (v − Sᵀk)` (or `k ⊗ v`),
  /// `o = scale · qᵀS`, query head `i` on key/value head `i / (Hq / Hkv)`.
  static func reference(_ c: Case, _ x: Inputs) -> (output: [Float], state: [Float]) {
    let (dk, dv) = (c.keyDim, c.valueDim)
    let scale = c.scale != 0 ? Double(c.scale) : 1 / Double(dk).squareRoot()
    var output = [Float](repeating: 0, count: c.batch * c.length * c.qHeads * dv)
    var finalState: [Float] = []
    for b in 0..<c.batch {
      for h in 0..<c.kvHeads {
        var s = [[Double]](repeating: [Double](repeating: 0, count: dv), count: dk)
        if let past = x.past {
          for d in 0..<dk {
            for m in 0..<dv {
              s[d][m] = Double(past.floats[((b * c.kvHeads + h) * dk + d) * dv + m])
            }
          }
        }
        for t in 0..<c.length {
          let k = (0..<dk).map {
            Double(x.key.floats[((b * c.length + t) * c.kvHeads + h) * dk + $0])
          }
          var v = (0..<dv).map {
            Double(x.value.floats[((b * c.length + t) * c.kvHeads + h) * dv + $0])
          }
          if let decay = x.decay {
            for d in 0..<dk {
              let index =
                c.decayPerFeature
                ? (b * c.length + t) * c.kvHeads * dk + h * dk + d
                : (b * c.length + t) * c.kvHeads + h
              for m in 0..<dv { s[d][m] *= exp(Double(decay.floats[index])) }
            }
          }
          if let beta = x.beta {
            let rate = Double(
              beta.floats[c.betaPerHead ? (b * c.length + t) * c.kvHeads + h : b * c.length + t])
            v = (0..<dv).map { m in rate * (v[m] - (0..<dk).reduce(0) { $0 + s[$1][m] * k[$1] }) }
          }
          for d in 0..<dk { for m in 0..<dv { s[d][m] += k[d] * v[m] } }
          for i in (h * c.qHeads / c.kvHeads)..<((h + 1) * c.qHeads / c.kvHeads) {
            for m in 0..<dv {
              let q = (0..<dk).map {
                Double(x.query.floats[((b * c.length + t) * c.qHeads + i) * dk + $0])
              }
              output[((b * c.length + t) * c.qHeads + i) * dv + m] = Float(
                scale * (0..<dk).reduce(0) { $0 + q[$1] * s[$1][m] })
            }
          }
        }
        finalState += s.joined().map { Float($0) }
      }
    }
    return (output, finalState)
  }

  static func run(_ c: Case, _ x: Inputs) throws -> [Tensor] {
    try LinearAttentionKernel.run(
      query: x.query, key: x.key, value: x.value, pastState: x.past, decay: x.decay, beta: x.beta,
      options: .init(
        qHeads: c.qHeads, kvHeads: c.kvHeads, scale: c.scale, decays: c.decays,
        correctsDelta: c.correctsDelta))
  }
}

extension LinearAttentionTests {
  @Test(arguments: cases) func matchesThePlainRecurrence(_ c: Case) throws {
    let x = Self.inputs(c)
    let results = try Self.run(c, x)
    let expected = Self.reference(c, x)
    #expect(results[0].shape == [c.batch, c.length, c.qHeads * c.valueDim])
    #expect(results[1].shape == [c.batch, c.kvHeads, c.keyDim, c.valueDim])
    #expect(Reference.maxDifference(results[0].floats.owned, expected.output) < 1e-5)
    #expect(Reference.maxDifference(results[1].floats.owned, expected.state) < 1e-5)
  }

  /// One head, dk = dv = 1: the state sums k·v, so o₂ = scale·q₂·(k₁v₁ + k₂v₂) = 1·1·(2·3 + 1·4).
  @Test func linearRuleSumsKeyValueProducts() throws {
    let results = try LinearAttentionKernel.run(
      query: .float([5, 1], [1, 2, 1]), key: .float([2, 1], [1, 2, 1]),
      value: .float([3, 4], [1, 2, 1]),
      pastState: nil, decay: nil, beta: nil,
      options: .init(qHeads: 1, kvHeads: 1, scale: 1, decays: false, correctsDelta: false))
    #expect(results[0].floats == [30, 10])
    #expect(results[1].floats == [10])
  }

  @Test func missingBetaIsAnError() throws {
    let c = Case(correctsDelta: true)
    var x = Self.inputs(c)
    x.beta = nil
    #expect(throws: (any Error).self) { try Self.run(c, x) }
  }
}
