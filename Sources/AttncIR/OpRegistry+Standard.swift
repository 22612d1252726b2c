/// The standard ONNX ops, gathered from the per-family lists in `Ops/`.
extension OpRegistry {
  static var standardEntries: [Entry] { dataMovementEntries + computeEntries }
}
