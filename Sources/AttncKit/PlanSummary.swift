import AttncKernels
import AttncRuntime
import AttncTensor
import Foundation

/// What `attnc inspect <plan>` reports: the header, the per-layer decisions and a summary of the
/// instructions and weights.
public struct PlanSummary: Sendable {
  public var path: String
  public var plan: Plan
  public var fileBytes: Int

  /// True when the file at `path` starts with the plan magic.
  public static func isPlan(_ path: String) -> Bool {
    guard let handle = FileHandle(forReadingAtPath: path) else { return false }
    defer { try? handle.close() }
    return (try? handle.read(upToCount: 8)).map { Array($0) == Array("ATTNCPLN".utf8) } ?? false
  }

  public init(path: String) throws {
    self.path = path
    plan = try withContext(path) { try PlanFile.read(path) }
    fileBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
  }

  var kernelCounts: [(String, Int)] {
    Dictionary(grouping: plan.instructions, by: \.kernel).map { ($0.key, $0.value.count) }.sorted { $0.0 < $1.0 }
  }

  var weightBytes: Int { plan.constants.values.reduce(0) { $0 + $1.storage.count } }

  /// One linear layer on a packed weight: its node, `[k, n]`, operand precision and weight bytes.
  struct LinearLayer {
    var node: String
    var k: String
    var n: Int
    var precision: String
    var weightBytes: Int
  }

  /// Every `PackedMatMul` (`f32` or `bf16`) and `QuantizedMatMul` (`int8`), in plan order.
  var linearLayers: [LinearLayer] {
    plan.instructions.compactMap { instruction in
      let precision: String, columns: Int
      if let packed = instruction.call as? PackedMatMulCall {
        (precision, columns) = (packed.operandPrecision.rawValue, packed.epilogue.columns)
      } else if let quantized = instruction.call as? QuantizedMatMulCall {
        (precision, columns) = ("int8", quantized.epilogue.columns)
      } else {
        return nil
      }
      let depth = instruction.inputs.first.flatMap { $0 }.flatMap { plan.slots[$0].dims.last?.description } ?? "?"
      let weight = instruction.inputs.dropFirst().first.flatMap { $0 }.flatMap { plan.constants[$0]?.storage.count } ?? 0
      return LinearLayer(node: instruction.label, k: depth, n: columns, precision: precision, weightBytes: weight)
    }
  }

  func port(_ slot: Int) -> JSON {
    let s = plan.slots[slot]
    return .object([("name", .string(s.name)), ("dtype", .string("\(s.dtype)")), ("shape", .array(s.dims.map { $0.value.map(JSON.int) ?? .string($0.description) }))])
  }

  public var json: JSON {
    .object([
      ("schema", .string("attnc.inspect.plan/1")),
      ("file", .string(path)),
      ("format_version", .int(Int(Plan.formatVersion))),
      ("producer", .string(plan.producer)),
      ("policy", .string(plan.policy)),
      ("source_sha256", .string(SHA256.hex(plan.sourceSHA256))),
      ("inputs", .array(plan.inputs.map(port))),
      ("outputs", .array(plan.outputs.map(port))),
      ("instructions", .int(plan.instructions.count)),
      ("kernels", .object(kernelCounts.map { ($0.0, .int($0.1)) })),
      ("weights", .object([("tensors", .int(plan.constants.count)), ("bytes", .int(weightBytes))])),
      ("file_bytes", .int(fileBytes)),
      ("decisions", .array(plan.decisions.map { d in
        .object([
          ("layer", .int(d.layer)), ("node", .string(d.node)), ("variant", .string(d.variant)),
          ("params", Self.json(d.parameters)),
          // 0 = not predicted (exact policy or a forced --variant: the cost model did not run).
          ("predicted_ms", d.predictedMilliseconds > 0 ? .number(d.predictedMilliseconds) : .null),
          ("error", d.error.map(JSON.number) ?? .null), ("error_source", .string(d.errorSource)),
          ("dispatch", d.dispatch.isEmpty ? .null : .string(d.dispatch)),
          ("candidates", .array(d.candidates.map { c in
            .object([
              ("variant", .string(c.variant)),
              ("params", Self.json(c.parameters)),
              ("predicted_ms", .number(c.predictedMilliseconds)), ("error", c.error.map(JSON.number) ?? .null),
              ("error_source", .string(c.errorSource)), ("allowed", .bool(c.allowed)), ("reason", c.reason.isEmpty ? .null : .string(c.reason)),
            ])
          })),
        ])
      })),
      ("linear_layers", .array(linearLayers.map { layer in
        .object([
          ("node", .string(layer.node)), ("k", Int(layer.k).map(JSON.int) ?? .string(layer.k)), ("n", .int(layer.n)),
          ("precision", .string(layer.precision)), ("weight_bytes", .int(layer.weightBytes)),
        ])
      })),
      ("options", .string(plan.options)),
    ])
  }

