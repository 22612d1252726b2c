@testable import AttncKit
@testable import AttncRuntime
import AttncONNX
import AttncTensor
import CSchemas
import Foundation

/// One reader under test: its name (`scripts/fuzz.sh NAME`) and what it does with one input.
struct FuzzTarget {
  var name: String
  var body: (UnsafeRawBufferPointer) throws -> Void

  static let all: [FuzzTarget] = [
    // ONNX decode, import and canonicalization of one model, then the supported-ops check.
    FuzzTarget(name: "onnx") { bytes in
      let path = try Scratch.write(Data(bytes), as: "model.onnx")
      let loaded = try ModelLoader.load(path)
      try ModelLoader.checkSupported(loaded.canonical)
    },
    // The plan reader (header, chunks, instructions, symbolic dims) up to the interpreter and
    // the arena plan with every symbol bound to 2.
    FuzzTarget(name: "plan") { bytes in
      let path = try Scratch.write(Data(PlanRepair.withHeaderChecksum(bytes)), as: "model.attnc")
      let plan = try PlanFile.read(path)
      let interpreter = try Interpreter(plan: plan)
      var bindings: [String: Int] = [:]
      for slot in plan.inputs { for dim in plan.slots[slot].dims { for s in dim.symbols { bindings[s] = 2 } } }
      try MemoryBound.checkValues(plan, bindings: bindings)
      _ = try interpreter.arenaPlan(for: bindings)
    },
    // `attnc run --input name=x.npy`.
    FuzzTarget(name: "npy") { bytes in
      _ = try NPY.read(try Scratch.write(Data(bytes), as: "input.npy"))
    },
    // `attnc run --test-data`: a TensorProto `input_0.pb`.
    FuzzTarget(name: "pb") { bytes in
      _ = try TensorFiles.readProto(try Scratch.write(Data(bytes), as: "input_0.pb"))
    },
    // A plan's dimension expression (`attnc.DimExpr`) and the algebra the runtime applies to it.
    FuzzTarget(name: "dims") { bytes in
      let dim = try PlanCodec.unpackDim(bytes)
      DimAlgebra.exercise(dim)
    },
  ]
}

/// One scratch folder per process (in /dev/shm when there is one) that inputs are written to,
/// so each reader is fuzzed through the same path as `attnc` (by file name).
enum Scratch {
  static let folder: String = {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let path = "\(base)/attnc-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }()

  static func write(_ bytes: Data, as name: String) throws -> String {
    let path = "\(folder)/\(name)"
    try bytes.write(to: URL(fileURLWithPath: path))
    return path
  }
}

/// Plan files carry a SHA-256 of their header; a mutated header almost never matches it, so the
/// fuzzer rewrites the checksum when the length field fits, letting mutations reach the header's
/// decoder (inputs whose length does not fit still exercise the prefix checks).
enum PlanRepair {
  static func withHeaderChecksum(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
    guard bytes.count >= PlanFile.prefixLength else { return [UInt8](bytes) }
    let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
    let end = PlanFile.prefixLength + length
    guard end + 32 <= bytes.count else { return [UInt8](bytes) }
    var copy = [UInt8](bytes)
    let digest = SHA256.digest(UnsafeRawBufferPointer(rebasing: bytes[PlanFile.prefixLength..<end]))
    copy.replaceSubrange(end..<(end + 32), with: digest)
    return copy
  }
}

/// The `Dim` operations shape inference and the runtime apply to dims read from files.
enum DimAlgebra {
  static func exercise(_ dim: Dim) {
    let symbols = dim.symbols.sorted()
    var bindings: [String: Int] = [:]
    for (index, symbol) in symbols.enumerated() { bindings[symbol] = index + 2 }
    _ = dim.evaluate(bindings)
    _ = dim.description
    _ = dim.isKnownNonNegative
    _ = dim.floorDivided(by: 3)
    _ = dim.modulo(4)
    _ = dim.divided(by: dim)
    _ = dim.divided(by: 2)
    if let first = symbols.first {
      _ = dim.substituting([first: Dim.symbol(first) * 2 + 1])
    }
    _ = dim + 1
    _ = dim * 2
    _ = dim - dim
  }
}
