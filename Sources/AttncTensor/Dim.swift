/// One dimension of a shape: a constant, a symbol (`batch`, `seq`), or a small integer expression
/// of symbols (`seq + 1`, `2*seq`, `seq/2`, `batch*seq`).
///
/// Stored in a canonical form — a polynomial with integer coefficients over atoms, where an atom
/// is a symbol or a floor division that did not simplify — so equal expressions compare equal
/// (`(2*seq + 2)/2 == seq + 1`). Symbols stand for non-negative integers.
public struct Dim: Hashable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
  /// An indivisible factor of a monomial.
  public indirect enum Atom: Hashable, Sendable, Comparable, CustomStringConvertible {
    case symbol(String)
    /// `floor(dividend / divisor)` with divisor > 1, kept when it does not divide evenly.
    case floorDiv(Dim, Int)

    public var description: String {
      switch self {
      case .symbol(let name): return name
      case .floorDiv(let dim, let divisor):
        let inner = dim.terms.count > 1 || dim.terms.values.first.map { $0 != 1 } == true
          ? "(\(dim))" : "\(dim)"
        return "\(inner)/\(divisor)"
      }
    }

    public static func < (lhs: Atom, rhs: Atom) -> Bool { lhs.description < rhs.description }
  }

  /// A product of atoms, kept sorted; the empty product is the constant 1.
  public struct Monomial: Hashable, Sendable, Comparable {
    public var atoms: [Atom]
    public init(_ atoms: [Atom]) { self.atoms = atoms.sorted() }
    public static let one = Monomial([])
    public static func < (lhs: Monomial, rhs: Monomial) -> Bool {
      if lhs.atoms.count != rhs.atoms.count { return lhs.atoms.count > rhs.atoms.count }
      return lhs.atoms.lexicographicallyPrecedes(rhs.atoms)
    }
    var description: String { atoms.map(\.description).joined(separator: "*") }
  }

  /// Coefficient per monomial; zero coefficients are never stored.
  public private(set) var terms: [Monomial: Int]

  init(terms: [Monomial: Int]) { self.terms = terms.filter { $0.value != 0 } }

  /// A constant dimension.
  public init(_ value: Int) { self.init(terms: [.one: value]) }
  public init(integerLiteral value: Int) { self.init(value) }

  /// A named symbol, as an exporter's `dim_param` (`batch`, `sequence`).
  public static func symbol(_ name: String) -> Dim { Dim(terms: [Monomial([.symbol(name)]): 1]) }

  /// The symbol of a dim whose arithmetic overflowed 64 bits (a hostile declared dim): no
  /// binding names it, so it never evaluates, and shape inference refuses it (`isOverflowed`).
  public static let overflowSymbol = "dim_overflow__"

  /// What arithmetic returns instead of trapping when a coefficient would overflow.
  public static var overflowed: Dim { .symbol(overflowSymbol) }

  /// True when arithmetic on this dim (or one it came from) overflowed.
  public var isOverflowed: Bool { symbols.contains(Dim.overflowSymbol) }

  /// Prefix of the fresh symbols shape inference invents for data-dependent dims.
  public static let unknownPrefix = "unk__"

  /// The constant value, if this dim has no symbols.
  public var value: Int? {
    if terms.isEmpty { return 0 }
    if terms.count == 1, let c = terms[.one] { return c }
    return nil
  }

  public var isConstant: Bool { value != nil }

  /// Every symbol this dim mentions, including inside divisions.
  public var symbols: Set<String> {
    var result = Set<String>()
    for monomial in terms.keys {
      for atom in monomial.atoms {
        switch atom {
        case .symbol(let name): result.insert(name)
        case .floorDiv(let dim, _): result.formUnion(dim.symbols)
        }
      }
    }
    return result
  }

  /// True when the dim mentions a fresh data-dependent symbol (see `unknownPrefix`).
  public var isDataDependent: Bool { symbols.contains { $0.hasPrefix(Dim.unknownPrefix) } }

  /// True when every coefficient is non-negative, so the dim is ≥ 0 for every binding.
  public var isKnownNonNegative: Bool { terms.values.allSatisfy { $0 >= 0 } }

  // MARK: - Arithmetic

  // Arithmetic never traps: a coefficient that would overflow 64 bits gives `overflowed`.

  public static func + (lhs: Dim, rhs: Dim) -> Dim {
    var terms = lhs.terms
    for (monomial, c) in rhs.terms {
      let (sum, overflow) = terms[monomial, default: 0].addingReportingOverflow(c)
      if overflow { return .overflowed }
      terms[monomial] = sum
    }
    return Dim(terms: terms)
  }

  public static prefix func - (dim: Dim) -> Dim {
    if dim.terms.values.contains(Int.min) { return .overflowed }
    return Dim(terms: dim.terms.mapValues { -$0 })
  }

  public static func - (lhs: Dim, rhs: Dim) -> Dim { lhs + (-rhs) }

  public static func * (lhs: Dim, rhs: Dim) -> Dim {
    var terms: [Monomial: Int] = [:]
    for (a, ca) in lhs.terms {
      for (b, cb) in rhs.terms {
        let (product, overflow) = ca.multipliedReportingOverflow(by: cb)
        let (sum, overflowed) = terms[Monomial(a.atoms + b.atoms), default: 0].addingReportingOverflow(product)
        if overflow || overflowed { return .overflowed }
        terms[Monomial(a.atoms + b.atoms)] = sum
      }
    }
    return Dim(terms: terms)
  }

  /// Floor division by a positive constant; exact when every coefficient divides evenly.
  public func floorDivided(by divisor: Int) -> Dim {
    precondition(divisor > 0, "division by a non-positive constant")
    if divisor == 1 { return self }
    if let value { return Dim(Dim.floor(value, divisor)) }
    if terms.values.allSatisfy({ $0 % divisor == 0 }) {
      return Dim(terms: terms.mapValues { $0 / divisor })
    }
    // Pull out the part that divides evenly: (2*seq + 1)/2 = seq + (1)/2 = seq + 0.
    var exact: [Monomial: Int] = [:]
    var rest: [Monomial: Int] = [:]
    for (monomial, c) in terms {
      exact[monomial] = Dim.floor(c, divisor)
      let r = c % divisor
      rest[monomial] = r < 0 ? r + divisor : r
    }
    let remainder = Dim(terms: rest)
    let quotient = Dim(terms: exact)
    if let r = remainder.value { return quotient + Dim(Dim.floor(r, divisor)) }
    // ⌊⌊x / a⌋ / b⌋ = ⌊x / (a·b)⌋ for integer x and a, b > 0: strided convolutions in a row
    // (Wav2Vec2's feature extractor) give `samples/20`, as torch's own shapes say, not `samples/5/2/2`.
    if remainder.terms.count == 1, let (monomial, coefficient) = remainder.terms.first, coefficient == 1,
      monomial.atoms.count == 1, case .floorDiv(let inner, let first) = monomial.atoms[0]
    {
      let (product, overflow) = first.multipliedReportingOverflow(by: divisor)
      if !overflow { return quotient + inner.floorDivided(by: product) }
    }
    return quotient + Dim(terms: [Monomial([.floorDiv(remainder, divisor)]): 1])
  }

  /// ⌊a / b⌋ for b > 0, without the overflow of the usual `-((-a + b - 1) / b)`.
  static func floor(_ a: Int, _ b: Int) -> Int {
    let q = a / b
    return a % b < 0 ? q - 1 : q
  }

  /// Division by another dim when it is exact in the algebra (a constant, a monomial dividing
  /// every term, or a polynomial that divides into a single term:
  /// `384·batch·(seq − 8) / (32·batch·(seq − 8)) = 12`); nil when the quotient cannot be expressed.
  public func divided(by divisor: Dim) -> Dim? {
    if let d = divisor.value {
      guard d > 0 else { return nil }
      return floorDivided(by: d)
    }
    if self == divisor { return 1 }
    guard divisor.terms.count == 1, let (monomial, c) = divisor.terms.first, c > 0 else {
      return monomialQuotient(by: divisor)
    }
    var result: [Monomial: Int] = [:]
    for (m, coefficient) in terms {
      guard coefficient % c == 0, let rest = m.removing(monomial) else { return nil }
      let (sum, overflow) = result[rest, default: 0].addingReportingOverflow(coefficient / c)
      if overflow { return .overflowed }
      result[rest] = sum
    }
    return Dim(terms: result)
  }

  /// The single-term `q` with `q · divisor == self`, tried against the divisor's leading term.
  private func monomialQuotient(by divisor: Dim) -> Dim? {
    guard let (lead, c) = divisor.terms.max(by: { $0.key > $1.key }) else { return nil }
    // Int.min / -1 is the one quotient that overflows.
    for (m, a) in terms where !(a == Int.min && c == -1) && a % c == 0 {
      guard let rest = m.removing(lead) else { continue }
      let candidate = Dim(terms: [rest: a / c])
      if candidate * divisor == self { return candidate }
    }
    return nil
  }

  /// `self mod divisor` for a positive constant divisor.
  public func modulo(_ divisor: Int) -> Dim { self - floorDivided(by: divisor) * Dim(divisor) }

  // MARK: - Evaluation

  /// The value under `bindings` (symbol → value), or nil if a symbol is unbound or the value
  /// does not fit in an `Int` (see `checkedValue` to tell the two apart).
  public func evaluate(_ bindings: [String: Int]) -> Int? {
    (try? checkedValue(bindings)) ?? nil
  }

  /// The value under `bindings`, or nil if a symbol is unbound; every product and sum is
  /// overflow-checked, so a hostile coefficient or binding cannot trap.
  /// - Throws: `AttncError.invalid` "dim 2*seq + 1 does not fit in 64 bits at seq = …".
  public func checkedValue(_ bindings: [String: Int]) throws -> Int? {
    var total = 0
    var overflow = false
    for (monomial, c) in terms {
      var product = c
      for atom in monomial.atoms {
        let factor: Int
        switch atom {
        case .symbol(let name):
          guard let v = bindings[name] else { return nil }
          factor = v
        case .floorDiv(let dim, let divisor):
          guard let v = try dim.checkedValue(bindings) else { return nil }
          factor = Dim.floor(v, divisor)
        }
        let (next, over) = product.multipliedReportingOverflow(by: factor)
        product = next
        overflow = overflow || over
      }
      let (sum, over) = total.addingReportingOverflow(product)
      total = sum
      overflow = overflow || over
    }
    guard !overflow else {
      let at = symbols.sorted().compactMap { name in bindings[name].map { "\(name) = \($0)" } }
      throw AttncError.invalid(
        "dim \(self) does not fit in 64 bits at \(at.joined(separator: ", "))")
    }
    return total
  }

  /// Replaces symbols by dims (for `--input-shape` overrides and unification).
  public func substituting(_ replacements: [String: Dim]) -> Dim {
    var result = Dim(0)
    for (monomial, c) in terms {
      var product = Dim(c)
      for atom in monomial.atoms {
        switch atom {
        case .symbol(let name): product = product * (replacements[name] ?? .symbol(name))
        case .floorDiv(let dim, let divisor):
          product = product * dim.substituting(replacements).floorDivided(by: divisor)
        }
      }
      result = result + product
    }
    return result
  }

  // MARK: - Printing

  /// `2*seq + 1`, `batch*seq`, `seq/2`, `seq - 1`.
  public var description: String {
    if terms.isEmpty { return "0" }
    var parts: [String] = []
    for monomial in terms.keys.sorted() {
      guard let c = terms[monomial] else { continue }
      let magnitude = c.magnitude  // abs(Int.min) would trap
      let body: String
      if monomial == .one {
        body = "\(magnitude)"
      } else if magnitude == 1 {
        body = monomial.description
      } else {
        body = "\(magnitude)*\(monomial.description)"
      }
      if parts.isEmpty {
        parts.append(c < 0 ? "-\(body)" : body)
      } else {
        parts.append(c < 0 ? "- \(body)" : "+ \(body)")
      }
    }
    return parts.joined(separator: " ")
  }
}