  /// Decision or candidate parameters as a JSON object, sorted by name (numbers as numbers).
  static func json(_ parameters: [String: Plan.Parameter]) -> JSON {
    .object(parameters.sorted { $0.key < $1.key }.map { key, value in
      if case .float(let number) = value { return (key, .number(number)) }
      return (key, .string("\(value)"))
    })
  }

  public var table: String {
    var lines = [
      "plan        \(path)",
      "format      version \(Plan.formatVersion), \(fileBytes) bytes (weights \(weightBytes) bytes in \(plan.constants.count) tensors, zstd)",
      "producer    \(plan.producer)",
      "policy      \(plan.policy)\(plan.options.isEmpty ? "" : " (\(plan.options))")",
      "source      sha256 \(SHA256.hex(plan.sourceSHA256))",
      "",
    ]
    for (title, slots) in [("inputs", plan.inputs), ("outputs", plan.outputs)] {
      lines.append(title)
      for slot in slots {
        let s = plan.slots[slot]
        lines.append("  \(s.name.padding(toLength: 20, withPad: " ", startingAt: 0))\("\(s.dtype)".padding(toLength: 10, withPad: " ", startingAt: 0))\(s.dims.shapeDescription)")
      }
    }
    lines.append("")
    lines.append("decisions   \(plan.decisions.isEmpty ? "none" : "\(plan.decisions.count) attention layers")")
    for d in plan.decisions {
      let numbers = d.parameters.compactMapValues { value -> Double? in
        guard case .float(let number) = value else { return nil }
        return number
      }
      let variant = AttentionVariants.text(d.variant, numbers)
      let predicted = d.predictedMilliseconds > 0 ? String(format: "predicted %.3f ms", d.predictedMilliseconds) : "not predicted"
      lines.append("  layer \(d.layer) \(d.node): \(variant), \(predicted), error \(d.error.map { String(format: "%.4f", $0) } ?? "-") (\(d.errorSource))")
      if !d.dispatch.isEmpty { lines.append("    by key length: \(d.dispatch)") }
      if !d.candidates.isEmpty {
        lines.append("    weighed: " + d.candidates.map { c in
          "\(AttentionVariants.text(c.variant, c.parameters.compactMapValues { if case .float(let x) = $0 { x } else { nil } })) \(String(format: "%.3f", c.predictedMilliseconds)) ms" + (c.error.map { String(format: " err %.3f", $0) } ?? "") + (c.allowed ? "" : " (no)")
        }.joined(separator: ", "))
      }
    }
    let linear = linearLayers
    lines.append("")
    let counts = Dictionary(grouping: linear, by: \.precision).map { "\($0.value.count) \($0.key)" }.sorted()
    lines.append("linear      \(linear.isEmpty ? "none" : "\(linear.count) layers on packed weights (\(counts.joined(separator: ", ")))")")
    for layer in linear {
      lines.append("  \(layer.precision.padding(toLength: 6, withPad: " ", startingAt: 0)) [\(layer.k), \(layer.n)] \(layer.weightBytes) bytes  \(layer.node)")
    }
    lines.append("")
    lines.append("kernel                count")
    for (kernel, count) in kernelCounts {
      lines.append(kernel.padding(toLength: 20, withPad: " ", startingAt: 0) + String(repeating: " ", count: max(0, 7 - "\(count)".count)) + "\(count)")
    }
    lines.append("total".padding(toLength: 20, withPad: " ", startingAt: 0) + String(repeating: " ", count: max(0, 7 - "\(plan.instructions.count)".count)) + "\(plan.instructions.count)")
    return lines.joined(separator: "\n")
  }
}
