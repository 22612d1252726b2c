import AttncKernels
import AttncTensor

/// An execution plan: what `attnc convert` writes and `attnc run` executes. Knows nothing of ONNX.
///
/// Values live in numbered slots; instructions read and write slots; constant slots hold weights.
/// Dims are symbolic (`Dim`) and resolved from the actual input shapes at run time.
public struct Plan: Sendable {
  /// The file format version this build writes and reads.
  public static let formatVersion: UInt32 = 2

  /// SHA-256 of the source model file (32 bytes).
  public var sourceSHA256: [UInt8]
  /// `attnc <version>` that wrote the plan.
  public var producer: String
  /// `exact`, `fastest`, `balanced` or `accurate`.
  public var policy: String
  /// Per-layer decisions (filled by the attention and cost-model stages).
  public var decisions: [Decision] = []
  public var slots: [Slot] = []
  /// Slots bound to the caller's inputs, in order.
  public var inputs: [Int] = []
  /// Slots returned as outputs, in order.
  public var outputs: [Int] = []
  public var instructions: [Instruction] = []
  /// Weight data per constant slot.
  public var constants: [Int: HostTensor] = [:]
  /// The conversion options that shaped this plan, canonical text ("policy=balanced
  /// seq-len=auto"); a batch conversion skips a plan whose hash, producer and options match.
  public var options: String = ""
  /// What the source model computes in when it is not float32: `float16` or `bfloat16` (widened
  /// to float32 by `widen-narrow-floats`), `int8` (quantized); empty for float32. Parity with a
  /// runtime that computes in that type needs a looser rule (`ParityRule`).
  public var sourcePrecision: String = ""

  /// A value slot: its name (from the model), element type and symbolic dims.
  public struct Slot: Sendable, Equatable {
    public var name: String
    public var dtype: DType
    public var dims: [Dim]
    public init(name: String, dtype: DType, dims: [Dim]) {
      self.name = name
      self.dtype = dtype
      self.dims = dims
    }
  }

  /// One kernel call: the typed call (its kernel and parameters), and the slots it reads and
  /// writes (nil for an omitted optional input).
  public struct Instruction: Sendable, Equatable {
    public var call: any KernelCall
    public var inputs: [Int?]
    public var outputs: [Int]
    /// The source node's name, for messages and profiles.
    public var label: String
    public init(call: any KernelCall, inputs: [Int?], outputs: [Int], label: String) {
      self.call = call
      self.inputs = inputs
      self.outputs = outputs
      self.label = label
    }

    /// The call a plan file names, read back through `KernelCalls.decode`.
    /// - Throws: "plan uses unknown kernel 'X'", or the call's parameter error.
    public init(kernel: String, parameters: [String: Parameter] = [:], inputs: [Int?], outputs: [Int], label: String) throws {
      self.init(call: try KernelCalls.decode(name: kernel, parameters: parameters), inputs: inputs, outputs: outputs, label: label)
    }

    /// The kernel's name ("Softmax").
    public var kernel: String { call.name }

    public static func == (lhs: Instruction, rhs: Instruction) -> Bool {
      lhs.call.name == rhs.call.name && lhs.call.parameters == rhs.call.parameters && lhs.inputs == rhs.inputs
        && lhs.outputs == rhs.outputs && lhs.label == rhs.label
    }
  }

  /// A kernel parameter value (defined with the kernels).
  public typealias Parameter = KernelParameter

  /// What the policy chose for one attention layer, and why.
  public struct Decision: Sendable, Equatable {
    public var layer: Int
    public var node: String
    public var variant: String
    public var parameters: [String: Parameter] = [:]
    public var predictedMilliseconds: Double = 0
    public var error: Double?
    public var errorSource: String = "unmeasured"
    /// Every variant the cost model weighed for this layer (empty when none was weighed).
    public var candidates: [Candidate] = []
    /// With `--seq-len auto`: the key-length ranges and the variant each runs
    /// ("1-2047:softmax 2048-:performer:m=256"); empty for a single choice.
    public var dispatch: String = ""
  }

  /// One variant the cost model weighed for a layer: its prediction and error estimate.
  public struct Candidate: Sendable, Equatable {
    public var variant: String
    public var parameters: [String: Parameter] = [:]
    public var predictedMilliseconds: Double = 0
    public var error: Double?
    /// `measured`, `synthetic`, `bound` or `unmeasured`.
    public var errorSource: String = "unmeasured"
    public var allowed: Bool
    /// Why it may not run the layer (empty when allowed).
    public var reason: String = ""
  }
}

/// What the cost model estimated for a variant on one layer, as a plan records it: the fields a
/// decision (the variant chosen) and a candidate (a variant weighed) share.
public protocol VariantEstimate {
  var variant: String { get }
  var parameters: [String: Plan.Parameter] { get }
  /// The predicted time (0 when nothing was predicted).
  var predictedMilliseconds: Double { get set }
  /// The estimated error; nil when not estimated.
  var error: Double? { get set }
  /// `measured`, `synthetic`, `bound`, `exact` or `unmeasured`.
  var errorSource: String { get set }
}

extension Plan.Decision: VariantEstimate {}
extension Plan.Candidate: VariantEstimate {}

extension Plan.Candidate {
  /// A variant weighed for a layer, before its estimate (`unmeasured`).
  public init(variant: String, parameters: [String: Plan.Parameter], allowed: Bool, reason: String) {
    self.variant = variant
    self.parameters = parameters
    self.allowed = allowed
    self.reason = reason
  }
}

extension Plan.Decision {
  /// A layer's variant, before the cost model's estimate (`unmeasured`, no candidates).
  public init(layer: Int, node: String, variant: String, parameters: [String: Plan.Parameter]) {
    self.layer = layer
    self.node = node
    self.variant = variant
    self.parameters = parameters
  }
}

extension Plan {
  /// An empty plan for a model: lowering adds its slots, instructions and weights.
  public init(sourceSHA256: [UInt8], producer: String, policy: String) {
    self.sourceSHA256 = sourceSHA256
    self.producer = producer
    self.policy = policy
  }

  /// For each slot, the index of the last instruction that reads it: `instructions.count` for the
  /// graph's outputs (read after the run), −1 for a slot nothing reads.
  public func lastUses() -> [Int] {
    var last = [Int](repeating: -1, count: slots.count)
    for (index, instruction) in instructions.enumerated() {
      for case let slot? in instruction.inputs { last[slot] = index }
    }
    for slot in outputs { last[slot] = instructions.count }
    return last
  }
}
