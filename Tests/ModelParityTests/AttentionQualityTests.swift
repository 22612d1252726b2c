import AttncCost
import AttncKernels
@testable import AttncKit
import AttncTestSupport
import Foundation
import Testing

/// `attnc bench quality` against the numpy reference `../shared/tools/attention_error_check.py`
/// on the captured heads of `../shared/attention-data`: the deterministic settings (pooling
/// Linformer, Nyström, Fastmax, window-only Scatterbrain) must agree to 0.01 either way: they
/// compute the same math, and measured, 17 of their 18 medians agree to the fourth decimal and
/// the last differs by 0.0014 (raw p=1 Fastmax on MiniLM, 14.0627 against 14.0613: float32
/// against float64 on a median of 14). The settings with random draws (features, projections,
/// LSH directions), whose single-draw medians move by about ±0.05 (the numpy tool takes one
/// draw, we pool four), must be no worse than the numpy row + 0.1.
@Suite(.serialized) struct AttentionQualityTests {
  /// The numpy tool's rows: label → median, per dataset; nil when python3 with numpy is missing.
  static let numpy: [String: [String: Double]]? = {
    guard let shared = Fixtures.shared else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", shared.appendingPathComponent("tools/attention_error_check.py").path]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    var result: [String: [String: Double]] = [:]
    var dataset = ""
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init) {
      if line.hasPrefix("== ") {
        dataset = String(line.dropFirst(3).prefix { $0 != ":" })
        continue
      }
      // "label   0.5339  [0.3964, 0.6743]"
      guard !dataset.isEmpty, let bracket = line.firstIndex(of: "[") else { continue }
      let head = line[..<bracket].trimmingCharacters(in: .whitespaces)
      guard let space = head.lastIndex(of: " "), let median = Double(head[head.index(after: space)...]) else { continue }
      result[dataset, default: [:]][head[..<space].trimmingCharacters(in: .whitespaces)] = median
    }
    return result
  }()

  static var available: Bool { Fixtures.sharedAvailable && numpy != nil }

  /// Whether `row`'s setting makes random draws. A variant that takes a seed may still use none
  /// of it: Linformer with pooling projections (`random=0`), and Scatterbrain with neither LSH
  /// buckets nor low-rank features (`b=0, m=0`, the window alone). An unknown parameter counts
  /// as random, the looser check.
  static func drawsRandomly(_ row: AttentionQuality.Row) throws -> Bool {
    guard try AttentionVariants.named(row.variant).usesSeed else { return false }
    switch row.variant {
    case "linformer": return row.parameters["random"] != 0
    case "scatterbrain": return row.parameters["b"] != 0 || row.parameters["m"] != 0
    default: return true
    }
  }

  @Test(.enabled(if: available, "needs ../shared and python3 with numpy (the reference tool)"))
  func everyVariantIsNoWorseThanTheNumpyReference() throws {
    let shared = try #require(Fixtures.shared), numpy = try #require(Self.numpy)
    let datasets = try AttentionQuality.datasets(at: shared.appendingPathComponent("attention-data").path)
    #expect(datasets.count == 2)
    let settings = AttentionQuality.standardSettings.filter { $0.numpyLabel != nil }
    var compared = 0, deterministic = 0
    for dataset in datasets {
      let rows = try AttentionQuality.evaluate(dataset, settings: settings, draws: 4)
      for row in rows {
        guard let label = row.setting.numpyLabel, let reference = numpy[dataset.name]?[label] else {
          Issue.record("numpy tool has no row '\(row.setting.numpyLabel ?? "")' for \(dataset.name)")
          continue
        }
        let comparison = "\(dataset.name) \(row.setting.variant): \(row.median) vs numpy \(reference)"
        if try Self.drawsRandomly(row) {
          #expect(row.median <= reference + 0.1, "\(comparison)")
        } else {
          #expect(abs(row.median - reference) <= 0.01, "\(comparison)")
          deterministic += 1
        }
        compared += 1
      }
    }
    #expect(compared == 2 * settings.count)
    // Two pooling Linformers, three Fastmax, two window-only Scatterbrains, two Nyströms.
    #expect(deterministic == 2 * 9)
  }

  /// `bench quality --budget`: per head the least costly setting within the budget, priced at
  /// that head's density; over budget, exact softmax with the closest setting's error (not a
  /// silent 0).
  @Test func cheapestPerHeadKeepsTheClosestErrorOverBudget() {
    let q = Tensor.float([Float](repeating: 0, count: 3 * 1024 * 64), [1, 3, 1024, 64])
    let dataset = AttentionQuality.Dataset(name: "d", layers: [(q, q, q)])
    func row(_ variant: String, _ errors: [Double], densities: [Double] = []) -> AttentionQuality.Row {
      AttentionQuality.Row(
        dataset: "d", setting: .init(variant), variant: variant, parameters: [:], median: 0, p10: 0, p90: 0, heads: 3,
        headErrors: [errors], headDensities: densities.isEmpty ? [] : [densities])
    }
    let rows = [
      row("softmax:prec=bf16", [0.02, 0.001, 0.001]), row("blocksparse", [0.5, 0.004, 0.002], densities: [0.9, 0.8, 0.2]),
    ]
    let choices = AttentionQuality.cheapest(rows, dataset: dataset, budget: 0.01)
    // Head 1: bfloat16 (about half the cost) beats block-sparse at density 0.8; head 2: density 0.2 wins.
    #expect(choices.map(\.setting) == ["softmax", "softmax:prec=bf16", "blocksparse"])
    #expect(choices[0].error == 0 && choices[0].closest?.setting == "softmax:prec=bf16" && choices[0].closest?.error == 0.02)
    #expect(choices[1].error == 0.001 && choices[1].closest == nil && abs(choices[1].cost - 0.5) < 0.01)
    #expect(choices[2].density == 0.2 && choices[2].cost > 0.19 && choices[2].cost < 0.25)
  }
}