extension Dim.Monomial {
  /// `self / other` when `other`'s atoms are a sub-multiset of `self`'s.
  func removing(_ other: Dim.Monomial) -> Dim.Monomial? {
    var remaining = atoms
    for atom in other.atoms {
      guard let index = remaining.firstIndex(of: atom) else { return nil }
      remaining.remove(at: index)
    }
    return Dim.Monomial(remaining)
  }
}

extension Dim: Comparable {
  /// An arbitrary but stable order (constants by value first), for deterministic output.
  public static func < (lhs: Dim, rhs: Dim) -> Bool {
    switch (lhs.value, rhs.value) {
    case (let a?, let b?): return a < b
    case (.some, nil): return true
    case (nil, .some): return false
    default: return lhs.description < rhs.description
    }
  }
}

extension Dim {
  /// The polynomial as (coefficient, atoms) terms in a stable order, for serialization.
  public var termList: [(coefficient: Int, atoms: [Atom])] {
    terms.keys.sorted().compactMap { monomial in
      terms[monomial].map { ($0, monomial.atoms) }
    }
  }

  /// Rebuilds a dim from serialized terms (the inverse of `termList`).
  public init(termList: [(coefficient: Int, atoms: [Atom])]) {
    var result: [Monomial: Int] = [:]
    for term in termList { result[Monomial(term.atoms), default: 0] += term.coefficient }
    self.init(terms: result)
  }
}

// MARK: - Codable

/// A dim is coded as its canonical terms: each monomial (its atoms) with its coefficient.
extension Dim: Codable {
  public init(from decoder: any Decoder) throws { self.init(terms: try [Monomial: Int](from: decoder)) }
  public func encode(to encoder: any Encoder) throws { try terms.encode(to: encoder) }
}

extension Dim.Monomial: Codable {
  public init(from decoder: any Decoder) throws { self.init(try [Dim.Atom](from: decoder)) }
  public func encode(to encoder: any Encoder) throws { try atoms.encode(to: encoder) }
}

extension Dim.Atom: Codable {}
