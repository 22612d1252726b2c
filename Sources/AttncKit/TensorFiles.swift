import AttncONNX
import AttncTensor
import Foundation

/// Reading tensors stored as files: ONNX `TensorProto` `.pb` (the `test_data_set_N` layout).
public enum TensorFiles {
  /// Decodes a serialized `TensorProto`.
  /// - Throws: `AttncError` with the path as context.
  public static func readProto(_ path: String) throws -> HostTensor {
    try withContext(path) {
      let file = try MappedFile(path: path)
      let tensor = try OnnxDecoder.decodeTensor(file.bytes)
      let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
      return try tensor.hostTensor(externalData: ExternalDataResolver(modelDirectory: directory))
    }
  }
}
