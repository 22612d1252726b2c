/// One attribute of a standard ONNX node, free of protobuf types (`AttncONNX` encodes it).
public enum ONNXAttribute: Sendable, Equatable {
  case int(Int64)
  case float(Float)
  case string(String)
  case ints([Int64])
  case floats([Float])
  case strings([String])
  case tensor(HostTensor)
  /// A subgraph (`If` branches).
  case graph(ONNXSubgraph)

  public static func == (lhs: ONNXAttribute, rhs: ONNXAttribute) -> Bool {
    switch (lhs, rhs) {
    case (.int(let a), .int(let b)): a == b
    case (.float(let a), .float(let b)): a == b
    case (.string(let a), .string(let b)): a == b
    case (.ints(let a), .ints(let b)): a == b
    case (.floats(let a), .floats(let b)): a == b
    case (.strings(let a), .strings(let b)): a == b
    case (.tensor(let a), .tensor(let b)): a.dtype == b.dtype && a.shape == b.shape && a.storage === b.storage
    case (.graph(let a), .graph(let b)): a.name == b.name
    default: false
    }
  }
}

/// One node of standard ONNX (or a call of a local function): names in, names out.
public struct ONNXNode: Sendable {
  public var name: String
  public var opType: String
  /// `""` for the default `ai.onnx` domain.
  public var domain: String
  /// Input names; `""` for an omitted optional input.
  public var inputs: [String]
  public var outputs: [String]
  public var attributes: [(name: String, value: ONNXAttribute)]

  public init(
    name: String, opType: String, domain: String = "", inputs: [String], outputs: [String],
    attributes: [(name: String, value: ONNXAttribute)] = []
  ) {
    (self.name, self.opType, self.domain) = (name, opType, domain)
    (self.inputs, self.outputs, self.attributes) = (inputs, outputs, attributes)
  }
}

/// A subgraph (an `If` branch): nodes that may read the enclosing graph's values, and its
/// outputs with their element types.
public struct ONNXSubgraph: Sendable {
  public var name: String
  public var nodes: [ONNXNode]
  public var outputs: [(name: String, dtype: DType)]

  public init(name: String, nodes: [ONNXNode], outputs: [(name: String, dtype: DType)]) {
    (self.name, self.nodes, self.outputs) = (name, nodes, outputs)
  }
}

/// An ONNX local function: a body of standard nodes behind one call (`ai.attnc::performer_0`).
public struct ONNXFunction: Sendable {
  public var domain: String
  public var name: String
  public var inputs: [String]
  public var outputs: [String]
  public var nodes: [ONNXNode]
  public var docString: String

  public init(domain: String, name: String, inputs: [String], outputs: [String], nodes: [ONNXNode], docString: String = "") {
    (self.domain, self.name, self.inputs, self.outputs, self.nodes, self.docString) = (domain, name, inputs, outputs, nodes, docString)
  }
}

/// Builds the standard ONNX form of IR nodes: the ops' and variants' "ONNX form" write into it
/// (`add`, `constant`, `dims`), the exporter serializes what it holds. In a function body
/// (`isFunctionBody`) small constants become `Constant` nodes and large ones extra function
/// inputs (`captured`), since functions have no initializers.
public struct ONNXGraphBuilder: Sendable {
  /// The `ai.onnx` opset the nodes are written for.
  public let opset: Int
  public var nodes: [ONNXNode] = []
  /// New initializers (name, data), in creation order.
  public var initializers: [(name: String, tensor: HostTensor)] = []
  /// Local functions, by `domain::name`.
  public var functions: [ONNXFunction] = []
  /// Where each dim symbol can be read: a value (a graph input) and its axis.
  public var symbolSources: [String: (value: String, axis: Int)] = [:]
  /// A function body: constants above `inlineConstantLimit` elements become function inputs.
  public let isFunctionBody: Bool
  /// Large constants a function body reads as inputs: (input name inside, tensor).
  public var captured: [(name: String, tensor: HostTensor)] = []
  /// Prefix of the names this builder invents.
  public var prefix: String
  private var taken: Set<String>
  private var counter = 0
  private var symbolValues: [String: String] = [:]

  static let inlineConstantLimit = 64

  /// - Parameters: `taken`: names already used in the graph (the builder never reuses one).
  public init(opset: Int, prefix: String = "attnc", taken: Set<String> = [], isFunctionBody: Bool = false) {
    self.opset = opset
    self.prefix = prefix
    self.taken = taken
    self.isFunctionBody = isFunctionBody
  }

