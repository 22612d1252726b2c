/// Non-negative least squares: `argmin ‖A·x − b‖₂` subject to `x ≥ 0` (Lawson and Hanson's
/// active-set method, "Solving Least Squares Problems", 1974, ch. 23). The cost model fits each
/// kernel's time as a non-negative combination of the machine's rates with it, so no term can
/// "help" the fit by predicting negative time.
///
/// Sized for a handful of columns (the cost model has five): the unconstrained sub-problems are
/// solved through the normal equations with the columns scaled to unit norm.
public enum NonNegativeLeastSquares {
  /// - Parameters:
  ///   - rows: the rows of `A`, each with the same number of columns.
  ///   - targets: `b`, one per row.
  /// - Returns: `x ≥ 0`, one per column (0 for an all-zero column).
  public static func solve(rows: [[Double]], targets: [Double]) -> [Double] {
    guard let columns = rows.first?.count, columns > 0, rows.count == targets.count else { return [] }
    // Scale every column to unit norm so the tolerance means the same for each.
    let norms = (0..<columns).map { j in rows.reduce(0) { $0 + $1[j] * $1[j] }.squareRoot() }
    let a = rows.map { row in (0..<columns).map { j in norms[j] > 0 ? row[j] / norms[j] : 0 } }
    let usable = (0..<columns).filter { norms[$0] > 0 }

    func gradient(_ x: [Double]) -> [Double] {
      // w = Aᵀ(b − A·x)
      var w = [Double](repeating: 0, count: columns)
      for (row, target) in zip(a, targets) {
        var residual = target
        for j in 0..<columns { residual -= row[j] * x[j] }
        for j in 0..<columns { w[j] += row[j] * residual }
      }
      return w
    }

    var x = [Double](repeating: 0, count: columns)
    var passive = Set<Int>()
    let tolerance = 1e-12 * Double(rows.count) * Double(columns)
    for _ in 0..<(3 * columns + 10) {
      let w = gradient(x)
      guard let entering = usable.filter({ !passive.contains($0) }).max(by: { w[$0] < w[$1] }), w[entering] > tolerance else { break }
      passive.insert(entering)
      // Inner loop: step towards the unconstrained solution on the passive set, dropping
      // columns whose coefficient would go negative.
      for _ in 0..<(3 * columns + 10) {
        let set = passive.sorted()
        guard let z = leastSquares(a, targets, columns: set) else {
          passive.remove(entering)
          break
        }
        var s = [Double](repeating: 0, count: columns)
        for (index, j) in set.enumerated() { s[j] = z[index] }
        if set.allSatisfy({ s[$0] > 0 }) {
          x = s
          break
        }
        var alpha = 1.0
        for j in set where s[j] <= 0 {
          let denominator = x[j] - s[j]
          if denominator > 0 { alpha = min(alpha, x[j] / denominator) }
        }
        for j in 0..<columns { x[j] += alpha * (s[j] - x[j]) }
        for j in set where x[j] <= 1e-15 {
          x[j] = 0
          passive.remove(j)
        }
        if passive.isEmpty { break }
      }
    }
    return (0..<columns).map { j in norms[j] > 0 ? max(0, x[j]) / norms[j] : 0 }
  }

  /// The unconstrained least-squares coefficients of `columns` of `a`, by Gaussian elimination
  /// with partial pivoting on the normal equations; nil when they are singular.
  static func leastSquares(_ a: [[Double]], _ b: [Double], columns: [Int]) -> [Double]? {
    let n = columns.count
    var m = [[Double]](repeating: [Double](repeating: 0, count: n + 1), count: n)
    for (row, target) in zip(a, b) {
      for (p, i) in columns.enumerated() {
        for (q, j) in columns.enumerated() { m[p][q] += row[i] * row[j] }
        m[p][n] += row[i] * target
      }
    }
    for pivot in 0..<n {
      guard let best = (pivot..<n).max(by: { abs(m[$0][pivot]) < abs(m[$1][pivot]) }), abs(m[best][pivot]) > 1e-14 else { return nil }
      m.swapAt(pivot, best)
      for r in 0..<n where r != pivot {
        let factor = m[r][pivot] / m[pivot][pivot]
        if factor != 0 { for c in pivot...n { m[r][c] -= factor * m[pivot][c] } }
      }
    }
    return (0..<n).map { m[$0][n] / m[$0][$0] }
  }
}
