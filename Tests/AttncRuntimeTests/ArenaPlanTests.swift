import AttncKernels
@testable import AttncRuntime
import AttncTensor
import Foundation
import Testing

/// The liveness arena: placement (reuse, in place, views), its check, and runs that give the
/// same numbers with and without it.
@Suite struct ArenaPlanTests {
  /// `y = t ⊙ t` with `t = transpose(gelu(x + bias) · w)`, over a symbolic `seq`:
  /// the Gelu can overwrite the Add's output, the Transpose can reuse that memory once the Gelu's
  /// value is dead, and the Mul can overwrite the Transpose's output.
  static func plan() -> Plan {
    let seq = Dim.symbol("seq")
    let slots = [
      Plan.Slot(name: "x", dtype: .float, dims: [seq, 4]),
      Plan.Slot(name: "bias", dtype: .float, dims: [4]),
      Plan.Slot(name: "a", dtype: .float, dims: [seq, 4]),
      Plan.Slot(name: "g", dtype: .float, dims: [seq, 4]),
      Plan.Slot(name: "w", dtype: .float, dims: [4, 4]),
      Plan.Slot(name: "m", dtype: .float, dims: [seq, 4]),
      Plan.Slot(name: "t", dtype: .float, dims: [4, seq]),
      Plan.Slot(name: "y", dtype: .float, dims: [4, seq]),
    ]
    let instructions = [
      Plan.Instruction(call: BinaryCall("Add"), inputs: [0, 1], outputs: [2], label: "add"),
      Plan.Instruction(call: UnaryCall("Gelu"), inputs: [2], outputs: [3], label: "gelu"),
      Plan.Instruction(call: MatMulCall(), inputs: [3, 4], outputs: [5], label: "matmul"),
      Plan.Instruction(call: TransposeCall(perm: [1, 0]), inputs: [5], outputs: [6], label: "transpose"),
      Plan.Instruction(call: BinaryCall("Mul"), inputs: [6, 6], outputs: [7], label: "square"),
    ]
    let constants = [
      1: HostTensor(floats: [0.5, -1, 0.25, 2], shape: [4]),
      4: HostTensor(floats: (0..<16).map { Float($0 % 5) - 2 }, shape: [4, 4]),
    ]
    return Plan(
      sourceSHA256: [UInt8](repeating: 0, count: 32), producer: "test", policy: "exact", slots: slots, inputs: [0],
      outputs: [7], instructions: instructions, constants: constants)
  }

  @Test func reusesDeadMemoryAndWritesInPlace() throws {
    let arena = ArenaPlan.make(Self.plan(), bindings: ["seq": 10])
    try arena.validate(against: Self.plan())
    let value = 10 * 4 * 4  // bytes of one [10, 4] value: 160, rounded up to 192 for alignment
    let slotBytes = (value + 63) / 64 * 64
    #expect(arena.offsets[2] == arena.offsets[3], "the Gelu writes over the Add's output")
    #expect(arena.offsets[5] != arena.offsets[3], "the MatMul's output cannot be its own input")
    #expect(arena.offsets[6] == arena.offsets[2], "the Transpose reuses the dead Gelu output's memory")
    #expect(arena.offsets[7] == arena.offsets[6], "the Mul writes over the Transpose's output")
    #expect(arena.inPlace == 2)
    #expect(arena.bytes == 2 * slotBytes)
    #expect(arena.liveBytes == 2 * slotBytes)
    #expect(arena.offsets.values.allSatisfy { $0 % Arena.alignment == 0 })
    #expect(arena.offsets[0] == nil && arena.offsets[1] == nil, "inputs and weights stay outside the arena")
  }

  @Test func aPlacementThatOverlapsLiveValuesIsRefused() throws {
    let plan = Self.plan()
    var arena = ArenaPlan.make(plan, bindings: ["seq": 10])
    arena.offsets[5] = arena.offsets[3]  // the MatMul's output over its own input
    #expect(throws: AttncError.self) { try arena.validate(against: plan) }
    var outside = ArenaPlan.make(plan, bindings: ["seq": 10])
    outside.bytes -= 64
    #expect(throws: AttncError.self) { try outside.validate(against: plan) }
  }

  @Test func runsGiveTheSameNumbersWithAndWithoutTheArena() throws {
    let plan = Self.plan()
    let x = HostTensor(floats: (0..<40).map { Float($0) / 7 - 3 }, shape: [10, 4])
    let withArena = try Interpreter(plan: plan)
    let planned = try withArena.run([x])[0].floats()
    #expect(withArena.lastArena?.bytes == ArenaPlan.make(plan, bindings: ["seq": 10]).bytes)
    let without = try Interpreter(plan: plan)
    without.usesArena = false
    let plain = try without.run([x])[0].floats()
    #expect(planned == plain)
    // By hand: t[j][i] = Σ_k gelu(x[i][k] + bias[k]) · w[k][j]; y = t².
    let bias: [Float] = [0.5, -1, 0.25, 2]
    let w = (0..<16).map { Float($0 % 5) - 2 }
    let xs = x.floats()
    for i in 0..<10 {
      for j in 0..<4 {
        var sum: Double = 0
        for k in 0..<4 {
          let a = Double(xs[i * 4 + k] + bias[k])
          sum += 0.5 * a * (1 + erf(a / 2.0.squareRoot())) * Double(w[k * 4 + j])
        }
        #expect(abs(Double(plain[j * 10 + i]) - sum * sum) < 1e-3 * max(1, sum * sum))
      }
    }
    // A second shape gets its own plan; the first stays cached.
    let longer = HostTensor(floats: (0..<64).map { Float($0) / 9 - 3 }, shape: [16, 4])
    let longerPlanned = try withArena.run([longer])[0].floats()
    let longerPlain = try without.run([longer])[0].floats()
    #expect(longerPlanned == longerPlain)
    #expect(withArena.lastArena?.counts[7] == 64)
  }
}
