import AttncCost
import AttncRuntime
import AttncTensor
import Foundation

extension CalibrationInputs {
  /// Loads `folder`: `test_data_set_N` subfolders (each `input_i.pb` in order), a folder of
  /// `input_i.pb`, subfolders of `<input>.npy` files, or one folder of `<input>.npy` files.
  /// - Throws: `.usage` for a folder with none of these, or a sample missing an input.
  public static func load(_ folder: String, for plan: Plan) throws -> CalibrationInputs {
    let names = plan.inputs.map { plan.slots[$0].name }
    let manager = FileManager.default
    var isFolder: ObjCBool = false
    guard manager.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
      throw AttncError(.usage, "--calibration '\(folder)' is not a folder")
    }
    func sample(in directory: String) throws -> [HostTensor]? {
      let url = URL(fileURLWithPath: directory)
      if manager.fileExists(atPath: url.appendingPathComponent("input_0.pb").path) {
        return try names.indices.map { index in
          let path = url.appendingPathComponent("input_\(index).pb").path
          guard manager.fileExists(atPath: path) else {
            throw AttncError(.usage, "calibration sample '\(directory)' has no input_\(index).pb for input '\(names[index])'")
          }
          return try TensorFiles.readProto(path)
        }
      }
      let npys = names.map { url.appendingPathComponent("\($0).npy").path }
      guard npys.contains(where: manager.fileExists) else { return nil }
      return try zip(names, npys).map { name, path in
        guard manager.fileExists(atPath: path) else {
          throw AttncError(.usage, "calibration sample '\(directory)' has no \(name).npy")
        }
        return try NPY.read(path)
      }
    }
    if let one = try sample(in: folder) {
      return CalibrationInputs(samples: [one], source: "measured", description: "1 sample in \(folder)")
    }
    let children = ((try? manager.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    var samples: [[HostTensor]] = []
    for child in children {
      let path = URL(fileURLWithPath: folder).appendingPathComponent(child).path
      var childIsFolder: ObjCBool = false
      guard manager.fileExists(atPath: path, isDirectory: &childIsFolder), childIsFolder.boolValue else { continue }
      if let inputs = try sample(in: path) { samples.append(inputs) }
    }
    guard !samples.isEmpty else {
      throw AttncError(
        .usage,
        "--calibration '\(folder)' holds no samples: give test_data_set_N folders (input_i.pb) or folders of <input>.npy files (inputs: \(names.joined(separator: ", ")))")
    }
    return CalibrationInputs(samples: samples, source: "measured", description: "\(samples.count) samples in \(folder)")
  }
}
