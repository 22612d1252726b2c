import AttncTensor
import CProtobufC
import CSchemas

/// Reads ONNX protobuf bytes into the plain Swift values of `OnnxModel.swift`.
///
/// The only Swift code that calls protobuf-c: every C message is unpacked, copied into Swift
/// values and freed here. Unknown fields (from newer ONNX versions) are skipped, absent strings
/// read as `""`, and nothing taken from the file is force-unwrapped.
public enum OnnxDecoder {
  /// Messages may nest at most this deep (graph → node → attribute → graph counts three), the
  /// default limit of protobuf's C++ and Java parsers; protobuf-c itself has none and would
  /// overflow the stack on a hostile file.
  static let nestingLimit = 100

  /// Decodes a serialized `ModelProto` (the contents of a .onnx file).
  ///
  /// - Complexity: O(n) in the size of `bytes`; tensor data is copied once.
  /// - Throws: `AttncError` (`.invalidModel`): "file is empty"; "not a valid ONNX model: protobuf
  ///   decoding failed (truncated or corrupted file)"; "not a valid ONNX model: messages nest
  ///   more than 100 levels deep"; "model has no graph".
  public static func decodeModel(_ bytes: UnsafeRawBufferPointer) throws -> OnnxModel {
    let data = try checkedBytes(bytes, root: .model, what: "model")
    guard let proto = onnx__model_proto__unpack(nil, bytes.count, data) else {
      throw decodingFailed("model")
    }
    defer { onnx__model_proto__free_unpacked(proto, nil) }
    return try model(proto.pointee)
  }

  /// Decodes a serialized `TensorProto` (as in `test_data_set_N/input_0.pb`).
  ///
  /// The result's elements are not checked against its dims; `hostTensor(externalData:)` does
  /// that.
  /// - Throws: `AttncError` (`.invalidModel`): "file is empty"; "not a valid ONNX tensor: protobuf
  ///   decoding failed (truncated or corrupted file)"; "not a valid ONNX tensor: messages nest
  ///   more than 100 levels deep".
  public static func decodeTensor(_ bytes: UnsafeRawBufferPointer) throws -> OnnxTensor {
    let data = try checkedBytes(bytes, root: .tensor, what: "tensor")
    guard let proto = onnx__tensor_proto__unpack(nil, bytes.count, data) else {
      throw decodingFailed("tensor")
    }
    defer { onnx__tensor_proto__free_unpacked(proto, nil) }
    return tensor(proto.pointee)
  }

  private static func checkedBytes(
    _ bytes: UnsafeRawBufferPointer, root: NestingCheck.Kind, what: String
  ) throws -> UnsafePointer<UInt8> {
    guard let base = bytes.baseAddress, !bytes.isEmpty else {
      throw AttncError.invalid("file is empty")
    }
    switch NestingCheck.scan(bytes, root: root, limit: nestingLimit) {
    case .ok: break
    case .malformed: throw decodingFailed(what)
    case .tooDeep:
      throw AttncError.invalid(
        "not a valid ONNX \(what): messages nest more than \(nestingLimit) levels deep")
    }
    return base.assumingMemoryBound(to: UInt8.self)
  }

  private static func decodingFailed(_ what: String) -> AttncError {
    AttncError.invalid(
      "not a valid ONNX \(what): protobuf decoding failed (truncated or corrupted file)")
  }

  // MARK: - Messages

  private static func model(_ m: Onnx__ModelProto) throws -> OnnxModel {
    guard let graphProto = m.graph else { throw AttncError.invalid("model has no graph") }
    return OnnxModel(
      irVersion: m.ir_version,
      opsetImports: messages(m.opset_import, m.n_opset_import, opset),
      producerName: text(m.producer_name),
      producerVersion: text(m.producer_version),
      domain: text(m.domain),
      docString: text(m.doc_string),
      modelVersion: m.model_version,
      graph: graph(graphProto.pointee),
      functions: messages(m.functions, m.n_functions, function),
      metadata: messages(m.metadata_props, m.n_metadata_props, entry))
  }

