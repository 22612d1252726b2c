import AttncCost
import AttncPasses

extension AttentionLayer {
  /// The matched attentions of a loaded model (matching a copy of its canonical graph).
  public static func all(in model: LoadedModel) throws -> [AttentionLayer] {
    var graph = model.canonical
    try AttentionMatching.pipeline.run(&graph)
    return all(in: graph)
  }
}
