import AttncCost
import AttncIR
import AttncKernels
import AttncKit
import AttncPasses
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// Quantized linear layers from import to the interpreter: the three forms ONNX Runtime writes
/// for a dynamically quantized layer become one `QuantizedMatMul` (`fuse-quantized-matmul`) and
/// give bit for bit what the same model computes op by op (its weight fed as an input, which
/// the fusion leaves alone); `MatMulNBits` becomes a packed float32 product and agrees with its
/// own kernel and with a plain dequantization; hostile files are refused naming the node.
@Suite struct QuantizedModelTests {
  static let (rows, k, n) = (6, 40, 24)

  /// Raw bytes of `values` as `dtype`'s ONNX little-endian storage.
  static func raw(_ values: [Int64], _ dtype: DType) -> [UInt8] {
    let host = HostTensor(dtype: dtype, shape: [values.count], integers: values)
    return withExtendedLifetime(host) { Array(host.storage.bytes) }
  }

  static func tensor(_ name: String, _ values: [Int64], _ dtype: DType, _ dims: [Int]) -> OnnxBuilder.Tensor {
    .init(name: name, dataType: Int64(dtype.rawValue), dims: dims.map { Int64($0) }, raw: raw(values, dtype))
  }

  static func floats(_ name: String, _ values: [Float], _ dims: [Int]) -> OnnxBuilder.Tensor {
    .init(name: name, dims: dims.map { Int64($0) }, floats: values)
  }

  /// The layer in `form`, its weight an initializer or (`weightAsInput`) a graph input.
  static func layer(
    _ form: String, weightType: DType, perColumn: Bool, weightAsInput: Bool, in dir: URL, seed: UInt64
  ) throws -> (path: String, weight: HostTensor) {
    var generator = SplitMixGenerator(seed: seed)
    let range: ClosedRange<Int64> = weightType == .int8 ? -128...127 : 0...255
    let weight = (0..<(k * n)).map { _ in Int64.random(in: range, using: &generator) }
    let columns = perColumn ? n : 1
    let zeros = (0..<columns).map { _ in Int64.random(in: weightType == .int8 ? -10...10 : 118...138, using: &generator) }
    let scales = (0..<columns).map { _ in Float.random(in: 0.001...0.01, using: &generator) }
    let bias = (0..<n).map { _ in Float.random(in: -1...1, using: &generator) }
    let scaleDims = perColumn ? [n] : []
    var builder = OnnxBuilder().input("x", ["batch", "\(rows)", "\(k)"])
    let weightTensor = tensor("w", weight, weightType, [k, n])
    builder = weightAsInput
      ? builder.input("w", dataType: Int64(weightType.rawValue), ["\(k)", "\(n)"]) : builder.initializer(weightTensor)
    builder = builder.initializer(tensor("w_zero", zeros, weightType, scaleDims))
      .initializer(floats("w_scale", scales, scaleDims)).initializer(floats("bias", bias, [n]))
    switch form {
    case "MatMulInteger":
      builder = builder
        .node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"])
        .node("MatMulInteger", ["q", "w", "z", "w_zero"], ["acc"])
        .node("Cast", ["acc"], ["accf"], attributes: [("to", 1)])
        .node("Mul", ["s", "w_scale"], ["scale"])
        .node("Mul", ["accf", "scale"], ["product"])
        .node("Add", ["product", "bias"], ["y"])
    case "MatMulIntegerToFloat":
      builder = builder
        .node("DynamicQuantizeLinear", ["x"], ["q", "s", "z"])
        .node("MatMulIntegerToFloat", ["q", "w", "s", "w_scale", "z", "w_zero", "bias"], ["y"], domain: "com.microsoft")
    default:
      builder = builder.node("DynamicQuantizeMatMul", ["x", "w", "w_scale", "w_zero", "bias"], ["y"], domain: "com.microsoft")
    }
    let path = try builder.output("y").with(opsets: [("", 17), ("com.microsoft", 1)]).write(to: dir, name: "\(form)-\(weightAsInput).onnx")
    return (path, HostTensor(dtype: weightType, shape: [k, n], integers: weight))
  }

  static let forms = ["MatMulInteger", "MatMulIntegerToFloat", "DynamicQuantizeMatMul"]

