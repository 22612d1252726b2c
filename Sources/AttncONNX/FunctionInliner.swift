import AttncTensor

/// Expands calls to the model's local functions (`FunctionProto`) into their bodies.
///
/// Internal value names are prefixed with the calling node's name, formal inputs and outputs map
/// to the call's actual names, and attributes referring to the caller (`ref_attr_name`) take the
/// caller's value or the function's default. Calls inside bodies are expanded too, up to
/// `maximumDepth` levels.
struct FunctionInliner {
  let functions: [String: OnnxFunction]
  static let maximumDepth = 16

  func inline(_ nodes: [OnnxNode]) throws -> [OnnxNode] {
    guard !functions.isEmpty else { return nodes }
    var counter = 0
    return try expand(nodes, depth: 0, counter: &counter)
  }

  private func expand(_ nodes: [OnnxNode], depth: Int, counter: inout Int) throws -> [OnnxNode] {
    var result: [OnnxNode] = []
    for node in nodes {
      let domain = node.domain == "ai.onnx" ? "" : node.domain
      guard let function = functions["\(domain)::\(node.opType)"] ?? functions["\(node.domain)::\(node.opType)"] else {
        result.append(node)
        continue
      }
      guard depth < FunctionInliner.maximumDepth else {
        throw AttncError.invalid(
          "function '\(function.name)' nests deeper than \(FunctionInliner.maximumDepth) calls (recursive?)")
      }
      counter += 1
      let prefix = "\(node.name.isEmpty ? function.name : node.name)/\(counter)/"
      var rename: [String: String] = [:]
      for (i, formal) in function.inputs.enumerated() {
        rename[formal] = i < node.inputs.count ? node.inputs[i] : ""
      }
      for (i, formal) in function.outputs.enumerated() where i < node.outputs.count {
        rename[formal] = node.outputs[i]
      }
      var defaults: [String: OnnxAttribute] = [:]
      for attribute in function.attributeProtos { defaults[attribute.name] = attribute }
      var callerAttributes: [String: OnnxAttribute] = [:]
      for attribute in node.attributes { callerAttributes[attribute.name] = attribute }

      var body: [OnnxNode] = []
      for inner in function.nodes {
        var copy = inner
        copy.name = prefix + (inner.name.isEmpty ? inner.opType : inner.name)
        copy.inputs = inner.inputs.map { name in
          name.isEmpty ? "" : (rename[name] ?? prefix + name)
        }
        copy.outputs = inner.outputs.map { name in
          name.isEmpty ? "" : (rename[name] ?? prefix + name)
        }
        copy.attributes = inner.attributes.compactMap { attribute in
          guard !attribute.refAttrName.isEmpty else { return attribute }
          guard var bound = callerAttributes[attribute.refAttrName] ?? defaults[attribute.refAttrName]
          else { return nil }
          bound.name = attribute.name
          bound.refAttrName = ""
          return bound
        }
        body.append(copy)
      }
      result += try expand(body, depth: depth + 1, counter: &counter)
    }
    return result
  }
}
