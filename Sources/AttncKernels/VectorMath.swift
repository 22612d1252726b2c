import CAttnc

/// Float32 transcendental functions written as branch-free scalar code over buffers, so the
/// compiler's loop vectoriser turns each buffer loop into SIMD (Swift's generic SIMD types are
/// slower here: their lane-wise rounding, conversions and selects compile to scalar loops).
///
/// Accuracy (checked against Foundation's functions in `VectorMathTests`): `exp` within 2 ulp,
/// `erf` and `tanh` within 3e-7 absolute. NaN propagates; `exp` underflows to 0 below −87.34 and
/// overflows to +inf above 88.72.
public enum VectorMath {
  /// e^x: x = n·ln2 + r with |r| ≤ ln2/2 (n rounded by the 1.5·2²³ trick), e^r by a degree-7
  /// polynomial (Cephes' coefficients), 2^n by building the exponent bits.
  @inline(__always) public static func exp(_ x: Float) -> Float {
    let c = Swift.min(Swift.max(x, -87.33654), 88.72283)
    let t = c * 1.44269504088896341 + 12582912.0
    let n = t - 12582912.0
    let r = c - n * 0.693359375 + n * 2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    p = p * (r * r) + r + 1
    // 2^n as 2^(n>>1)·2^(n−n>>1): each factor stays a normal float for n in −126…128.
    let n0 = Int32(bitPattern: t.bitPattern &- 0x4B40_0000)
    let n1 = n0 >> 1, n2 = n0 &- n1
    let scale1 = Float(bitPattern: UInt32(bitPattern: (n1 &+ 127) &<< 23))
    let scale2 = Float(bitPattern: UInt32(bitPattern: (n2 &+ 127) &<< 23))
    let result = p * scale1 * scale2
    return x < -87.33654 ? 0 : (x > 88.72283 ? .infinity : result)
  }

  /// erf(x): a Taylor polynomial below |x| = 0.5; above, Abramowitz–Stegun 7.1.26
  /// (`1 − t·P(t)·e^{−x²}`, t = 1/(1 + 0.3275911|x|), |error| ≤ 1.5e-7).
  @inline(__always) public static func erf(_ x: Float) -> Float {
    let a = Swift.abs(x)
    let t = 1 / (1 + 0.3275911 * a)
    var p: Float = 1.061405429
    p = p * t - 1.453152027
    p = p * t + 1.421413741
    p = p * t - 0.284496736
    p = p * t + 0.254829592
    let large = 1 - p * t * exp(-a * a)
    let x2 = x * x
    // 2/√π · (x − x³/3 + x⁵/10 − x⁷/42 + x⁹/216 − x¹¹/1320)
    var s: Float = -1.0 / 1320
    s = s * x2 + 1.0 / 216
    s = s * x2 - 1.0 / 42
    s = s * x2 + 1.0 / 10
    s = s * x2 - 1.0 / 3
    s = s * x2 + 1
    let small = 1.1283791670955126 * x * s
    return a < 0.5 ? small : (x < 0 ? -large : large)
  }

  /// tanh(x): an odd Taylor polynomial below |x| = 0.3, else `±(1 − 2/(e^{2|x|} + 1))`.
  @inline(__always) public static func tanh(_ x: Float) -> Float {
    let a = Swift.abs(x)
    let large = 1 - 2 / (exp(2 * a) + 1)
    let x2 = x * x
    var s: Float = 62.0 / 2835
    s = s * x2 - 17.0 / 315
    s = s * x2 + 2.0 / 15
    s = s * x2 - 1.0 / 3
    let small = x + x * x2 * s
    return a < 0.3 ? small : (x < 0 ? -large : large)
  }

  /// x·Φ(x) (GELU); `tanh` selects the tanh approximation.
  @inline(__always) public static func gelu(_ x: Float, tanh useTanh: Bool) -> Float {
    useTanh
      ? 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))
      : 0.5 * x * (1 + erf(x * 0.7071067811865476))
  }

  /// y[i] = e^{x[i]}.
  public static func exp(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { y[i] = exp(x[i]) }
  }

  /// y[i] = erf(x[i]).
  public static func erf(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { y[i] = erf(x[i]) }
  }

  /// y[i] = tanh(x[i]).
  public static func tanh(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { y[i] = tanh(x[i]) }
  }

  /// y[i] = GELU(x[i]).
  /// (The same formulas in C, 8 wide where the machine has AVX2: `attnc_gelu`.)
  public static func gelu(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int, tanh useTanh: Bool) {
    attnc_gelu(x, y, count, useTanh ? 1 : 0)
  }

  /// y[i] = 1/(1 + e^{−x[i]}) (`attnc_sigmoid`: AVX-512 or AVX2 where the machine has them);
  /// y may be x.
  public static func sigmoid(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
    attnc_sigmoid(x, y, count)
  }

  /// The largest element (NaN if any element is NaN; −inf for none).
  static func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var m0 = -Float.infinity, m1 = m0, m2 = m0, m3 = m0
    var sawNaN = false
    var i = 0
    while i + 4 <= count {
      let a = x[i], b = x[i + 1], c = x[i + 2], d = x[i + 3]
      m0 = a > m0 ? a : m0
      m1 = b > m1 ? b : m1
      m2 = c > m2 ? c : m2
      m3 = d > m3 ? d : m3
      sawNaN = sawNaN || a != a || b != b || c != c || d != d
      i += 4
    }
    while i < count {
      m0 = x[i] > m0 ? x[i] : m0
      sawNaN = sawNaN || x[i] != x[i]
      i += 1
    }
    return sawNaN ? .nan : Swift.max(Swift.max(m0, m1), Swift.max(m2, m3))
  }

  /// The sum of `count` elements (eight partial sums).
  static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= count {
      lanes += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
      i += 8
    }
    var result = lanes.sum()
    while i < count { result += x[i]; i += 1 }
    return result
  }

  /// `Σ x[i]·y[i]` (eight partial sums).
  static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= count {
      lanes += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(y + i).loadUnaligned(as: SIMD8<Float>.self)
      i += 8
    }
    var result = lanes.sum()
    while i < count { result += x[i] * y[i]; i += 1 }
    return result
  }

  /// `y[i] += a·x[i]`.
  static func addScaled(_ a: Float, _ x: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { y[i] += a * x[i] }
  }

  /// Softmax of one contiguous row in place: `x[i] = e^{x[i] − max} / Σ e^{x[j] − max}`.
  /// A row of all −inf, or holding NaN, gives NaN, as the unfused ONNX definition does.
  public static func softmaxRow(_ x: UnsafeMutablePointer<Float>, count: Int) {
    guard count > 0 else { return }
    let top = maximum(x, count: count)
    for i in 0..<count { x[i] = exp(x[i] - top) }
    let scale = 1 / sum(x, count: count)
    for i in 0..<count { x[i] *= scale }
  }
}
