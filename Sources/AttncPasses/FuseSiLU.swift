import AttncIR
import AttncTensor

/// `fuse-silu`: `x·sigmoid(x)` (SiLU, the gate of Llama's SwiGLU MLP) and `x·sigmoid(α·x)`
/// (QuickGELU with α = 1.702) become one `Swish(x, alpha)` node, which runs as one vectorised
/// pass instead of a Sigmoid and a Mul over the activations. Operands in either order; `x` must
/// be the same value in both places.
public enum FuseSiLU {
  static let x = Capture("x"), alpha = Capture("alpha")

  public static let pass = Rule.pass("fuse-silu", [silu])

  static let silu: Rule = {
    let scaled = op("Sigmoid", commutative("Mul", any(x), scalar(alpha)))
    let pattern = commutative("Mul", any(x), op("Sigmoid", any(x)) | scaled)
    return Rule("fuse-silu", pattern) { match, root, graph in
      guard let xValue = match[x], let type = graph.values[root].type, type.dtype.isFloatingPoint,
        graph.values[xValue].type == type
      else { return nil }
      let rootNode = graph.nodes[match.nodes[0]]
      let attributes = Attributes(["alpha": .float(match.scalars[alpha] ?? 1)])
      return [try graph.makeNode(
        "Swish", [xValue], attributes: attributes, opset: max(rootNode.opset, 24), type: type,
        name: rootNode.name + "/swish")]
    }
  }()
}