  @Test(arguments: forms, [DType.int8, .uint8])
  func fusedLayerEqualsTheOpByOpLayer(form: String, weightType: DType) throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    for perColumn in [false, true] {
      let fused = try Self.layer(form, weightType: weightType, perColumn: perColumn, weightAsInput: false, in: dir, seed: 7)
      let plain = try Self.layer(form, weightType: weightType, perColumn: perColumn, weightAsInput: true, in: dir, seed: 7)
      let fusedPlan = try Compiler.plan(fused.path).plan
      let plainPlan = try Compiler.plan(plain.path).plan
      #expect(fusedPlan.instructions.map(\.kernel) == ["QuantizedMatMul"], "\(form) \(weightType) per column \(perColumn)")
      #expect(!plainPlan.instructions.contains { $0.kernel == "QuantizedMatMul" })
      var generator = SplitMixGenerator(seed: 3)
      let x = (0..<(2 * Self.rows * Self.k)).map { _ in Float.random(in: -4...3, using: &generator) }
      let input = HostTensor(floats: x, shape: [2, Self.rows, Self.k])
      let y = try Interpreter(plan: fusedPlan).run([input])[0]
      let expected = try Interpreter(plan: plainPlan).run([input, fused.weight])[0]
      #expect(y.shape == [2, Self.rows, Self.n])
      #expect(y.floats() == expected.floats(), "\(form) \(weightType) per column \(perColumn)")
    }
  }

  /// `fuse-quantized-matmul` then `fuse-matmul-epilogues` take the bias and a GELU; running the
  /// fusions again changes nothing.
  @Test func fusionTakesTheEpilogueAndIsIdempotent() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let made = try Self.layer("MatMulInteger", weightType: .int8, perColumn: false, weightAsInput: false, in: dir, seed: 1)
    var graph = try ModelLoader.load(made.path).canonical
    try Fusion.run(&graph)
    #expect(graph.nodes.map(\.opType) == ["QuantizedMatMul"])
    #expect(graph.nodes[0].inputs.count == QuantizedMatMul.operandCount + 1, "the bias joined as an addend")
    let again = try Fusion.fusions.run(&graph)
    #expect(again.hits.allSatisfy { $0.count == 0 }, "\(again.hits)")
  }
}

extension QuantizedModelTests {
  /// `dequantize-gathered-tables`: `DequantizeLinear(Gather(table_q, ids))` becomes a Gather of
  /// the table dequantized at conversion, with the same outputs; a per-axis table stays.
  @Test func gatheredTablesAreDequantizedOnce() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let table: [Int64] = (0..<24).map { $0 * 11 % 256 - 128 }
    func model(_ scales: [Float], _ zeros: [Int64], name: String) throws -> String {
      let dims = scales.count == 1 ? [Int]() : [scales.count]
      return try OnnxBuilder().input("ids", dataType: 7, ["3"])
        .initializer(Self.tensor("table", table, .int8, [6, 4])).initializer(Self.floats("s", scales, dims))
        .initializer(Self.tensor("z", zeros, .int8, dims))
        .node("Gather", ["table", "ids"], ["rows"]).node("DequantizeLinear", ["rows", "s", "z"], ["y"])
        .output("y").with(opsets: [("", 13)]).write(to: dir, name: name)
    }
    let ids = HostTensor(int64s: [5, 0, 2], shape: [3])
    let perTensor = try model([0.5], [3], name: "tensor.onnx")
    let canonical = try ModelLoader.load(perTensor).canonical
    #expect(canonical.nodes.map(\.opType) == ["Gather"])
    let y = try Interpreter(plan: try Compiler.plan(perTensor).plan).run([ids])[0].floats()
    var expected: [Float] = []
    for row in [5, 0, 2] {
      for column in 0..<4 { expected.append(Float(table[row * 4 + column] - 3) * 0.5) }
    }
    #expect(y == expected)
    let perAxis = try model([0.5, 1, 2, 4], [0, 1, 2, 3], name: "axis.onnx")
    #expect(try ModelLoader.load(perAxis).canonical.nodes.map(\.opType) == ["Gather", "DequantizeLinear"])
  }
}

// MARK: - MatMulNBits

