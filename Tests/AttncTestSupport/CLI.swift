import Foundation

/// Runs the built `attnc` executable as a subprocess, as a user would.
public enum CLI {
  /// The result of one run.
  public struct Result: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
  }

  /// The `attnc` binary next to the test bundle (`.build/<config>/attnc`).
  public static let executable: URL = {
    let bundle = Bundle.main.bundleURL
    for candidate in [bundle, bundle.deletingLastPathComponent()] {
      let url = candidate.appendingPathComponent("attnc")
      if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    // Fall back to the build folder for the default configuration.
    return Fixtures.packageRoot.appendingPathComponent(".build/debug/attnc")
  }()

  /// Runs `attnc arguments...` and captures its output; `environment` adds to (or overrides)
  /// the test process's variables.
  public static func run(_ arguments: [String], environment: [String: String] = [:]) throws
    -> Result
  {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if !environment.isEmpty {
      process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Result(
      status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData, as: UTF8.self))
  }
}