  private static func opset(_ o: Onnx__OperatorSetIdProto) -> OnnxOpset {
    OnnxOpset(domain: text(o.domain), version: o.version)
  }

  private static func entry(_ e: Onnx__StringStringEntryProto) -> (key: String, value: String) {
    (key: text(e.key), value: text(e.value))
  }

  private static func graph(_ g: Onnx__GraphProto) -> OnnxGraph {
    OnnxGraph(
      name: text(g.name),
      nodes: messages(g.node, g.n_node, node),
      initializers: messages(g.initializer, g.n_initializer, tensor),
      sparseInitializers: messages(g.sparse_initializer, g.n_sparse_initializer, sparseTensor),
      inputs: messages(g.input, g.n_input, valueInfo),
      outputs: messages(g.output, g.n_output, valueInfo),
      valueInfo: messages(g.value_info, g.n_value_info, valueInfo))
  }

  private static func node(_ n: Onnx__NodeProto) -> OnnxNode {
    OnnxNode(
      name: text(n.name), opType: text(n.op_type), domain: text(n.domain),
      inputs: texts(n.input, n.n_input), outputs: texts(n.output, n.n_output),
      attributes: messages(n.attribute, n.n_attribute, attribute))
  }

  private static func function(_ f: Onnx__FunctionProto) -> OnnxFunction {
    OnnxFunction(
      name: text(f.name), domain: text(f.domain), overload: text(f.overload),
      inputs: texts(f.input, f.n_input), outputs: texts(f.output, f.n_output),
      attributes: texts(f.attribute, f.n_attribute),
      attributeProtos: messages(f.attribute_proto, f.n_attribute_proto, attribute),
      nodes: messages(f.node, f.n_node, node),
      opsetImports: messages(f.opset_import, f.n_opset_import, opset))
  }

  private static func attribute(_ a: Onnx__AttributeProto) -> OnnxAttribute {
    var result = OnnxAttribute(
      name: text(a.name), refAttrName: text(a.ref_attr_name), kind: .undefined, f: a.f, i: a.i,
      s: a.has_s != 0 ? bytes(a.s) : [],
      t: a.t.map { tensor($0.pointee) },
      g: a.g.map { graph($0.pointee) },
      floats: numbers(a.floats, a.n_floats),
      ints: numbers(a.ints, a.n_ints),
      strings: numbers(a.strings, a.n_strings).map(bytes),
      tensors: messages(a.tensors, a.n_tensors, tensor),
      graphs: messages(a.graphs, a.n_graphs, graph),
      sparseTensor: a.sparse_tensor.map { sparseTensor($0.pointee) },
      sparseTensors: messages(a.sparse_tensors, a.n_sparse_tensors, sparseTensor),
      typeInfo: a.tp.flatMap { type($0.pointee) },
      typeInfos: messages(a.type_protos, a.n_type_protos, type))
    if a.has_type != 0 {
      // An unknown tag (from a newer ONNX) reads as `.undefined`.
      result.kind =
        OnnxAttribute.Kind(rawValue: Int32(truncatingIfNeeded: a.type.rawValue))
        ?? .undefined
    } else {
      result.kind = inferredKind(a)
    }
    return result
  }

  /// The kind of an attribute written before the type tag existed (IR version 1): the value
  /// field that is present.
  private static func inferredKind(_ a: Onnx__AttributeProto) -> OnnxAttribute.Kind {
    if a.has_f != 0 { return .float }
    if a.has_i != 0 { return .int }
    if a.has_s != 0 { return .string }
    if a.t != nil { return .tensor }
    if a.g != nil { return .graph }
    if a.sparse_tensor != nil { return .sparseTensor }
    if a.tp != nil { return .typeProto }
    if a.n_floats > 0 { return .floats }
    if a.n_ints > 0 { return .ints }
    if a.n_strings > 0 { return .strings }
    if a.n_tensors > 0 { return .tensors }
    if a.n_graphs > 0 { return .graphs }
    if a.n_sparse_tensors > 0 { return .sparseTensors }
    if a.n_type_protos > 0 { return .typeProtos }
    return .undefined
  }

