import AttncKernels
import AttncTensor

/// `Einsum(inputs…)`: Einstein summation, `output[out-term] = Σ Π inputᵢ[termᵢ]` over the labels
/// missing from the output term (`bij,bjk->bik` is a batched matmul, `...ii->...i` a diagonal).
///
/// Labels are ASCII letters (upper and lower case distinct); spaces are ignored. `...` stands for
/// the same number of leading-or-middle axes in every term that has it; those axes broadcast
/// numpy-style, and so do size-1 axes of a label shared by several inputs (a label repeated within
/// one term must have equal dims). Without `->` the output is the ellipsis axes followed by the
/// labels used exactly once, in ASCII order.
public struct Einsum: AttributedOp {
  /// One subscript of a term.
  public enum Label: Hashable, Sendable {
    case letter(Character)
    case ellipsis
  }

  /// The equation as written.
  public var equation: String
  /// Each input's subscripts.
  public var inputTerms: [[Label]]
  /// The output subscripts (nil when implicit: derived from the inputs).
  public var outputTerm: [Label]?

  /// Parses `equation`.
  /// - Throws: "attribute 'equation' is required", "equation 'ij,j->k*' has an invalid
  ///   character '*'", "term 'i...j...' has more than one ellipsis".
  public init(equation: String) throws {
    self.equation = equation
    let text = equation.filter { $0 != " " }
    let sides = text.components(separatedBy: "->")
    guard sides.count <= 2 else {
      throw AttncError.invalid("equation '\(equation)' has more than one '->'")
    }
    inputTerms = try sides[0].split(separator: ",", omittingEmptySubsequences: false)
      .map { try Einsum.parse(Substring($0), equation) }
    outputTerm = sides.count == 2 ? try Einsum.parse(Substring(sides[1]), equation) : nil
    if let outputTerm {
      var seen = Set<Label>()
      for label in outputTerm where !seen.insert(label).inserted {
        throw AttncError.invalid("output term of '\(equation)' repeats \(Einsum.name(label))")
      }
    }
  }

  public init(attributes: Attributes, opset: Int) throws {
    guard let equation = try attributes.string("equation") else {
      throw AttncError.invalid("attribute 'equation' is required")
    }
    try self.init(equation: equation)
  }

  static func parse(_ term: Substring, _ equation: String) throws -> [Label] {
    var labels: [Label] = []
    var rest = term[...]
    while let first = rest.first {
      if rest.hasPrefix("...") {
        guard !labels.contains(.ellipsis) else {
          throw AttncError.invalid("term '\(term)' has more than one ellipsis")
        }
        labels.append(.ellipsis)
        rest = rest.dropFirst(3)
      } else if first.isASCII && first.isLetter {
        labels.append(.letter(first))
        rest = rest.dropFirst()
      } else {
        throw AttncError.invalid("equation '\(equation)' has an invalid character '\(first)'")
      }
    }
    return labels
  }

  static func name(_ label: Label) -> String {
    switch label {
    case .letter(let c): "label '\(c)'"
    case .ellipsis: "the ellipsis"
    }
  }

