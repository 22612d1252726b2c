import Foundation

/// Locates the shared fixtures (`../shared` beside the package, or `$ATTNC_SHARED`) and the
/// package's own files.
public enum Fixtures {
  /// The package root (the folder holding Package.swift).
  public static let packageRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
      url.deleteLastPathComponent()
      if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
        return url
      }
    }
    return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
  }()

  /// The shared folder, if present.
  public static let shared: URL? = {
    if let override = ProcessInfo.processInfo.environment["ATTNC_SHARED"], !override.isEmpty {
      return URL(fileURLWithPath: override)
    }
    return FileManager.default.fileExists(atPath: sharedCandidate.appendingPathComponent("models").path)
      ? sharedCandidate : nil
  }()

  /// `../shared` beside the package: where `shared` looks unless ATTNC_SHARED is set.
  static var sharedCandidate: URL { packageRoot.deletingLastPathComponent().appendingPathComponent("shared") }

  /// True when `../shared` is present; tests that need it are skipped otherwise.
  public static var sharedAvailable: Bool { shared != nil }

  /// The message a skipped test shows, naming where the folder was looked for.
  public static let sharedMissing =
    "needs ../shared beside the package (looked for \(sharedCandidate.appendingPathComponent("models").path)) "
    + "or ATTNC_SHARED; absent in a fresh clone, present in CI"

  /// True when `shared/onnx-node` (the ONNX backend node tests) is present; tests that need it
  /// are skipped otherwise.
  public static var nodeTestsAvailable: Bool {
    guard let shared else { return false }
    return FileManager.default.fileExists(atPath: shared.appendingPathComponent("onnx-node").path)
  }

  /// The message a test skipped for want of `shared/onnx-node` shows.
  public static let nodeTestsMissing =
    "needs ../shared/onnx-node beside the package (looked for \((shared ?? sharedCandidate).appendingPathComponent("onnx-node").path)) "
    + "or ATTNC_SHARED; absent in a fresh clone, present in CI"

  /// `shared/models/<name>/model.onnx`.
  public static func model(_ name: String) -> String {
    (shared ?? packageRoot).appendingPathComponent("models/\(name)/model.onnx").path
  }

  /// Names of the folders under `shared/models`.
  public static var modelNames: [String] {
    guard let shared else { return [] }
    let folder = shared.appendingPathComponent("models").path
    return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
  }

  /// Names of the node tests under `shared/onnx-node`.
  public static var nodeTestNames: [String] {
    guard let shared else { return [] }
    let folder = shared.appendingPathComponent("onnx-node").path
    return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
      .filter { $0.hasPrefix("test_") }.sorted()
  }

  /// Runs `body` on a fresh temporary directory, removed afterwards.
  public static func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    return try body(directory)
  }

  /// A fresh temporary directory, removed by the caller when done.
  public static func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("attnc-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  /// `Tests/Fixtures/exports`: small random-weight Hugging Face models as both torch exporters
  /// write them, with ONNX Runtime's outputs (`scripts/export_fixtures.py`).
  public static let exports = packageRoot.appendingPathComponent("Tests/Fixtures/exports")

  /// Names of the folders under `Tests/Fixtures/exports` that hold a model.
  public static var exportNames: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: exports.path)) ?? []).filter {
      FileManager.default.fileExists(atPath: exports.appendingPathComponent("\($0)/model.onnx").path)
    }.sorted()
  }

  /// Names of the folders under `Tests/Fixtures/exports` that hold an encoder-decoder model as
  /// Optimum splits it (`encoder_model.onnx`, `decoder_model.onnx`, `decoder_with_past_model.onnx`).
  public static var encoderDecoderNames: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: exports.path)) ?? []).filter {
      FileManager.default.fileExists(atPath: exports.appendingPathComponent("\($0)/encoder_model.onnx").path)
    }.sorted()
  }

  /// True when the exported fixtures are present; tests that need them are skipped otherwise.
  public static var exportsAvailable: Bool { !exportNames.isEmpty }

  /// The message a skipped test shows.
  public static let exportsMissing = "needs Tests/Fixtures/exports (python3 scripts/export_fixtures.py writes them)"

  /// `Tests/Fixtures/contrib`: small graphs around ONNX Runtime's contrib attention ops with its
  /// outputs (`scripts/contrib_fixtures.py`, through `export_fixtures.py --contrib-only`).
  public static let contrib = packageRoot.appendingPathComponent("Tests/Fixtures/contrib")

  /// Names of the folders under `Tests/Fixtures/contrib` that hold a model.
  public static var contribNames: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: contrib.path)) ?? []).filter {
      FileManager.default.fileExists(atPath: contrib.appendingPathComponent("\($0)/model.onnx").path)
    }.sorted()
  }

  /// The message a test skipped without them shows.
  public static let contribMissing = "needs Tests/Fixtures/contrib (python3 scripts/export_fixtures.py --contrib-only writes them)"

  /// `Tests/Fixtures/onnx-node-quantization`: the ONNX backend node tests of the quantization ops
  /// (`scripts/export_quantization_node_tests.py`), committed because `shared/onnx-node`
  /// predates them.
  public static let quantizationNodeTests = packageRoot.appendingPathComponent("Tests/Fixtures/onnx-node-quantization")

  /// Names of the cases under `Tests/Fixtures/onnx-node-quantization`.
  public static var quantizationNodeTestNames: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: quantizationNodeTests.path)) ?? [])
      .filter { $0.hasPrefix("test_") }.sorted()
  }
}