  private static func tensor(_ t: Onnx__TensorProto) -> OnnxTensor {
    let payload: OnnxTensor.Payload
    if t.has_raw_data != 0 && t.raw_data.len > 0 {
      payload = .raw(bytes(t.raw_data))
    } else if t.n_float_data > 0 {
      payload = .floats(numbers(t.float_data, t.n_float_data))
    } else if t.n_int32_data > 0 {
      payload = .int32s(numbers(t.int32_data, t.n_int32_data))
    } else if t.n_int64_data > 0 {
      payload = .int64s(numbers(t.int64_data, t.n_int64_data))
    } else if t.n_double_data > 0 {
      payload = .doubles(numbers(t.double_data, t.n_double_data))
    } else if t.n_uint64_data > 0 {
      payload = .uint64s(numbers(t.uint64_data, t.n_uint64_data))
    } else if t.n_string_data > 0 {
      payload = .strings(numbers(t.string_data, t.n_string_data).map(bytes))
    } else if t.has_raw_data != 0 {
      payload = .raw([])
    } else {
      payload = .none
    }
    let external =
      t.has_data_location != 0
      && t.data_location.rawValue == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL.rawValue
    return OnnxTensor(
      name: text(t.name), dataType: t.data_type, dims: numbers(t.dims, t.n_dims),
      payload: payload, externalData: messages(t.external_data, t.n_external_data, entry),
      dataLocationExternal: external,
      segment: t.segment.map { (begin: $0.pointee.begin, end: $0.pointee.end) })
  }

  private static func sparseTensor(_ s: Onnx__SparseTensorProto) -> OnnxSparseTensor {
    // Absent parts read as empty tensors, which fail later with the tensor's name.
    OnnxSparseTensor(
      values: s.values.map { tensor($0.pointee) } ?? OnnxTensor(dataType: 0),
      indices: s.indices.map { tensor($0.pointee) } ?? OnnxTensor(dataType: 0),
      dims: numbers(s.dims, s.n_dims))
  }

  private static func valueInfo(_ v: Onnx__ValueInfoProto) -> OnnxValueInfo {
    OnnxValueInfo(
      name: text(v.name), type: v.type.flatMap { type($0.pointee) }, docString: text(v.doc_string))
  }

  /// nil for a type with no case set or an opaque type.
  private static func type(_ t: Onnx__TypeProto) -> OnnxType? {
    switch t.value_case {
    case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
      guard let tensor = t.tensor_type?.pointee else { return nil }
      return .tensor(elementType: tensor.elem_type, shape: tensor.shape.map { shape($0.pointee) })
    case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
      guard let sparse = t.sparse_tensor_type?.pointee else { return nil }
      return .sparseTensor(
        elementType: sparse.elem_type, shape: sparse.shape.map { shape($0.pointee) })
    case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE:
      guard let sequence = t.sequence_type?.pointee else { return nil }
      return .sequence(sequence.elem_type.flatMap { type($0.pointee) })
    case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE:
      guard let optional = t.optional_type?.pointee else { return nil }
      return .optional(optional.elem_type.flatMap { type($0.pointee) })
    case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
      guard let map = t.map_type?.pointee else { return nil }
      return .map(key: map.key_type, value: map.value_type.flatMap { type($0.pointee) })
    default:
      return nil
    }
  }

