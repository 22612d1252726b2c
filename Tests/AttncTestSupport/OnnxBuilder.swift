import AttncONNX
import Foundation

/// The protobuf writer tests build ONNX files with (malformed ones included): attnc's own
/// (`AttncONNX.ProtobufWriter`), independent of the decoder under test.
public typealias ProtoWriter = ProtobufWriter

/// Builds ONNX models for tests: `OnnxBuilder().input(...).node(...).output(...).bytes()`.
public struct OnnxBuilder {
  public struct Tensor {
    public var name: String
    public var dataType: Int64
    public var dims: [Int64]
    public var raw: [UInt8]?
    public var floats: [Float]?
    public var external: [(String, String)]?

    public init(name: String, dataType: Int64 = 1, dims: [Int64], raw: [UInt8]? = nil,
                floats: [Float]? = nil, external: [(String, String)]? = nil) {
      self.name = name
      self.dataType = dataType
      self.dims = dims
      self.raw = raw
      self.floats = floats
      self.external = external
    }

    func write(_ w: inout ProtoWriter) {
      for d in dims { w.int(1, d) }
      w.int(2, dataType)
      if let floats { for f in floats { w.float(4, f) } }
      w.string(8, name)
      if let raw { w.bytes(9, raw) }
      if let external {
        for (k, v) in external { w.message(13) { $0.string(1, k); $0.string(2, v) } }
        w.int(14, 1)
      }
    }
  }

  public var irVersion: Int64 = 8
  public var opsets: [(String, Int64)] = [("", 17)]
  public var producer = "attnc-tests"
  var nodes: [(name: String, type: String, inputs: [String], outputs: [String], attributes: [(String, Int64)], domain: String)] = []
  /// Graph attributes (`If`'s branches) by node index: each a builder whose nodes, initializers
  /// and outputs make the subgraph.
  var graphAttributes: [Int: [(String, OnnxBuilder)]] = [:]
  var inputs: [(String, Int64, [String])] = []
  var outputs: [(String, Int64, [String])] = []
  var initializers: [Tensor] = []
  var functions: [(name: String, domain: String, inputs: [String], outputs: [String], nodes: [(type: String, inputs: [String], outputs: [String], refAttributes: [(String, String)])])] = []

  public init() {}

  /// A graph input: dims are numbers or symbol names.
  public func input(_ name: String, dataType: Int64 = 1, _ dims: [String]) -> OnnxBuilder {
    var copy = self
    copy.inputs.append((name, dataType, dims))
    return copy
  }

  public func output(_ name: String, dataType: Int64 = 1, _ dims: [String] = []) -> OnnxBuilder {
    var copy = self
    copy.outputs.append((name, dataType, dims))
    return copy
  }

  public func node(
    _ type: String, _ inputs: [String], _ outputs: [String], name: String = "",
    attributes: [(String, Int64)] = [], domain: String = ""
  ) -> OnnxBuilder {
    var copy = self
    copy.nodes.append((name, type, inputs, outputs, attributes, domain))
    return copy
  }

  /// An `If` node: `then` and `otherwise` are its branches (their nodes, initializers and
  /// outputs; names they do not define come from the enclosing graph).
  public func ifNode(_ condition: String, _ outputs: [String], name: String = "", then: OnnxBuilder, otherwise: OnnxBuilder) -> OnnxBuilder {
    var copy = node("If", [condition], outputs, name: name)
    copy.graphAttributes[copy.nodes.count - 1] = [("then_branch", then), ("else_branch", otherwise)]
    return copy
  }

  public func initializer(_ tensor: Tensor) -> OnnxBuilder {
    var copy = self
    copy.initializers.append(tensor)
    return copy
  }

  /// A local function: nodes whose `refAttributes` pairs (name, ref_attr_name) read the
  /// caller's int attributes.
  public func function(
    _ name: String, domain: String, inputs: [String], outputs: [String],
    nodes: [(type: String, inputs: [String], outputs: [String], refAttributes: [(String, String)])]
  ) -> OnnxBuilder {
    var copy = self
    copy.functions.append((name, domain, inputs, outputs, nodes))
    return copy
  }

  public func with(irVersion: Int64? = nil, opsets: [(String, Int64)]? = nil) -> OnnxBuilder {
    var copy = self
    if let irVersion { copy.irVersion = irVersion }
    if let opsets { copy.opsets = opsets }
    return copy
  }

  /// The serialized ModelProto.
  public func bytes() -> [UInt8] {
    var model = ProtoWriter()
    model.int(1, irVersion)
    model.string(2, producer)
    model.message(7) { writeGraph(&$0) }
    for (domain, version) in opsets {
      model.message(8) { o in
        if !domain.isEmpty { o.string(1, domain) }
        o.int(2, version)
      }
    }
    for function in functions {
      model.message(25) { f in
        f.string(1, function.name)
        for i in function.inputs { f.string(4, i) }
        for o in function.outputs { f.string(5, o) }
        for node in function.nodes {
          f.message(7) { n in
            for i in node.inputs { n.string(1, i) }
            for o in node.outputs { n.string(2, o) }
            n.string(4, node.type)
            for (name, ref) in node.refAttributes {
              n.message(5) { a in a.string(1, name); a.int(20, 2); a.string(21, ref) }
            }
          }
        }
        f.message(9) { $0.int(2, 17) }
        f.string(10, function.domain)
      }
    }
    return model.bytes
  }

  /// The GraphProto's fields: nodes (with their graph attributes), initializers, inputs, outputs.
  func writeGraph(_ graph: inout ProtoWriter) {
    for (index, node) in nodes.enumerated() {
      graph.message(1) { n in
        for i in node.inputs { n.string(1, i) }
        for o in node.outputs { n.string(2, o) }
        if !node.name.isEmpty { n.string(3, node.name) }
        n.string(4, node.type)
        for (name, value) in node.attributes {
          n.message(5) { a in a.string(1, name); a.int(3, value); a.int(20, 2) }
        }
        for (name, subgraph) in graphAttributes[index] ?? [] {
          n.message(5) { a in a.string(1, name); a.message(6) { subgraph.writeGraph(&$0) }; a.int(20, 5) }
        }
        if !node.domain.isEmpty { n.string(7, node.domain) }
      }
    }
    graph.string(2, "test")
    for tensor in initializers { graph.message(5) { tensor.write(&$0) } }
    for (list, field) in [(inputs, 11), (outputs, 12)] {
      for (name, dataType, dims) in list {
        graph.message(field) { v in
          v.string(1, name)
          v.message(2) { t in
            t.message(1) { tt in
              tt.int(1, dataType)
              tt.message(2) { shape in
                for d in dims {
                  shape.message(1) { dim in
                    if let value = Int64(d) { dim.int(1, value) } else { dim.string(2, d) }
                  }
                }
              }
            }
          }
        }
      }
    }
  }

  /// Writes the model to `directory/name` and returns the path.
  @discardableResult
  public func write(to directory: URL, name: String = "model.onnx") throws -> String {
    let url = directory.appendingPathComponent(name)
    try Data(bytes()).write(to: url)
    return url.path
  }
}
