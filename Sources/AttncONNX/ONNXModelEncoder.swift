import AttncIR
import AttncTensor

/// A standard ONNX model to write: what `ONNXExport` builds from the IR, in protobuf-free terms.
public struct ONNXModelFile: Sendable {
  /// A graph input or output: its name and type (symbolic dims as `dim_param` when they are one
  /// symbol, left unknown when they are an expression).
  public struct ValueInfo: Sendable {
    public var name: String
    public var type: TensorType
  }

  public var irVersion: Int
  /// `(domain, version)`; `""` is `ai.onnx`.
  public var opsets: [(domain: String, version: Int)]
  public var producerName: String
  public var producerVersion: String
  public var domain: String
  public var modelVersion: Int
  public var docString: String
  public var metadata: [(key: String, value: String)]
  public var graphName: String
  public var nodes: [ONNXNode]
  public var initializers: [(name: String, tensor: HostTensor)]
  public var inputs: [ValueInfo]
  public var outputs: [ValueInfo]
  public var functions: [ONNXFunction]
}

/// Encodes `ONNXModelFile` as an ONNX `ModelProto` (field numbers of onnx.proto), optionally
/// with the larger initializers in one external data file.
enum ONNXModelEncoder {
  /// Where initializers go: inside the model, or (those of at least `threshold` bytes) appended
  /// to `data`, referenced by `location` (a file name beside the model).
  struct ExternalData {
    var location: String
    var threshold: Int
    var data: [UInt8] = []
  }

  /// The model's bytes; with `external`, the data file's bytes accumulate in it.
  static func encode(_ model: ONNXModelFile, external: inout ExternalData?) throws -> [UInt8] {
    var w = ProtobufWriter()
    w.int(1, Int64(model.irVersion))
    if !model.producerName.isEmpty { w.string(2, model.producerName) }
    if !model.producerVersion.isEmpty { w.string(3, model.producerVersion) }
    if !model.domain.isEmpty { w.string(4, model.domain) }
    if model.modelVersion != 0 { w.int(5, Int64(model.modelVersion)) }
    if !model.docString.isEmpty { w.string(6, model.docString) }
    try w.message(7) { g in
      for node in model.nodes { try g.message(1) { try encode(node, into: &$0) } }
      g.string(2, model.graphName.isEmpty ? "main" : model.graphName)
      for (name, tensor) in model.initializers { try g.message(5) { try encode(tensor, name: name, into: &$0, external: &external) } }
      for input in model.inputs { g.message(11) { encode(input, into: &$0) } }
      for output in model.outputs { g.message(12) { encode(output, into: &$0) } }
    }
    for (domain, version) in model.opsets {
      w.message(8) { o in
        o.string(1, domain)
        o.int(2, Int64(version))
      }
    }
    for (key, value) in model.metadata {
      w.message(14) { e in
        e.string(1, key)
        e.string(2, value)
      }
    }
    for function in model.functions {
      try w.message(25) { f in
        f.string(1, function.name)
        for input in function.inputs { f.string(4, input) }
        for output in function.outputs { f.string(5, output) }
        for node in function.nodes { try f.message(7) { try encode(node, into: &$0) } }
        if !function.docString.isEmpty { f.string(8, function.docString) }
        for (domain, version) in model.opsets where domain == "" {
          f.message(9) { o in
            o.string(1, domain)
            o.int(2, Int64(version))
          }
        }
        f.string(10, function.domain)
      }
    }
    return w.bytes
  }

  static func encode(_ node: ONNXNode, into w: inout ProtobufWriter) throws {
    for input in node.inputs { w.string(1, input) }
    for output in node.outputs { w.string(2, output) }
    w.string(3, node.name)
    w.string(4, node.opType)
    for (name, value) in node.attributes { try w.message(5) { try encode(name, value, into: &$0) } }
    if !node.domain.isEmpty { w.string(7, node.domain) }
  }

  /// An `AttributeProto` (type codes of `AttributeProto.AttributeType`).
  static func encode(_ name: String, _ value: ONNXAttribute, into w: inout ProtobufWriter) throws {
    w.string(1, name)
    switch value {
    case .float(let f):
      w.float(2, f)
      w.int(20, 1)
    case .int(let i):
      w.int(3, i)
      w.int(20, 2)
    case .string(let s):
      w.string(4, s)
      w.int(20, 3)
    case .tensor(let t):
      var none: ExternalData?
      try w.message(5) { try encode(t, name: "", into: &$0, external: &none) }
      w.int(20, 4)
    case .floats(let fs):
      for f in fs { w.float(7, f) }
      w.int(20, 6)
    case .ints(let values):
      for i in values { w.int(8, i) }
      w.int(20, 7)
    case .strings(let ss):
      for s in ss { w.string(9, s) }
      w.int(20, 8)
    case .graph(let graph):
      try w.message(6) { g in
        for node in graph.nodes { try g.message(1) { try encode(node, into: &$0) } }
        g.string(2, graph.name)
        for (name, dtype) in graph.outputs {
          g.message(12) { info in
            info.string(1, name)
            info.message(2) { type in type.message(1) { $0.int(1, Int64(dtype.rawValue)) } }
          }
        }
      }
      w.int(20, 5)
    }
  }

  /// A `TensorProto`: dims, type, and the data as `raw_data` (strings as `string_data`), or an
  /// external-data reference when it is large enough and `external` is set.
  static func encode(_ tensor: HostTensor, name: String, into w: inout ProtobufWriter, external: inout ExternalData?) throws {
    w.packed(1, tensor.shape.map(Int64.init))
    w.int(2, Int64(tensor.dtype.rawValue))
    if !name.isEmpty { w.string(8, name) }
    if tensor.dtype == .string {
      for s in tensor.strings { w.string(6, s) }
      return
    }
    let bytes = UnsafeRawBufferPointer(start: tensor.storage.base, count: tensor.storage.count)
    if let threshold = external?.threshold, let location = external?.location, bytes.count >= threshold {
      // 64-byte aligned offsets, as ONNX's own writer aligns them for mapping.
      let end = external?.data.count ?? 0
      external?.data.append(contentsOf: repeatElement(0, count: (64 - end % 64) % 64))
      let offset = external?.data.count ?? 0
      external?.data.append(contentsOf: bytes)
      for (key, value) in [("location", location), ("offset", String(offset)), ("length", String(bytes.count))] {
        w.message(13) { e in
          e.string(1, key)
          e.string(2, value)
        }
      }
      w.int(14, 1)
      return
    }
    w.bytes(9, bytes)
  }

  /// A `ValueInfoProto` of a tensor.
  static func encode(_ info: ONNXModelFile.ValueInfo, into w: inout ProtobufWriter) {
    w.string(1, info.name)
    w.message(2) { type in
      type.message(1) { tensor in
        tensor.int(1, Int64(info.type.dtype.rawValue))
        tensor.message(2) { shape in
          for dim in info.type.dims {
            shape.message(1) { d in
              if let value = dim.value {
                d.int(1, Int64(value))
              } else if dim.terms.count == 1, let (monomial, coefficient) = dim.terms.first, coefficient == 1,
                monomial.atoms.count == 1, case .symbol(let symbol) = monomial.atoms[0]
              {
                d.string(2, symbol)
              }
            }
          }
        }
      }
    }
  }
}