extension QuantizedModelTests {
  /// A MatMulNBits layer of `bits` with packed or float zero points (or none), a bias, and g_idx
  /// (a permuted block order); its weight an initializer or an input. Returns the path and the
  /// plain `[K, N]` weight.
  static func nbits(
    bits: Int, zeroPoints: String, groupIndex: Bool, weightAsInput: Bool, in dir: URL
  ) throws -> (path: String, weight: [Float], bias: [Float], inputs: [HostTensor]) {
    let (k, n, block) = (48, 5, 16)
    let blocks = (k + block - 1) / block, blob = block * bits / 8, perByte = 8 / bits
    var generator = SplitMixGenerator(seed: UInt64(bits * 10 + groupIndex.hashValue & 1))
    let q = (0..<(n * k)).map { _ in Int64.random(in: 0...Int64((1 << bits) - 1), using: &generator) }
    var packed = [Int64](repeating: 0, count: n * blocks * blob)
    for column in 0..<n {
      for t in 0..<k { packed[column * blocks * blob + t / perByte] |= q[column * k + t] << Int64((t % perByte) * bits) }
    }
    let scales = (0..<(n * blocks)).map { _ in Float.random(in: 0.01...0.1, using: &generator) }
    let zeroValues = (0..<(n * blocks)).map { _ in Int64.random(in: 0...Int64((1 << bits) - 1), using: &generator) }
    let zeroBytes = (blocks * bits + 7) / 8
    var packedZeros = [Int64](repeating: 0, count: n * zeroBytes)
    for column in 0..<n {
      for b in 0..<blocks { packedZeros[column * zeroBytes + b / perByte] |= zeroValues[column * blocks + b] << Int64((b % perByte) * bits) }
    }
    let groups = (0..<k).map { Int64((($0 / block) + 1) % blocks) }
    let bias = (0..<n).map { Float($0) * 0.25 - 0.5 }
    var weight = [Float](repeating: 0, count: k * n)
    for column in 0..<n {
      for t in 0..<k {
        let b = groupIndex ? Int(groups[t]) : t / block
        let zero: Float = zeroPoints == "none" ? Float(1 << (bits - 1)) : Float(zeroValues[column * blocks + b])
        weight[t * n + column] = (Float(q[column * k + t]) - zero) * scales[column * blocks + b]
      }
    }
    var builder = OnnxBuilder().input("x", ["3", "\(k)"])
    let bTensor = tensor("B", packed, .uint8, [n, blocks, blob])
    var inputs: [HostTensor] = []
    if weightAsInput {
      builder = builder.input("B", dataType: 2, ["\(n)", "\(blocks)", "\(blob)"])
      inputs.append(HostTensor(dtype: .uint8, shape: [n, blocks, blob], integers: packed))
    } else {
      builder = builder.initializer(bTensor)
    }
    builder = builder.initializer(floats("scales", scales, [n * blocks])).initializer(floats("bias", bias, [n]))
    var names = ["x", "B", "scales"]
    switch zeroPoints {
    case "packed": builder = builder.initializer(tensor("zeros", packedZeros, .uint8, [n * zeroBytes])); names.append("zeros")
    case "float": builder = builder.initializer(floats("zeros", zeroValues.map { Float($0) }, [n, blocks])); names.append("zeros")
    default: names.append("")
    }
    if groupIndex { builder = builder.initializer(tensor("g_idx", groups, .int32, [k])) }
    names += [groupIndex ? "g_idx" : "", "bias"]
    let path = try builder
      .node("MatMulNBits", names, ["y"], attributes: [("K", Int64(k)), ("N", Int64(n)), ("bits", Int64(bits)), ("block_size", Int64(block))], domain: "com.microsoft")
      .output("y").with(opsets: [("", 17), ("com.microsoft", 1)])
      .write(to: dir, name: "nbits-\(bits)-\(zeroPoints)-\(groupIndex)-\(weightAsInput).onnx")
    return (path, weight, bias, inputs)
  }

  @Test(arguments: [2, 4, 8], ["none", "packed", "float"])
  func matMulNBitsIsTheDequantizedProduct(bits: Int, zeroPoints: String) throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    for groupIndex in [false, true] {
      let x = (0..<(3 * 48)).map { Float($0 % 7) - 3 }
      let expanded = try Self.nbits(bits: bits, zeroPoints: zeroPoints, groupIndex: groupIndex, weightAsInput: false, in: dir)
      let own = try Self.nbits(bits: bits, zeroPoints: zeroPoints, groupIndex: groupIndex, weightAsInput: true, in: dir)
      let expandedPlan = try Compiler.plan(expanded.path).plan
      #expect(!expandedPlan.instructions.contains { $0.kernel == "MatMulNBits" }, "expanded at conversion")
      let ownPlan = try Compiler.plan(own.path).plan
      #expect(ownPlan.instructions.map(\.kernel) == ["MatMulNBits"])
      let input = HostTensor(floats: x, shape: [3, 48])
      for (plan, extra) in [(expandedPlan, [HostTensor]()), (ownPlan, own.inputs)] {
        let y = try Interpreter(plan: plan).run([input] + extra)[0].floats()
        for i in 0..<3 {
          for j in 0..<5 {
            var sum = Double(expanded.bias[j])
            for t in 0..<48 { sum += Double(x[i * 48 + t]) * Double(expanded.weight[t * 5 + j]) }
            #expect(abs(Double(y[i * 5 + j]) - sum) <= 1e-4 * max(1, abs(sum)), "bits \(bits) \(zeroPoints) g_idx \(groupIndex) [\(i), \(j)]")
          }
        }
      }
    }
  }
}

