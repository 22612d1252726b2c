import AttncIR
import AttncKit
import AttncPasses
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// ONNX Runtime's contrib attention ops (`Tests/Fixtures/contrib`: `com.microsoft` Attention with
/// a cache, MultiHeadAttention with a cache, packed KV and packed QKV, GroupQueryAttention with
/// and without its rotary and on a ragged batch, RotaryEmbedding): `expand-contrib-attention` rewrites each into
/// standard ops, every attention is matched with the mask it has, and the plans agree with ONNX
/// Runtime on every test set (present keys and values included).
@Suite(.serialized) struct ContribAttentionTests {
  static func path(_ name: String) -> String { Fixtures.contrib.appendingPathComponent("\(name)/model.onnx").path }

  static var cases: [String] {
    Fixtures.contribNames.flatMap { name in
      let folder = Fixtures.contrib.appendingPathComponent(name).path
      return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        .filter { $0.hasPrefix("test_data_set_") }.sorted().map { "\(name)/\($0)" }
    }
  }

  /// What each fixture's attention is matched as: query/key-value heads and mask.
  static let expected: [String: (heads: String, mask: String)] = [
    "ortcontrib_attention_past": ("4/4", "causal+key_padding"),
    "ortcontrib_mha_past": ("4/4", "causal+key_padding"),
    "ortcontrib_mha_cross_packed_kv": ("4/4", "additive_bias"),
    "ortcontrib_mha_packed_qkv": ("4/4", "additive_bias"),
    // GroupQueryAttention's keys depend on each batch entry's seqlens_k (a ragged batch): the
    // causal cut and the keys an entry lacks are one bias computed at run time.
    "ortcontrib_gqa": ("4/2", "additive_bias"),
    "ortcontrib_gqa_rotary": ("4/2", "additive_bias"),
    "ortcontrib_gqa_ragged": ("4/2", "additive_bias"),
  ]

  @Test(.enabled(if: !Fixtures.contribNames.isEmpty, Comment(rawValue: Fixtures.contribMissing)), arguments: Fixtures.contribNames)
  func everyContribOpIsExpandedAndEveryAttentionMatched(name: String) throws {
    let model = try ModelLoader.load(Self.path(name))
    let contrib = model.imported.nodes.filter { $0.domain == "com.microsoft" }.count
    #expect(contrib >= 1, "\(name)")
    #expect(!model.canonical.nodes.contains { $0.domain == "com.microsoft" }, "\(name): every contrib op is expanded")
    let report = MatchAttention.analyze(model.canonical)
    #expect(report.declined.isEmpty, "\(name): \(report.declined.map(\.reason))")
    if let (heads, mask) = Self.expected[name] {
      #expect(report.matches.count == contrib, "\(name)")
      #expect(report.matches.allSatisfy { "\($0.spec.qHeads)/\($0.spec.kvHeads)" == heads && $0.spec.maskDescription == mask },
              "\(name): \(report.matches.map { "\($0.spec.qHeads)/\($0.spec.kvHeads) \($0.spec.maskDescription)" })")
    } else {
      #expect(report.matches.isEmpty && name.contains("rotary"), "\(name)")
    }
  }

  @Test(.enabled(if: !Fixtures.contribNames.isEmpty, Comment(rawValue: Fixtures.contribMissing)), arguments: cases)
  func matchesOnnxRuntime(testCase: String) throws {
    let parts = testCase.split(separator: "/").map(String.init)
    let plan = try Compiler.plan(Self.path(parts[0])).plan
    try TestDataSet.expectMatches(plan, Fixtures.contrib.appendingPathComponent(testCase), testCase)
  }

  /// A form attnc does not take stays, and converting names the node and the reason.
  @Test(arguments: [
    ("GroupQueryAttention", [("num_heads", 2), ("kv_num_heads", 1), ("local_window_size", 4)], "local_window_size 4 (sliding-window attention) is not supported"),
    ("MultiHeadAttention", [("num_heads", 2), ("unidirectional", 1)], "query [2, 3] must be [B, S, H·d]"),
  ])
  func unsupportedFormsAreRefusedWithTheReason(_ form: (type: String, attributes: [(String, Int)], reason: String)) throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var builder = OnnxBuilder().input("q", form.type == "GroupQueryAttention" ? ["1", "3", "16"] : ["2", "3"])
    var inputs = ["q"]
    if form.type == "GroupQueryAttention" {
      builder = builder.input("k", ["1", "3", "8"]).input("v", ["1", "3", "8"])
        .initializer(.init(name: "seqlens", dataType: 6, dims: [1], raw: [2, 0, 0, 0]))
        .initializer(.init(name: "total", dataType: 6, dims: [], raw: [3, 0, 0, 0]))
      inputs = ["q", "k", "v", "", "", "seqlens", "total"]
    }
    let path = try builder
      .node(form.type, inputs, ["y"], name: "contrib", attributes: form.attributes.map { ($0.0, Int64($0.1)) }, domain: "com.microsoft")
      .output("y").with(opsets: [("", 17), ("com.microsoft", 1)]).write(to: dir)
    do {
      _ = try Compiler.plan(path)
      Issue.record("\(form.type) converted")
    } catch {
      #expect("\(error)".contains("node 'contrib' (\(form.type))") && "\(error)".contains(form.reason), "\(error)")
    }
  }
}
