import AttncTensor

/// Orders nodes so every value is produced before it is read (ONNX requires this, but some
/// writers break it), keeping the file's order among independent nodes.
enum TopologicalOrder {
  /// - Parameter available: names defined before any node (graph inputs, initializers).
  /// - Throws: "graph has a cycle through nodes 'a', 'b'" when no order exists. Inputs that no
  ///   node produces are left for the importer to report by name.
  static func sort(_ nodes: [OnnxNode], available: Set<String>) throws -> [OnnxNode] {
    var producer: [String: Int] = [:]
    for (index, node) in nodes.enumerated() {
      for output in node.outputs where !output.isEmpty && producer[output] == nil {
        producer[output] = index
      }
    }
    // Dependencies on earlier-produced values only; an already ordered graph returns as is.
    var dependents = [[Int]](repeating: [], count: nodes.count)
    var pending = [Int](repeating: 0, count: nodes.count)
    var ordered = true
    for (index, node) in nodes.enumerated() {
      for input in Set(node.inputs) where !input.isEmpty && !available.contains(input) {
        guard let source = producer[input] else { continue }
        if source >= index { ordered = false }
        if source == index { pending[index] += 1; continue }
        dependents[source].append(index)
        pending[index] += 1
      }
    }
    if ordered { return nodes }
    var ready = (0..<nodes.count).filter { pending[$0] == 0 }
    var result: [OnnxNode] = []
    var cursor = 0
    while cursor < ready.count {
      let index = ready[cursor]
      cursor += 1
      result.append(nodes[index])
      for next in dependents[index] {
        pending[next] -= 1
        if pending[next] == 0 { ready.append(next) }
      }
    }
    guard result.count == nodes.count else {
      let stuck = (0..<nodes.count).filter { pending[$0] > 0 }.prefix(8)
        .map { "'\(nodes[$0].name.isEmpty ? nodes[$0].opType : nodes[$0].name)'" }
      throw AttncError.invalid("graph has a cycle through nodes \(stuck.joined(separator: ", "))")
    }
    return result
  }
}
