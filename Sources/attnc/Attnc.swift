import ArgumentParser

/// The root command: `attnc <subcommand>`.
struct Attnc: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "attnc",
    abstract: "Compile transformer ONNX models into fast attention plans.",
    discussion: """
      attnc reads an ONNX model (any opset a real exporter writes, external data included),
      canonicalizes it into a typed IR with symbolic shapes, and reports what it found.

      Exit status: 0 ok, 1 verification failure, 2 bad input or usage.

      Examples:
        attnc inspect model.onnx
        attnc inspect model.onnx --format json
        attnc inspect vit.onnx --input-shape pixel_values=1,3,224,224
      """,
    subcommands: [Convert.self, Run.self, Verify.self, Inspect.self, Bench.self, Variants.self])
}
