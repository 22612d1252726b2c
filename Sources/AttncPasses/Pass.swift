import AttncIR
import AttncKernels
import AttncTensor
import Foundation

/// A named graph transformation. `run` returns how many times it changed the graph (its hits).
public struct Pass: Sendable {
  /// Stable kebab-case name, shown in reports (`fold-constants`).
  public var name: String
  public var run: @Sendable (inout Graph) throws -> Int

  public init(_ name: String, _ run: @escaping @Sendable (inout Graph) throws -> Int) {
    self.name = name
    self.run = run
  }
}

/// Hits per pass across a pipeline run, in first-run order.
public struct RewriteReport: Sendable {
  public var hits: [(pass: String, count: Int)] = []
  /// Fixed-point iterations the pipeline took.
  public var iterations = 0

  public init() {}

  mutating func record(_ pass: String, _ count: Int) {
    if let index = hits.firstIndex(where: { $0.pass == pass }) {
      hits[index].count += count
    } else {
      hits.append((pass, count))
    }
  }
}

/// Runs passes in order, repeatedly, until none changes the graph or `maximumIterations` is
/// reached. Shape inference runs before each pass (rules read facts; they never infer). The
/// graph is verified after each pass in debug builds and under `ATTNC_VERIFY=1`.
public struct Pipeline: Sendable {
  public var passes: [Pass]
  public var maximumIterations: Int

  public init(_ passes: [Pass], maximumIterations: Int = 16) {
    self.passes = passes
    self.maximumIterations = maximumIterations
  }

  /// - Throws: shape-inference errors and invalid-model errors found while folding.
  @discardableResult
  public func run(_ graph: inout Graph) throws -> RewriteReport {
    var report = RewriteReport()
    for iteration in 1...maximumIterations {
      report.iterations = iteration
      var changed = 0
      for pass in passes {
        try InferShapes.run(&graph)
        let hits = try pass.run(&graph)
        report.record(pass.name, hits)
        changed += hits
        if SelfChecks.enabled {
          try withContext("after pass '\(pass.name)'") { try graph.verify() }
        }
      }
      if changed == 0 { break }
    }
    try InferShapes.run(&graph)
    return report
  }
}

/// The canonicalization stage: compute in float32, fold constants and shape arithmetic, drop
/// no-ops, normalise Gemm, remove dead nodes.
public enum Canonicalize {
  public static let pipeline = Pipeline([
    WidenNarrowFloats.pass, ExpandEmbedLayerNormalization.pass, ExpandContribAttention.pass, ExpandMatMulNBits.pass,
    DequantizeGatheredTables.pass, FoldConstants.pass, FoldShapeArithmetic.pass, RemoveNoOps.pass, LowerGemm.pass,
    EliminateDeadNodes.pass,
  ])
}

/// The attention stage, run after canonicalization: every rotary embedding becomes one
/// `FusedRotary` node and every softmax attention one `FusedAttention` node (the replaced nodes
/// are dead and removed).
public enum AttentionMatching {
  public static let pipeline = Pipeline([MatchRotary.pass, MatchAttention.pass, EliminateDeadNodes.pass])
}

/// The lowering stage, run on a copy of the canonical graph just before codegen: fuse spelled-out
/// GELUs, LayerNorms, RMSNorms and SiLUs, attention with the KV-cache append that feeds it, turn dynamically quantized linear layers into `QuantizedMatMul`, give products on flattened views their leading axes back, fuse MatMul epilogues (all to
/// their fixed point), then pack constant weights for attnc's GEMM, which must see the finished
/// epilogues. (Inspect shows the canonical, unfused graph.)
public enum Fusion {
  public static let fusions = Pipeline([
    FuseGelu.pass, FuseNormalizations.pass, FuseSiLU.pass, FuseCacheAppend.pass, EliminateDeadNodes.pass, FuseQuantizedMatMul.pass, EliminateDeadNodes.pass, UnflattenMatMul.pass, RemoveNoOps.pass, EliminateDeadNodes.pass,
    FuseMatMulEpilogues.pass, FoldBatchNormalization.pass, EliminateDeadNodes.pass,
  ])
  public static let packing = packingStage(precision: .float32)

  /// The packing stage with the linear layers' operands at `precision`.
  public static func packingStage(precision: LinearPrecision) -> Pipeline {
    Pipeline([PackWeights.pass(precision: precision), PackConvolutionWeights.pass(precision: precision), EliminateDeadNodes.pass])
  }

  /// Runs `fusions`, then `packing` at `linearPrecision`.
  public static func run(_ graph: inout Graph, linearPrecision: LinearPrecision = .float32) throws {
    try fusions.run(&graph)
    try packingStage(precision: linearPrecision).run(&graph)
  }
}

extension Graph {
  /// Replaces, in order, each node for which `rewrite` returns replacement nodes (writing the
  /// node's outputs); the others stay. Returns how many nodes were replaced.
  mutating func rewriteNodes(_ rewrite: (Node, inout Graph) throws -> [Node]?) rethrows -> Int {
    var hits = 0
    var rewritten: [Node] = []
    for node in nodes {
      guard let replacement = try rewrite(node, &self) else {
        rewritten.append(node)
        continue
      }
      rewritten += replacement
      hits += 1
    }
    nodes = rewritten
    return hits
  }
}
