import Foundation

/// A minimal protobuf writer for building ONNX files in tests (including malformed ones),
/// independent of the decoder under test. Field numbers are the ONNX IR spec's.
public struct ProtoWriter {
  public private(set) var bytes: [UInt8] = []
  public init() {}

  public mutating func varint(_ value: UInt64) {
    var v = value
    while v >= 0x80 {
      bytes.append(UInt8(v & 0x7F) | 0x80)
      v >>= 7
    }
    bytes.append(UInt8(v))
  }

  /// A field's key: `field << 3 | wireType`.
  public mutating func tag(_ field: Int, _ wireType: Int) { varint(UInt64(field << 3 | wireType)) }

  /// An int32/int64/enum/bool field (negative numbers as 10-byte varints, like protobuf).
  public mutating func int(_ field: Int, _ value: Int64) {
    tag(field, 0)
    varint(UInt64(bitPattern: value))
  }

  /// A length-delimited field: bytes, a string's UTF-8 or a serialized message.
  public mutating func bytes(_ field: Int, _ data: [UInt8]) {
    tag(field, 2)
    varint(UInt64(data.count))
    bytes += data
  }

  public mutating func string(_ field: Int, _ text: String) { bytes(field, Array(text.utf8)) }

  public mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
    var inner = ProtoWriter()
    build(&inner)
    bytes(field, inner.bytes)
  }

  public mutating func float(_ field: Int, _ value: Float) {
    tag(field, 5)
    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
  }

  public mutating func double(_ field: Int, _ value: Double) {
    tag(field, 1)
    withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
  }

  /// A packed repeated varint field (int32, int64, uint64).
  public mutating func packed(_ field: Int, _ values: [Int64]) {
    var inner = ProtoWriter()
    for value in values { inner.varint(UInt64(bitPattern: value)) }
    bytes(field, inner.bytes)
  }

  /// A packed repeated float field.
  public mutating func packed(_ field: Int, floats values: [Float]) {
    var payload: [UInt8] = []
    for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { payload += $0 } }
    bytes(field, payload)
  }

  /// A packed repeated double field.
  public mutating func packed(_ field: Int, doubles values: [Double]) {
    var payload: [UInt8] = []
    for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { payload += $0 } }
    bytes(field, payload)
  }
}

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
