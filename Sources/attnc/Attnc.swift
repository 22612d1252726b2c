import ArgumentParser

/// The root command: `attnc <subcommand>`.
struct Attnc: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "attnc",
    abstract: "Compile transformer ONNX models into fast attention plans.",
    discussion: """
      attnc reads an ONNX model (any opset a real exporter writes, external \
      data included), canonicalizes it into a typed IR with symbolic shapes, \
      finds every softmax attention, and compiles it into a plan that its \
      interpreter runs on CPU. A cost model picks each attention layer's \
      variant (exact softmax in float32, bfloat16 or int8 products, block-sparse \
      or skip-softmax, Performer, Linformer, FLuRKA, Fastmax, Scatterbrain, \
      Nyström) and the linear layers' precision from predicted time on this \
      machine and measured error, under a policy: exact, fastest, balanced \
      (default) or accurate. `verify` measures what a plan costs in accuracy; \
      `attnc variants` lists the variants.

      Exit status: 0 ok, 1 verification failure (or a failed model in a batch), \
      2 bad input or usage.

      Examples:
        attnc inspect model.onnx --seq-len 4096
        attnc convert model.onnx -o model.attnc --policy exact
        attnc convert model.onnx -o fast.attnc --calibration test_data/
        attnc convert model.onnx -o gpt.attnc --policy fastest --seq-len 8192
        attnc run model.attnc --test-data test_data_set_0
        attnc verify fast.attnc --reference model.onnx --test-data test_data_set_0
        attnc convert zoo/ -o plans/ --jobs 2 --report report.json
        attnc calibrate-machine
        attnc variants
      """,
    subcommands: [Convert.self, Run.self, Verify.self, Inspect.self, Bench.self, Variants.self, CalibrateMachine.self])
}
