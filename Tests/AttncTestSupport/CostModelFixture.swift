import AttncCost
import AttncKit
import Foundation

/// A machine profile for tests: plain rates and every fitted weight 1, so predictions are the
/// cost formulas over those rates (tests then check the policy's logic, not this machine's
/// timings, and do not spend half a minute measuring).
public enum CostModelFixture {
  public static func profile() -> MachineProfile {
    MachineProfile(
      threads: ProcessInfo.processInfo.activeProcessorCount, measuredAt: "2026-01-01T00:00:00Z",
      gemm: [.init(m: 512, n: 768, k: 768, flopsPerSecond: 1e11)], bandwidthBytesPerSecond: 1e10,
      exponentialsPerSecond: 1e9, callOverheadSeconds: 1e-6)
  }

  /// Writes `profile` (default `profile()`) to a fresh temporary file and returns its path.
  public static func profilePath(_ profile: MachineProfile = profile()) throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("attnc-profile-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let path = folder.appendingPathComponent("machine.json").path
    try profile.save(to: path)
    return path
  }

  /// The bundled sample model (no ../shared needed).
  public static var sampleModel: String { Fixtures.packageRoot.appendingPathComponent("samples/bert_tiny/model.onnx").path }
}