// MARK: - Hostile files

extension QuantizedModelTests {
  /// The error `convert` gives `builder`'s model.
  static func conversionError(_ builder: OnnxBuilder) throws -> String {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try builder.with(opsets: [("", 21), ("com.microsoft", 1)]).write(to: dir)
    do {
      _ = try Compiler.plan(path)
    } catch let error as AttncError {
      #expect(error.code.exitStatus == 2)
      return "\(error)"
    }
    return "converted"
  }

  @Test func refusesHostileQuantizationParameters() throws {
    let zeroScale = OnnxBuilder().input("x", ["4"])
      .initializer(Self.floats("s", [0], [])).initializer(Self.tensor("z", [0], .int8, []))
      .node("QuantizeLinear", ["x", "s", "z"], ["y"], name: "quantize_x").output("y", dataType: 3)
    #expect(try Self.conversionError(zeroScale).contains("node 'quantize_x' (QuantizeLinear): the scale holds 0 at index 0"))

    let nanScale = OnnxBuilder().input("x", dataType: 3, ["4"])
      .initializer(Self.floats("s", [.nan], [])).node("DequantizeLinear", ["x", "s"], ["y"], name: "dq").output("y")
    #expect(try Self.conversionError(nanScale).contains("node 'dq' (DequantizeLinear): the scale holds nan at index 0"))

    let wrongZero = OnnxBuilder().input("a", dataType: 2, ["2", "3"]).input("b", dataType: 3, ["3", "2"])
      .initializer(Self.tensor("za", [1], .int8, [])).node("MatMulInteger", ["a", "b", "za"], ["y"], name: "mmi")
      .output("y", dataType: 6)
    #expect(try Self.conversionError(wrongZero).contains("node 'mmi' (MatMulInteger): a_zero_point is int8 but A is uint8"))

    let mismatched = OnnxBuilder().input("a", dataType: 2, ["2", "3"]).input("b", dataType: 3, ["4", "2"])
      .node("MatMulInteger", ["a", "b"], ["y"], name: "mmi").output("y", dataType: 6)
    #expect(try Self.conversionError(mismatched).contains("node 'mmi' (MatMulInteger): inner dims [2, 3] × [4, 2] differ: 3 and 4"))

    let blocked = OnnxBuilder().input("x", dataType: 3, ["2", "5"])
      .initializer(Self.floats("s", [1, 1, 1, 1], [2, 2]))
      .node("DequantizeLinear", ["x", "s"], ["y"], name: "dq", attributes: [("axis", 1), ("block_size", 2)]).output("y")
    #expect(try Self.conversionError(blocked).contains("node 'dq' (DequantizeLinear): blocked scale [2, 2] does not fit input [2, 5]"))

    let threeBits = OnnxBuilder().input("x", ["1", "32"]).input("b", dataType: 2, ["4", "2", "6"]).input("s", ["8"])
      .node("MatMulNBits", ["x", "b", "s"], ["y"], name: "nbits", attributes: [("K", 32), ("N", 4), ("bits", 3), ("block_size", 16)], domain: "com.microsoft")
      .output("y")
    #expect(try Self.conversionError(threeBits).contains("'nbits'"))
    #expect(try Self.conversionError(threeBits).contains("MatMulNBits: bits 3 is not 2, 4 or 8"))
  }

  /// Quantized contrib ops attnc does not know stay a refusal that names them.
  @Test func refusesUnknownQuantizedContribOps() throws {
    let builder = OnnxBuilder().input("x", ["2", "4"])
      .node("QAttention", ["x"], ["y"], name: "qattention", domain: "com.microsoft").output("y")
    #expect(try Self.conversionError(builder).contains("unsupported op type: com.microsoft.QAttention (node 'qattention')"))
  }
}

/// SplitMix64 as a `RandomNumberGenerator`, so seeded weights are the same on every run.
struct SplitMixGenerator: RandomNumberGenerator {
  var mix: SplitMix
  init(seed: UInt64) { mix = SplitMix(seed: seed) }
  mutating func next() -> UInt64 { mix.next() }
}
