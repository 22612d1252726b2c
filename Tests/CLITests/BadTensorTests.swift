import AttncTestSupport
import Foundation
import Testing

/// Weights that lie about their size or point outside the model's folder are refused before
/// anything is read or allocated.
@Suite struct BadTensorTests {
  let directory: URL

  init() throws { directory = try Fixtures.temporaryDirectory() }

  func model(with tensor: OnnxBuilder.Tensor) -> OnnxBuilder {
    OnnxBuilder().input("x", ["4"]).initializer(tensor)
      .node("Add", ["x", tensor.name], ["y"], name: "add").output("y")
  }

  func inspect(_ builder: OnnxBuilder) throws -> (CLI.Result, String) {
    let path = try builder.write(to: directory)
    return (try CLI.run(["inspect", path]), path)
  }

  func expectRefused(_ builder: OnnxBuilder, _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let (result, path) = try inspect(builder)
    #expect(result.status == 2, sourceLocation: sourceLocation)
    #expect(result.stderr == "error: \(path): \(message)\n", sourceLocation: sourceLocation)
  }

  func writeWeights(_ count: Int, name: String = "weights.bin") throws {
    try Data(repeating: 0, count: count).write(to: directory.appendingPathComponent(name))
  }
}

extension BadTensorTests {
  @Test func declaredDimsDoNotMatchData() throws {
    try expectRefused(
      model(with: .init(name: "w", dims: [4], raw: [UInt8](repeating: 0, count: 12))),
      "initializer 'w': tensor 'w': dims [4] of float32 need 16 bytes but raw_data has 12")
  }

  @Test func hugeDeclaredSizeIsRefusedBeforeAllocating() throws {
    try expectRefused(
      model(with: .init(name: "w", dims: [1 << 20, 1 << 20, 1 << 20], raw: [0, 0, 0, 0])),
      "initializer 'w': tensor 'w': dims [1048576, 1048576, 1048576] of float32 overflow the byte count")
  }

  @Test func externalDataWithAnAbsolutePath() throws {
    try expectRefused(
      model(with: .init(name: "w", dims: [4], external: [("location", "/etc/passwd")])),
      "initializer 'w': external data location '/etc/passwd' of tensor 'w' is an absolute path")
  }

  @Test func externalDataEscapingWithDotDot() throws {
    try expectRefused(
      model(with: .init(name: "w", dims: [4], external: [("location", "../secret.bin")])),
      "initializer 'w': external data location '../secret.bin' of tensor 'w' escapes the model's folder")
  }

  @Test func externalDataEscapingThroughASymlink() throws {
    let outside = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: outside) }
    try Data(repeating: 0, count: 16).write(to: outside.appendingPathComponent("secret.bin"))
    try FileManager.default.createSymbolicLink(
      at: directory.appendingPathComponent("link.bin"),
      withDestinationURL: outside.appendingPathComponent("secret.bin"))
    try expectRefused(
      model(with: .init(name: "w", dims: [4], external: [("location", "link.bin")])),
      "initializer 'w': external data location 'link.bin' of tensor 'w' escapes the model's folder")
  }

  @Test func externalDataBeyondTheEndOfTheFile() throws {
    try writeWeights(100)
    try expectRefused(
      model(with: .init(name: "w", dims: [4], external: [("location", "weights.bin"), ("offset", "96"), ("length", "16")])),
      "initializer 'w': external data of tensor 'w' needs bytes 96..<112 but 'weights.bin' has 100 bytes")
  }

  @Test func externalDataLoadsFromTheModelsFolder() throws {
    try writeWeights(64)
    let (result, _) = try inspect(
      model(with: .init(name: "w", dims: [4], external: [("location", "weights.bin"), ("offset", "16"), ("length", "16")])))
    #expect(result.status == 0, "\(result.stderr)")
  }
}
