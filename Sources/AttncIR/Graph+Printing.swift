import AttncTensor

extension Graph {
  /// One line per node: `name = Op(input: type, …) -> output: type`, then the graph outputs.
  /// Constants print as `const float32[64, 64]`, symbolic integer contents as `[batch, seq]`.
  public func listing() -> String {
    func describe(_ id: ValueID?) -> String {
      guard let id else { return "∅" }
      let value = values[id]
      var text = "%\(value.name)"
      if let constant = value.constant {
        text += " = const \(constant.dtype)\(constant.shape)"
      } else if let type = value.type {
        text += ": \(type)"
      } else {
        text += ": ?"
      }
      if value.constant == nil, let content = value.content { text += " = \(content.shapeDescription)" }
      return text
    }
    var lines: [String] = []
    for input in inputs { lines.append("input \(describe(input))") }
    for node in nodes {
      let op = node.op is DimExpressions ? "DimExpressions\((node.op as? DimExpressions)?.description ?? "")" : node.opType
      lines.append("\(node.outputs.map(describe).joined(separator: ", ")) <- \(op)(\(node.inputs.map(describe).joined(separator: ", ")))  # \(node.name)")
    }
    for output in outputs { lines.append("output \(describe(output))") }
    return lines.joined(separator: "\n")
  }
}
