import AttncTensor

extension Graph {
  /// Checks the IR invariants: every node input is a graph input, a constant or the output of an
  /// earlier node; every value has at most one producer; graph outputs are defined; names unique.
  /// - Throws: `AttncError` naming the node or value (a broken pass, not a user error).
  public func verify() throws {
    var defined = Set(inputs)
    for (id, value) in values.enumerated() where value.constant != nil { defined.insert(id) }
    var produced = Set<ValueID>()
    for node in nodes {
      for case let input? in node.inputs {
        guard input >= 0 && input < values.count else {
          throw AttncError.invalid("\(node.label) reads value #\(input), which does not exist")
        }
        guard defined.contains(input) else {
          throw AttncError.invalid(
            "\(node.label) reads '\(values[input].name)' before it is defined")
        }
      }
      for output in node.outputs {
        guard produced.insert(output).inserted, values[output].constant == nil else {
          throw AttncError.invalid("value '\(values[output].name)' has two producers")
        }
        defined.insert(output)
      }
    }
    for output in outputs where !defined.contains(output) {
      throw AttncError.invalid("graph output '\(values[output].name)' is not defined")
    }
    var names = Set<String>()
    for id in Set(inputs + outputs + nodes.flatMap(\.outputs)) {
      guard names.insert(values[id].name).inserted else {
        throw AttncError.invalid("value name '\(values[id].name)' is used twice")
      }
    }
  }
}
