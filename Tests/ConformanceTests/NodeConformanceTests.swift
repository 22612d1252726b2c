import AttncKit
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// Every ONNX backend node test in `shared/onnx-node` through the user's path: compile to a plan,
/// encode it to plan-file bytes and decode them back, run every `test_data_set_N`, and compare
/// each output with `output_N.pb` (rtol 1e-3, atol 1e-5; NaN matches NaN; bit-exact for
/// integers, bools and strings). A case that computes in float16 or bfloat16 (attnc widens it to
/// float32, the reference rounds every step) and misses that tolerance is held to the
/// low-precision rule instead (`ParityRule`: relative Frobenius error ≤ 1e-2 per output); the
/// closing lines say how many cases passed so.
///
/// `not-passing.tsv` (beside this file) lists every case that does not pass, with its reason.
/// A listed case that passes fails the test, so the list cannot go stale. When the whole sweep
/// has run, the last case prints the closing line `N passed, N failed, N skipped`.
@Suite struct NodeConformanceTests {
  @Test(.enabled(if: Fixtures.nodeTestsAvailable, Comment(rawValue: Fixtures.nodeTestsMissing)), arguments: Fixtures.nodeTestNames)
  func nodeTest(_ name: String) throws {
    let listed = Conformance.notPassing[name]
    let outcome = Conformance.run(name)
    Conformance.tally.record(outcome, total: Fixtures.nodeTestNames.count)
    switch (outcome, listed) {
    case (.passed, nil), (.passedByLowPrecisionRule, nil), (.failed, _?), (.skipped, _):
      break
    case (.passed, let reason?), (.passedByLowPrecisionRule, let reason?):
      Issue.record("\(name) passes but is listed in not-passing.tsv (\(reason)): remove it from the list")
    case (.failed(let message), nil):
      Issue.record("\(name) fails: \(message)")
    }
  }

  @Test(.enabled(if: Fixtures.nodeTestsAvailable, Comment(rawValue: Fixtures.nodeTestsMissing)))
  func manifestNamesExistingCases() throws {
    let known = Set(Fixtures.nodeTestNames)
    let stale = Conformance.notPassing.keys.filter { !known.contains($0) }.sorted()
    #expect(stale.isEmpty, "not-passing.tsv lists cases that do not exist: \(stale)")
  }
}

enum Conformance {
  static let tolerance = (relative: 1e-3, absolute: 1e-5)

  enum Outcome {
    case passed
    /// Passed by relative Frobenius error, not element by element (a float16/bfloat16 case).
    case passedByLowPrecisionRule
    case failed(String)
    case skipped
  }

  /// `not-passing.tsv`: `case<TAB>reason` per line; `#` starts a comment.
  static let notPassing: [String: String] = {
    let path = Fixtures.packageRoot.appendingPathComponent("Tests/ConformanceTests/not-passing.tsv").path
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
    var result: [String: String] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      let fields = line.split(separator: "\t", maxSplits: 1).map(String.init)
      if let name = fields.first, !name.isEmpty { result[name] = fields.count > 1 ? fields[1] : "" }
    }
    return result
  }()

  static func run(_ name: String) -> Outcome {
    guard let shared = Fixtures.shared else { return .failed("../shared is missing") }
    return run(folder: shared.appendingPathComponent("onnx-node/\(name)"))
  }

  /// One case folder (`model.onnx`, `test_data_set_N`) through convert, encode, decode, run.
  static func run(folder: URL) -> Outcome {
    do {
      let compiled = try Compiler.plan(folder.appendingPathComponent("model.onnx").path).plan
      let bytes = try PlanFile.encode(compiled)
      let plan = try bytes.withUnsafeBytes { try PlanFile.decode($0) }
      let interpreter = try Interpreter(plan: plan)
      let sets = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
        .filter { $0.hasPrefix("test_data_set_") }.sorted()
      var compared = 0
      var byLowPrecisionRule = false
      let lowPrecision = ParityRule.forPlan(plan)
      for set in sets {
        let data = folder.appendingPathComponent(set)
        let inputs = try plan.inputs.indices.map { try TensorFiles.readProto(data.appendingPathComponent("input_\($0).pb").path) }
        let outputs = try interpreter.run(inputs)
        for (index, output) in outputs.enumerated() {
          let path = data.appendingPathComponent("output_\(index).pb").path
          guard FileManager.default.fileExists(atPath: path) else { continue }
          let expected = try TensorFiles.readProto(path)
          guard output.dtype == expected.dtype else {
            return .failed("\(set) output \(index): dtype \(output.dtype), expected \(expected.dtype)")
          }
          guard output.shape == expected.shape else {
            return .failed("\(set) output \(index): shape \(output.shape), expected \(expected.shape)")
          }
          let comparison = Comparison(output, expected, relative: tolerance.relative, absolute: tolerance.absolute)
          if !comparison.withinTolerance {
            guard case .relativeFrobenius = lowPrecision.kind, lowPrecision.accepts(comparison) else {
              return .failed("\(set) output \(index): max abs error \(comparison.maxAbsolute), max rel error \(comparison.maxRelative), relative error \(comparison.relativeFrobenius)")
            }
            byLowPrecisionRule = true
          }
          compared += 1
        }
      }
      // A case with nothing to compare would pass without testing anything.
      guard compared > 0 else { return .failed("no test_data_set_N/output_N.pb to compare with") }
      return byLowPrecisionRule ? .passedByLowPrecisionRule : .passed
    } catch {
      return .failed("\(error)")
    }
  }

  /// Counts outcomes across the parallel cases; the last one prints the closing line.
  final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var passed = 0, failed = 0, skipped = 0, lowPrecision = 0

    func record(_ outcome: Outcome, total: Int) {
      lock.lock()
      defer { lock.unlock() }
      switch outcome {
      case .passed: passed += 1
      case .passedByLowPrecisionRule:
        passed += 1
        lowPrecision += 1
      case .failed: failed += 1
      case .skipped: skipped += 1
      }
      if passed + failed + skipped == total {
        print("node conformance: \(lowPrecision) of the passed cases compute in float16/bfloat16 and passed by relative error ≤ 1e-2")
        print("node conformance: \(passed) passed, \(failed) failed, \(skipped) skipped")
      }
    }
  }

  static let tally = Tally()
}
