import AttncKernels
import AttncRuntime
import AttncTensor
import Foundation

/// The inputs the cost model measures attention error on: the user's (`--calibration DIR`) or
/// generated ones (labelled `synthetic`).
public struct CalibrationInputs: Sendable {
  /// One list of inputs per sample, in the plan's input order.
  public var samples: [[HostTensor]]
  /// `measured` for the user's data, `synthetic` for generated inputs.
  public var source: String
  /// Where they came from, for messages ("3 test_data_set folders in DIR", "synthetic, seq 1024").
  public var description: String

  /// Reads the user's calibration folder (`--calibration DIR`) for a plan: supplied by the
  /// layer that reads tensor files (AttncKit's `CalibrationInputs.load(_:for:)`).
  public typealias Loader = (_ folder: String, _ plan: Plan) throws -> CalibrationInputs

  public init(samples: [[HostTensor]], source: String, description: String) {
    self.samples = samples
    self.source = source
    self.description = description
  }

  /// One generated sample at `bindings`: token ids uniform over the vocabulary of the embedding
  /// each integer input feeds (ones for attention masks, 0..<N for positions), standard normal
  /// floats (images); seeded, so conversions repeat.
  public static func synthetic(for plan: Plan, bindings: [String: Int], seed: UInt64 = 0xCA1B) throws -> CalibrationInputs {
    // Refuse lengths whose inputs or values could not fit before generating anything.
    try MemoryBound.checkValues(plan, bindings: bindings)
    var generator = SplitMix(seed: seed)
    let samples = try plan.inputs.map { slot -> HostTensor in
      let spec = plan.slots[slot]
      let shape = try spec.dims.map { dim -> Int in
        guard let value = dim.evaluate(bindings) else {
          throw AttncError(.usage, "input '\(spec.name)' has dim '\(dim)' with no value: bind its symbols (--dim NAME=VALUE for bench, --seq-len or --input-shape for convert)")
        }
        return value
      }
      let count = shape.reduce(1, *)
      let name = spec.name.lowercased()
      if spec.dtype.isFloatingPoint {
        return HostTensor(dtype: spec.dtype, shape: shape, converting: (0..<count).map { _ in Double(generator.normal()) })
      }
      let vocabulary = Self.vocabulary(of: slot, in: plan)
      let last = max(shape.last ?? 1, 1)
      let values: [Int64] = (0..<count).map { i in
        if name.contains("mask") { return 1 }
        if name.contains("position") { return Int64(i % last) }
        if let vocabulary { return Int64(generator.next() % UInt64(vocabulary)) }
        return name.contains("type") ? 0 : Int64(generator.next() % 100)
      }
      return HostTensor(dtype: spec.dtype, shape: shape, integers: values)
    }
    let described = bindings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
    return CalibrationInputs(samples: [samples], source: "synthetic", description: "synthetic inputs (\(described))")
  }

  /// The row count of the embedding table an integer input indexes: the first `Gather` whose
  /// indices are the input (through reshapes and casts) and whose data is a weight.
  static func vocabulary(of input: Int, in plan: Plan) -> Int? {
    var frontier: Set<Int> = [input]
    // Views (Reshape, Flatten, Squeeze, Unsqueeze, Identity), dynamic squeezes and casts keep the ids.
    func passesIds(_ call: any KernelCall) -> Bool { call.memory.view || call is CastCall || call is SqueezeDynamicCall }
    for _ in 0..<4 {
      var next: Set<Int> = []
      for instruction in plan.instructions {
        guard let first = instruction.inputs.first ?? nil else { continue }
        if (instruction.call as? GatherCall)?.elements == false, instruction.inputs.count > 1, let indices = instruction.inputs[1], frontier.contains(indices),
          let table = plan.constants[first], let rows = table.shape.first
        {
          return rows
        }
        if passesIds(instruction.call), frontier.contains(first) { next.formUnion(instruction.outputs) }
      }
      if next.isEmpty { return nil }
      frontier = next
    }
    return nil
  }

  /// The inputs a conversion calibrates on, with what `body` computed from them: the user's
  /// `folder` (read by `load`, which knows the tensor file formats), or synthetic inputs at
  /// `length` tokens, halved while the model refuses them (`body` throws: position tables bound
  /// the length a model takes).
  /// - Throws: `load`'s error for a bad folder; `body`'s error on the user's inputs or at 16 tokens.
  public static func prepare<T>(
    for plan: Plan, folder: String?, length: Int, load: Loader, progress: (String) -> Void,
    _ body: (CalibrationInputs) throws -> T
  ) throws -> (CalibrationInputs, T) {
    if let folder {
      let inputs = try load(folder, plan)
      return (inputs, try body(inputs))
    }
    var length = length
    while true {
      let inputs = try synthetic(for: plan, bindings: plan.symbolBindings(batch: 1, sequence: length))
      do {
        return (inputs, try body(inputs))
      } catch let error as AttncError where length > 16 {
        progress("  the model refused \(length) tokens (\(error.message)); trying \(length / 2)")
        length /= 2
      }
    }
  }
}