  /// A fresh value name from `base`.
  public mutating func fresh(_ base: String) -> String {
    var candidate = "\(prefix)/\(base)"
    while taken.contains(candidate) {
      counter += 1
      candidate = "\(prefix)/\(base)_\(counter)"
    }
    taken.insert(candidate)
    return candidate
  }

  /// Reserves `name` (a value the caller writes).
  public mutating func reserve(_ name: String) { taken.insert(name) }

  // MARK: - Nodes

  /// Appends `type(inputs)` with `outputs` fresh outputs (or the given names) and returns them.
  @discardableResult
  public mutating func add(
    _ type: String, _ inputs: [String], _ attributes: [(name: String, value: ONNXAttribute)] = [], outputs: [String]? = nil,
    count: Int = 1, domain: String = ""
  ) -> [String] {
    let results = outputs ?? (0..<count).map { fresh(type + ($0 == 0 ? "" : "_\($0)")) }
    for name in results { taken.insert(name) }
    nodes.append(ONNXNode(name: fresh(type + "_node"), opType: type, domain: domain, inputs: inputs, outputs: results, attributes: attributes))
    return results
  }

  /// `type(inputs)`'s single output (written to `output` when given).
  @discardableResult
  public mutating func op(_ type: String, _ inputs: String..., attributes: [(name: String, value: ONNXAttribute)] = [], output: String? = nil) -> String {
    add(type, inputs, attributes, outputs: output.map { [$0] })[0]
  }

  // MARK: - Constants

  /// A constant: an initializer, or in a function body a `Constant` node (small) or a function
  /// input the caller binds to an initializer (large).
  public mutating func constant(_ tensor: HostTensor, _ base: String = "const") -> String {
    let name = fresh(base)
    if !isFunctionBody {
      initializers.append((name, tensor))
    } else if tensor.count <= Self.inlineConstantLimit {
      add("Constant", [], [("value", .tensor(tensor))], outputs: [name])
    } else {
      captured.append((name, tensor))
    }
    return name
  }

  /// An int64 vector constant.
  public mutating func ints(_ values: [Int], _ base: String = "ints") -> String {
    constant(HostTensor(int64s: values.map(Int64.init), shape: [values.count]), base)
  }

  /// An int64 scalar constant.
  public mutating func int(_ value: Int, _ base: String = "int") -> String {
    constant(HostTensor(int64s: [Int64(value)], shape: []), base)
  }

  /// A float32 scalar constant.
  public mutating func scalar(_ value: Float, _ base: String = "scalar") -> String {
    constant(HostTensor(floats: [value], shape: []), base)
  }

  // MARK: - Shapes

  /// `Shape(x)[axis]` as an int64 `[1]` vector.
  public mutating func dimension(of value: String, axis: Int) -> String {
    op("Shape", value, attributes: [("start", .int(Int64(axis))), ("end", .int(Int64(axis + 1)))])
  }

  /// `Shape(x)[axis]` as an int64 scalar.
  public mutating func scalarDimension(of value: String, axis: Int) -> String {
    squeeze(dimension(of: value, axis: axis), axes: [0])
  }

  /// An int64 `[dims.count]` vector holding `dims`, computed from the graph inputs' shapes where
  /// a dim has symbols (`symbolSources`).
  /// - Throws: a symbol no graph input's shape holds, or a data-dependent dim.
  public mutating func dims(_ dims: [Dim]) throws -> String {
    let values = dims.compactMap(\.value)
    if values.count == dims.count { return ints(values, "dims") }
    let parts = try dims.map { try dimVector($0) }
    return parts.count == 1 ? parts[0] : add("Concat", parts, [("axis", .int(0))])[0]
  }

  /// One dim as an int64 `[1]` vector: its polynomial as `Mul`, `Div` (floor for the
  /// non-negative values dims hold) and `Add` of symbol reads.
  mutating func dimVector(_ dim: Dim) throws -> String {
    if let value = dim.value { return ints([value], "dim") }
    var sum: String?
    for (monomial, coefficient) in dim.terms.sorted(by: { $0.key < $1.key }) {
      var product: String?
      for atom in monomial.atoms {
        let factor: String
        switch atom {
        case .symbol(let symbol): factor = try symbolVector(symbol)
        case .floorDiv(let inner, let divisor): factor = op("Div", try dimVector(inner), ints([divisor], "divisor"))
        }
        product = product.map { op("Mul", $0, factor) } ?? factor
      }
      var term = product ?? ints([1], "one")
      if coefficient != 1 { term = op("Mul", term, ints([coefficient], "coefficient")) }
      sum = sum.map { op("Add", $0, term) } ?? term
    }
    return sum ?? ints([0], "zero")
  }