  /// The output subscripts: explicit, or the ellipsis then the labels used exactly once.
  public var resolvedOutputTerm: [Label] {
    if let outputTerm { return outputTerm }
    var counts: [Character: Int] = [:]
    var hasEllipsis = false
    for term in inputTerms {
      for label in term {
        switch label {
        case .letter(let c): counts[c, default: 0] += 1
        case .ellipsis: hasEllipsis = true
        }
      }
    }
    let once = counts.filter { $0.value == 1 }.keys.sorted {
      $0.asciiValue ?? 0 < $1.asciiValue ?? 0
    }
    return (hasEllipsis ? [.ellipsis] : []) + once.map { .letter($0) }
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    guard inputs.count == inputTerms.count else {
      throw AttncError.invalid(
        "equation '\(equation)' has \(inputTerms.count) input terms for \(inputs.count) inputs")
    }
    var facts: [ValueFact] = []
    for index in inputs.indices { facts.append(try inputs.required(index)) }
    try facts[0].expectNumeric("Inputs")
    for (index, fact) in facts.enumerated().dropFirst() {
      try fact.expectSameType(as: facts[0], "input \(index)", "input 0")
    }
    var letters: [Character: Dim] = [:]
    var ellipsis: [Dim] = []
    for (k, (term, fact)) in zip(inputTerms, facts).enumerated() {
      let named = term.filter { $0 != .ellipsis }.count
      let ellipsisRank = fact.rank - named
      guard term.contains(.ellipsis) ? ellipsisRank >= 0 : ellipsisRank == 0 else {
        throw AttncError.invalid(
          "term \(k) of '\(equation)' has \(named) labels but input \(k) has rank \(fact.rank)")
      }
      var own: [Character: Dim] = [:]
      var axis = 0
      for label in term {
        switch label {
        case .ellipsis:
          let dims = Array(fact.dims[axis..<(axis + ellipsisRank)])
          ellipsis = try Shapes.broadcast([ellipsis, dims])
          axis += ellipsisRank
        case .letter(let c):
          let dim = fact.dims[axis]
          if let previous = own[c] {
            _ = try DimCheck.unify(previous, dim, "dims of repeated label '\(c)' in input \(k)")
          }
          own[c] = dim
          if let existing = letters[c] {
            letters[c] = try Shapes.broadcast([[existing], [dim]])[0]
          } else {
            letters[c] = dim
          }
          axis += 1
        }
      }
    }
    let output = resolvedOutputTerm
    if !output.contains(.ellipsis), ellipsis.contains(where: { $0 != 1 }) {
      throw AttncError.invalid(
        "output term of '\(equation)' drops the ellipsis axes \(ellipsis.shapeDescription)")
    }
    var dims: [Dim] = []
    for label in output {
      switch label {
      case .ellipsis: dims += ellipsis
      case .letter(let c):
        guard let dim = letters[c] else {
          throw AttncError.invalid("output label '\(c)' of '\(equation)' is in no input term")
        }
        dims.append(dim)
      }
    }
    return [TensorType(facts[0].dtype, dims)]
  }
}

extension Einsum {
  /// Every axis's label as an integer, the ellipsis expanded: letters are their ASCII code, the
  /// ellipsis axes `256 + j` right-aligned over the widest ellipsis (so they broadcast numpy-style).
  /// - Parameter ranks: each input's rank.
  /// - Returns: one label per axis of each input, and one per output axis.
  /// - Throws: "term 0 of 'ij->i' has 2 labels but input 0 has rank 3".
  public func axisLabels(ranks: [Int]) throws -> (terms: [[Int]], output: [Int]) {
    guard ranks.count == inputTerms.count else {
      throw AttncError.invalid("equation '\(equation)' has \(inputTerms.count) input terms for \(ranks.count) inputs")
    }
    var ellipsisRanks: [Int] = []
    for (k, (term, rank)) in zip(inputTerms, ranks).enumerated() {
      let named = term.filter { $0 != .ellipsis }.count
      guard term.contains(.ellipsis) ? rank >= named : rank == named else {
        throw AttncError.invalid("term \(k) of '\(equation)' has \(named) labels but input \(k) has rank \(rank)")
      }
      ellipsisRanks.append(rank - named)
    }
    let widest = ellipsisRanks.max() ?? 0
    func expand(_ term: [Label], ellipsisRank: Int) -> [Int] {
      term.flatMap { label -> [Int] in
        switch label {
        case .letter(let c): return [Int(c.asciiValue ?? 0)]
        case .ellipsis: return (widest - ellipsisRank..<widest).map { 256 + $0 }
        }
      }
    }
    let terms = zip(inputTerms, ellipsisRanks).map { expand($0, ellipsisRank: $1) }
    return (terms, expand(resolvedOutputTerm, ellipsisRank: widest))
  }
}

extension Einsum: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    let ranks = context.inputs.map { $0?.rank }
    guard let dtype = context.inputs.first??.dtype, dtype.isFloatingPoint, !ranks.contains(nil) else { return nil }
    let (terms, output) = try axisLabels(ranks: ranks.compactMap { $0 })
    return Lowering(EinsumCall(terms: terms, output: output))
  }
}
