import AttncKit
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// The rule `run --test-data` and the parity tests compare by: element by element for a float32
/// model, relative Frobenius error ≤ 1e-2 for one that computes in float16/bfloat16 or is
/// quantized, with the reason printed.
@Suite struct ParityRuleTests {
  static func plan(_ precision: String) -> Plan {
    var plan = Plan(sourceSHA256: [], producer: "test", policy: "exact")
    plan.sourcePrecision = precision
    return plan
  }

  @Test func selectsOnTheSourcePrecision() {
    #expect(ParityRule.forPlan(Self.plan("")).kind == .elementwise(relative: 1e-3, absolute: 1e-5))
    for precision in ["float16", "bfloat16", "int8"] {
      let rule = ParityRule.forPlan(Self.plan(precision))
      #expect(rule.kind == .relativeFrobenius(limit: 1e-2))
      #expect(rule.description.contains(precision), "\(rule)")
    }
  }

  /// An output off by 2% on one element near zero and exact elsewhere: out of rtol, within the
  /// low-precision rule; off by 2% everywhere: out of both.
  @Test func frobeniusAcceptsWhatElementsCannot() {
    let expected = HostTensor(floats: [10, -8, 6, 0.01], shape: [4])
    let nearZero = HostTensor(floats: [10, -8, 6, 0.0102], shape: [4])
    let everywhere = HostTensor(floats: [10.2, -8.16, 6.12, 0.0102], shape: [4])
    let elementwise = ParityRule.forPlan(Self.plan(""))
    let low = ParityRule.forPlan(Self.plan("float16"))
    #expect(!elementwise.compare(nearZero, expected).passed)
    #expect(low.compare(nearZero, expected).passed)
    #expect(!low.compare(everywhere, expected).passed)
    #expect(!low.compare(HostTensor(floats: [10, -8, 6], shape: [3]), expected).passed, "shapes differ")
    #expect(!low.compare(HostTensor(floats: [10, -8, 6, .nan], shape: [4]), expected).passed, "NaN")
  }

  /// `attnc run --test-data` says which rule it used and exits 0 on a float16 export that agrees
  /// with ONNX Runtime to 6e-4 relative error (element by element it is 5% off near zero).
  @Test(.enabled(if: Fixtures.exportsAvailable, Comment(rawValue: Fixtures.exportsMissing)))
  func runPrintsTheRule() throws {
    let directory = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let fixture = Fixtures.exports.appendingPathComponent("bert_float16_legacy")
    let plan = directory.appendingPathComponent("bert16.attnc").path
    #expect(try CLI.run(["convert", fixture.appendingPathComponent("model.onnx").path, "-o", plan, "--policy", "exact"]).status == 0)
    let data = fixture.appendingPathComponent("test_data_set_0").path
    let run = try CLI.run(["run", plan, "--test-data", data])
    #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
    #expect(run.stdout.contains("comparing: relative Frobenius error ||a - e|| / ||e|| <= 0.01 per output (the model computes in float16"))
    let strict = try CLI.run(["run", plan, "--test-data", data, "--max-relative-error", "1e-5"])
    #expect(strict.status == 1, "\(strict.stdout)")
    #expect(strict.stdout.contains("FAIL last_hidden_state"))
  }
}