  mutating func symbolVector(_ symbol: String) throws -> String {
    if let known = symbolValues[symbol] { return known }
    guard let source = symbolSources[symbol] else {
      if symbol.hasPrefix(Dim.unknownPrefix) {
        throw AttncError.unsupported("a dim depends on data ('\(symbol)'), which has no ONNX form here")
      }
      throw AttncError.unsupported("dim symbol '\(symbol)' is not a dim of any graph input, so ONNX cannot read it")
    }
    let value = dimension(of: source.value, axis: source.axis)
    symbolValues[symbol] = value
    return value
  }

  // MARK: - Subgraphs and functions

  /// A branch built by `build` into fresh nodes, writing one float output (returned in the
  /// subgraph); its constants and functions join this builder's, its symbol reads stay inside.
  public mutating func subgraph(_ base: String, _ build: (inout ONNXGraphBuilder, String) throws -> Void) rethrows -> ONNXSubgraph {
    let (outerNodes, outerSymbols) = (nodes, symbolValues)
    nodes = []
    let output = fresh(base + "_y")
    try build(&self, output)
    let branch = nodes
    (nodes, symbolValues) = (outerNodes, outerSymbols)
    return ONNXSubgraph(name: fresh(base), nodes: branch, outputs: [(output, .float)])
  }

  /// Defines `body` as the local function `domain::<base>_<n>` (its captured constants become
  /// extra inputs bound to initializers) with `inputs` and `results`, and calls it with
  /// `arguments`, writing `outputs`.
  public mutating func call(
    _ body: ONNXGraphBuilder, named base: String, domain: String, inputs: [String], arguments: [String], results: [String],
    outputs: [String], docString: String
  ) {
    var (inputs, arguments) = (inputs, arguments)
    for (name, tensor) in body.captured {
      arguments.append(constant(tensor, "\(base)_constant"))
      inputs.append(name)
    }
    let name = "\(base)_\(functions.count)"
    define(ONNXFunction(domain: domain, name: name, inputs: inputs, outputs: results, nodes: body.nodes, docString: docString))
    add(name, arguments, outputs: outputs, domain: domain)
  }

  /// Adds `function` unless one with its domain and name is there.
  public mutating func define(_ function: ONNXFunction) {
    guard !functions.contains(where: { $0.domain == function.domain && $0.name == function.name }) else { return }
    functions.append(function)
  }

  // MARK: - Helpers

  /// `Reduce<function>(x)` over `axes`, with the axes as an attribute or an input as the
  /// written opset wants (ReduceSum takes an input from 13, the others from 18).
  public mutating func reduce(_ type: String, _ x: String, axes: [Int], keepDims: Bool = true, output: String? = nil) -> String {
    let inputSince = type == "ReduceSum" ? 13 : 18
    let keep: (name: String, value: ONNXAttribute) = ("keepdims", .int(keepDims ? 1 : 0))
    if opset >= inputSince { return op(type, x, ints(axes, "axes"), attributes: [keep], output: output) }
    return op(type, x, attributes: [("axes", .ints(axes.map(Int64.init))), keep], output: output)
  }
  /// `Unsqueeze(x)` at `axes` (an input from opset 13, an attribute before).
  public mutating func unsqueeze(_ x: String, axes: [Int]) -> String {
    if opset >= 13 { return op("Unsqueeze", x, ints(axes, "axes")) }
    return op("Unsqueeze", x, attributes: [("axes", .ints(axes.map(Int64.init)))])
  }

  /// `Squeeze(x)` at `axes` (an input from opset 13, an attribute before).
  public mutating func squeeze(_ x: String, axes: [Int]) -> String {
    if opset >= 13 { return op("Squeeze", x, ints(axes, "axes")) }
    return op("Squeeze", x, attributes: [("axes", .ints(axes.map(Int64.init)))])
  }

  /// `Transpose(x, perm)`.
  public mutating func transpose(_ x: String, _ perm: [Int]) -> String {
    op("Transpose", x, attributes: [("perm", .ints(perm.map(Int64.init)))])
  }

  /// `Reshape(x, shape)` with a constant target (0 copies the input's dim, −1 is inferred).
  public mutating func reshape(_ x: String, _ shape: [Int]) -> String { op("Reshape", x, ints(shape, "shape")) }

  /// `x[..., start..<end]` along `axis` with constant bounds.
  public mutating func slice(_ x: String, axis: Int, start: Int, end: Int) -> String {
    op("Slice", x, ints([start], "starts"), ints([end], "ends"), ints([axis], "axes"))
  }
}
