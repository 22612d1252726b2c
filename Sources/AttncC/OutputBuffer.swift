import AttncKernels
import AttncTensor
import CAttncAPI
import Foundation

/// Keeps an output's elements and shape alive while the caller holds them: handed out as the
/// `owner` of an `attnc_tensor`, released by `attnc_tensor_release`. A float32 or int64 output
/// is the interpreter's own array (no copy); other types are converted once to their stored form.
final class OutputBuffer {
  private let floats: [Float]
  private let ints: [Int64]
  private let host: HostTensor?
  let shape: UnsafeMutablePointer<Int64>

  private init(_ tensor: Tensor) {
    floats = tensor.dtype == .float ? tensor.floats.owned : []
    ints = tensor.dtype == .int64 ? tensor.ints : []
    host = tensor.dtype == .float || tensor.dtype == .int64 ? nil : tensor.host
    shape = .allocate(capacity: max(tensor.rank, 1))
    for (axis, dim) in tensor.shape.enumerated() { shape[axis] = Int64(dim) }
  }

  deinit { shape.deallocate() }

  /// The elements' address: the arrays are never changed after `init`, so their storage stays
  /// where it is for the life of this object.
  private var data: UnsafeMutableRawPointer? {
    if let host { return UnsafeMutableRawPointer(mutating: host.storage.base) }
    if !floats.isEmpty { return floats.withUnsafeBufferPointer { $0.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) } } }
    if !ints.isEmpty { return ints.withUnsafeBufferPointer { $0.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) } } }
    return nil
  }

  /// `tensor` (not a string tensor) as a C tensor that owns a reference to its buffer.
  static func handOver(_ tensor: Tensor, name: UnsafePointer<CChar>) -> attnc_tensor {
    let buffer = OutputBuffer(tensor)
    return attnc_tensor(
      name: name, dtype: tensor.dtype.rawValue, rank: Int32(tensor.rank), shape: UnsafePointer(buffer.shape),
      data: buffer.data, byte_count: tensor.dtype.byteCount(elements: tensor.count),
      owner: Unmanaged.passRetained(buffer).toOpaque())
  }
}

@_cdecl("attnc_tensor_release")
public func c_attnc_tensor_release(_ tensor: UnsafeMutablePointer<attnc_tensor>?) {
  guard let tensor, let owner = tensor.pointee.owner else { return }
  Unmanaged<OutputBuffer>.fromOpaque(owner).release()
  tensor.pointee = attnc_tensor()
}
