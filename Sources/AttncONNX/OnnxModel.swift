/// A decoded ONNX file (`ModelProto`) as plain Swift values.
///
/// Strings absent from the file are `""`, numbers absent are `0`. Produced by
/// `OnnxDecoder.decodeModel(_:)`; nothing here refers to protobuf-c.
public struct OnnxModel: Sendable {
  public var irVersion: Int64
  /// Operator set versions per domain (`""` is the default `ai.onnx` domain).
  public var opsetImports: [OnnxOpset]
  public var producerName: String
  public var producerVersion: String
  public var domain: String
  public var docString: String
  public var modelVersion: Int64
  public var graph: OnnxGraph
  /// Model-local functions that nodes call by domain and name.
  public var functions: [OnnxFunction]
  /// `metadata_props`, in file order.
  public var metadata: [(key: String, value: String)]
}

/// One imported operator set (`OperatorSetIdProto`).
public struct OnnxOpset: Sendable, Hashable {
  /// `""` (or `"ai.onnx"`) for the standard operators.
  public var domain: String
  public var version: Int64
}

/// A computation graph (`GraphProto`): nodes as stored (not necessarily sorted), weights, and the
/// declared inputs, outputs and intermediate value types.
public struct OnnxGraph: Sendable {
  public var name: String
  public var nodes: [OnnxNode]
  public var initializers: [OnnxTensor]
  public var sparseInitializers: [OnnxSparseTensor]
  public var inputs: [OnnxValueInfo]
  public var outputs: [OnnxValueInfo]
  public var valueInfo: [OnnxValueInfo]
}

/// One operator application (`NodeProto`).
///
/// An empty input name marks an omitted optional input.
public struct OnnxNode: Sendable {
  public var name: String
  public var opType: String
  /// `""` (or `"ai.onnx"`) for the standard operators.
  public var domain: String
  public var inputs: [String]
  public var outputs: [String]
  public var attributes: [OnnxAttribute]
}

/// A node or function attribute (`AttributeProto`): `kind` says which value field is in use.
///
/// Inside a function body, a non-empty `refAttrName` means the value comes from the calling node's
/// attribute of that name instead.
public struct OnnxAttribute: Sendable {
  /// The attribute's type tag (`AttributeProto.AttributeType`, raw values as in ONNX).
  public enum Kind: Int32, Sendable, Hashable {
    case undefined = 0
    case float = 1
    case int = 2
    case string = 3
    case tensor = 4
    case graph = 5
    case floats = 6
    case ints = 7
    case strings = 8
    case tensors = 9
    case graphs = 10
    case sparseTensor = 11
    case sparseTensors = 12
    case typeProto = 13
    case typeProtos = 14
  }

  public var name: String
  public var refAttrName: String
  public var kind: Kind
  public var f: Float
  public var i: Int64
  /// Bytes of a `.string` attribute (usually UTF-8).
  public var s: [UInt8]
  public var t: OnnxTensor?
  public var g: OnnxGraph?
  public var floats: [Float]
  public var ints: [Int64]
  public var strings: [[UInt8]]
  public var tensors: [OnnxTensor]
  public var graphs: [OnnxGraph]
  public var sparseTensor: OnnxSparseTensor?
  public var sparseTensors: [OnnxSparseTensor]
  /// The value of a `.typeProto` attribute.
  public var typeInfo: OnnxType?
  /// The values of a `.typeProtos` attribute (nil entries: types attnc cannot represent).
  public var typeInfos: [OnnxType?]
}

/// A dense tensor as stored (`TensorProto`): its elements are not yet checked against its dims;
/// `hostTensor(externalData:)` does that.
public struct OnnxTensor: Sendable {
  /// Where the elements are: `raw_data` if non-empty, otherwise the non-empty typed field.
  public enum Payload: Sendable {
    case none
    case raw([UInt8])
    case floats([Float])
    case int32s([Int32])
    case int64s([Int64])
    case doubles([Double])
    case uint64s([UInt64])
    case strings([[UInt8]])
  }

  public var name: String = ""
  /// The ONNX `TensorProto.DataType` number (see `DType(onnx:)`).
  public var dataType: Int32
  public var dims: [Int64] = []
  public var payload: Payload = .none
  /// `external_data` entries (`location`, `offset`, `length`, `checksum`), in file order.
  public var externalData: [(key: String, value: String)] = []
  /// `data_location` is `EXTERNAL`.
  public var dataLocationExternal: Bool = false
  /// Present when the tensor is one segment `[begin, end)` of a larger tensor.
  public var segment: (begin: Int64, end: Int64)?
}

/// A tensor stored as its non-zero elements (`SparseTensorProto`).
public struct OnnxSparseTensor: Sendable {
  /// The non-zero values, dims `[NNZ]`; its name names the sparse tensor.
  public var values: OnnxTensor
  /// Their positions: `[NNZ, rank]` coordinates or `[NNZ]` flat indices.
  public var indices: OnnxTensor
  /// The dense shape.
  public var dims: [Int64]
}

/// A named value and its declared type (`ValueInfoProto`).
public struct OnnxValueInfo: Sendable {
  public var name: String
  /// nil when the file gives no type, or one attnc cannot represent (opaque types).
  public var type: OnnxType?
  public var docString: String
}

/// The type of a value (`TypeProto`).
///
/// Element and key types are ONNX data type numbers; a nil shape means the rank is unknown.
public indirect enum OnnxType: Sendable {
  case tensor(elementType: Int32, shape: [OnnxDim]?)
  case sequence(OnnxType?)
  case optional(OnnxType?)
  case map(key: Int32, value: OnnxType?)
  case sparseTensor(elementType: Int32, shape: [OnnxDim]?)
}

/// One dim of a declared shape: a number, a symbol (`dim_param`), or neither.
public enum OnnxDim: Sendable, Hashable {
  case value(Int64)
  case param(String)
  case unknown
}

/// A model-local function (`FunctionProto`): a node list called like an operator.
public struct OnnxFunction: Sendable {
  public var name: String
  public var domain: String
  public var overload: String
  /// Formal input and output names, matched to a call's by position.
  public var inputs: [String]
  public var outputs: [String]
  /// Names of attributes without a default.
  public var attributes: [String]
  /// Attributes with their default values.
  public var attributeProtos: [OnnxAttribute]
  public var nodes: [OnnxNode]
  public var opsetImports: [OnnxOpset]
}
