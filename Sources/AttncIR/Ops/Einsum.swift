import AttncTensor

/// `Einsum(inputs…)` with an equation such as `bij,bjk->bik` or `...ii->...i`: each output index
/// letter takes the dim its letter has in the inputs; `...` stands for broadcast leading axes.
/// Without `->`, the output is the ellipsis then the letters seen once, alphabetically.
public struct Einsum: Op {
  public var equation: String

  public init(attributes: Attributes, opset: Int) throws {
    guard let equation = try attributes.string("equation") else {
      throw AttncError.invalid("attribute 'equation' is required")
    }
    self.equation = equation.filter { !$0.isWhitespace }
  }

  /// Terms of the equation: input subscripts and the (explicit or implicit) output subscript.
  func terms() -> (inputs: [String], output: String?) {
    let sides = equation.components(separatedBy: "->")
    let inputs = sides[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    return (inputs, sides.count > 1 ? sides[1] : nil)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    let (terms, explicit) = terms()
    guard terms.count == inputs.count else {
      throw AttncError.invalid("equation '\(equation)' has \(terms.count) inputs, the node \(inputs.count)")
    }
    var letters: [Character: Dim] = [:]
    var counts: [Character: Int] = [:]
    var ellipsis: [Dim] = []
    for (k, term) in terms.enumerated() {
      let fact = try inputs.required(k)
      let hasEllipsis = term.contains("...")
      let named = Array(term.replacingOccurrences(of: "...", with: ""))
      let ellipsisRank = fact.rank - named.count
      guard hasEllipsis ? ellipsisRank >= 0 : ellipsisRank == 0 else {
        throw AttncError.invalid("term '\(term)' does not fit input \(k) of rank \(fact.rank)")
      }
      var axis = 0
      var chars = Array(term)
      var i = 0
      while i < chars.count {
        if chars[i] == "." {
          ellipsis = try Shapes.broadcast([ellipsis, Array(fact.dims[axis..<(axis + ellipsisRank)])])
          axis += ellipsisRank
          i += 3
          continue
        }
        let letter = chars[i]
        let dim = fact.dims[axis]
        if let existing = letters[letter], existing != dim {
          letters[letter] = try Shapes.broadcast([[existing], [dim]])[0]
        } else {
          letters[letter] = dim
        }
        counts[letter, default: 0] += 1
        axis += 1
        i += 1
      }
      chars = []
    }
    let output = explicit ?? ("..." + String(counts.filter { $0.value == 1 }.keys.sorted()))
    var dims: [Dim] = []
    var chars = Array(output)
    var i = 0
    while i < chars.count {
      if chars[i] == "." {
        dims += ellipsis
        i += 3
        continue
      }
      guard let dim = letters[chars[i]] else {
        throw AttncError.invalid("output letter '\(chars[i])' does not appear in the inputs")
      }
      dims.append(dim)
      i += 1
    }
    chars = []
    return [TensorType(try inputs.required(0).dtype, dims)]
  }
}
