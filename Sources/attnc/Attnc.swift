import ArgumentParser

/// The root command: `attnc <subcommand>`.
struct Attnc: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "attnc",
    abstract: "Compile transformer ONNX models into fast attention plans.",
    discussion: """
      attnc reads an ONNX model (any opset a real exporter writes, external
      data included), canonicalizes it into a typed IR with symbolic shapes,
      finds every softmax attention, and compiles it into a plan that its
      interpreter runs on CPU. `--variant` substitutes an efficient attention
      (Performer, Linformer, FLuRKA, Fastmax, Scatterbrain, Nyström); `verify`
      measures what that costs in accuracy.

      Exit status: 0 ok, 1 verification failure, 2 bad input or usage.

      Examples:
        attnc inspect model.onnx --seq-len 4096
        attnc convert model.onnx -o model.attnc
        attnc run model.attnc --test-data test_data_set_0
        attnc convert model.onnx -o nys.attnc --variant nystrom
        attnc verify nys.attnc --reference model.onnx --test-data test_data_set_0
        attnc variants
      """,
    subcommands: [Convert.self, Run.self, Verify.self, Inspect.self, Bench.self, Variants.self, CalibrateMachine.self])
}