  /// Dims of a declared shape; an empty `dim_param` counts as unknown.
  private static func shape(_ s: Onnx__TensorShapeProto) -> [OnnxDim] {
    messages(s.dim, s.n_dim) { (d: Onnx__TensorShapeProto__Dimension) -> OnnxDim in
      switch d.value_case {
      case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE:
        return .value(d.dim_value)
      case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM:
        let name = text(d.dim_param)
        return name.isEmpty ? .unknown : .param(name)
      default:
        return .unknown
      }
    }
  }

  // MARK: - C values to Swift values

  /// A C string, or "" for NULL.
  private static func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    pointer.map { String(cString: $0) } ?? ""
  }

  private static func texts(
    _ pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ count: Int
  ) -> [String] {
    numbers(pointer, count).map(text)
  }

  /// A C array of `count` plain values (empty for NULL).
  private static func numbers<T>(_ pointer: UnsafeMutablePointer<T>?, _ count: Int) -> [T] {
    guard let pointer, count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
  }

  /// A C array of `count` message pointers, converted; NULL entries are skipped.
  private static func messages<Message, Result>(
    _ pointer: UnsafeMutablePointer<UnsafeMutablePointer<Message>?>?, _ count: Int,
    _ convert: (Message) -> Result
  ) -> [Result] {
    numbers(pointer, count).compactMap { $0.map { convert($0.pointee) } }
  }

  private static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
    guard let start = data.data, data.len > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: start, count: data.len))
  }
}

// MARK: - Nesting check

/// onnx.proto's message fields, for the nesting pre-scan (`ProtobufNesting`) that runs before
/// protobuf-c sees the bytes.
private enum NestingCheck {
  enum Kind {
    case model, graph, node, attribute, valueInfo, training, tensor, sparseTensor, tensorShape
    case type, typeWithShape, typeElement, typeMap, function, annotation
    /// A message with no message fields (entries, opsets, dims, segments): not descended into.
    case leaf
  }

  /// The kind of message in length-delimited field `field` of a `kind` message; nil for bytes,
  /// strings, packed numbers and unknown fields.
  static func child(of kind: Kind, field: UInt64) -> Kind? { children[kind]?[field] }

  /// Per message kind, its message fields by number.
  static let children: [Kind: [UInt64: Kind]] = [
    .model: [7: .graph, 8: .leaf, 14: .leaf, 20: .training, 25: .function],
    .graph: [1: .node, 5: .tensor, 11: .valueInfo, 12: .valueInfo, 13: .valueInfo, 14: .annotation, 15: .sparseTensor, 16: .leaf],
    .node: [5: .attribute, 9: .leaf],
    .attribute: [5: .tensor, 6: .graph, 10: .tensor, 11: .graph, 14: .type, 15: .type, 22: .sparseTensor, 23: .sparseTensor],
    .valueInfo: [2: .type, 4: .leaf],
    .training: [1: .graph, 2: .graph, 3: .leaf, 4: .leaf],
    .tensor: [3: .leaf, 13: .leaf, 16: .leaf],
    .sparseTensor: [1: .tensor, 2: .tensor],
    .tensorShape: [1: .leaf],
    .type: [1: .typeWithShape, 4: .typeElement, 5: .typeMap, 7: .leaf, 8: .typeWithShape, 9: .typeElement],
    .typeWithShape: [2: .tensorShape],
    .typeElement: [1: .type],
    .typeMap: [2: .type],
    .function: [7: .node, 9: .leaf, 11: .attribute, 12: .valueInfo, 14: .leaf],
    .annotation: [2: .leaf],
  ]

  /// Walks `bytes` as a `root` message: `ProtobufNesting.scan` with onnx.proto's message
  /// fields; `.leaf` fields are skipped unread, like bytes and strings.
  static func scan(
    _ bytes: UnsafeRawBufferPointer, root: Kind, limit: Int
  ) -> ProtobufNesting.Outcome {
    ProtobufNesting.scan(bytes, root: root, limit: limit) { kind, field in
      child(of: kind, field: field).flatMap { $0 == .leaf ? nil : $0 }
    }
  }
}
