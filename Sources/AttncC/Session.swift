import CAttncAPI
import AttncKernels
import AttncKit
import AttncRuntime
import AttncTensor
import Foundation

/// What `attnc_session_open` hands out: a plan read once, its interpreter, and the C strings that
/// describe its inputs and outputs. The interpreter is not reentrant, so `run` holds `lock`.
final class Session {
  /// One input or output as C strings the session owns.
  final class Port {
    let name: UnsafeMutablePointer<CChar>
    let dtype: Int32
    let dims: UnsafeMutablePointer<UnsafePointer<CChar>?>
    let rank: Int

    init(_ slot: Plan.Slot) {
      name = strdup(slot.name)!
      dtype = slot.dtype.rawValue
      rank = slot.dims.count
      dims = .allocate(capacity: max(rank, 1))
      for (axis, dim) in slot.dims.enumerated() { dims[axis] = UnsafePointer(strdup(dim.description)) }
    }

    deinit {
      free(name)
      for axis in 0..<rank { free(UnsafeMutablePointer(mutating: dims[axis])) }
      dims.deallocate()
    }
  }

  let path: String
  let plan: Plan
  let interpreter: Interpreter
  let inputs: [Port]
  let outputs: [Port]
  let lock = NSLock()

  init(path: String) throws {
    self.path = path
    let plan = try withContext(path) { try PlanFile.read(path) }
    self.plan = plan
    interpreter = try withContext(path) { try Interpreter(plan: plan) }
    inputs = plan.inputs.map { Port(plan.slots[$0]) }
    outputs = plan.outputs.map { Port(plan.slots[$0]) }
  }

  /// The caller's tensors in the plan's input order, read once into the interpreter's compute
  /// form (float32 and int64 straight from the caller's buffer).
  /// - Throws: `.usage` naming an unknown, repeated or missing input, `.invalidModel` for a
  ///   buffer whose size does not match its dtype and shape.
  func feeds(_ given: UnsafeBufferPointer<attnc_tensor>) throws -> [Tensor] {
    let names = inputs.map { String(cString: $0.name) }
    var feeds = [Tensor?](repeating: nil, count: names.count)
    for tensor in given {
      let name = tensor.name.map { String(cString: $0) } ?? ""
      guard let index = names.firstIndex(of: name) else {
        throw AttncError(.usage, "'\(name)' is not an input of the plan (inputs: \(names.map { "'\($0)'" }.joined(separator: ", ")))")
      }
      guard feeds[index] == nil else { throw AttncError(.usage, "input '\(name)' is given twice") }
      feeds[index] = try withContext("input '\(name)'") { try Self.tensor(tensor) }
    }
    if let missing = feeds.indices.first(where: { feeds[$0] == nil }) {
      throw AttncError(.usage, "no value for input '\(names[missing])'")
    }
    return feeds.compactMap { $0 }
  }

  /// One caller tensor in compute form.
  static func tensor(_ c: attnc_tensor) throws -> Tensor {
    guard let dtype = DType(rawValue: c.dtype), dtype != .string else {
      throw AttncError.unsupported("element type \(c.dtype) cannot be passed through the C interface")
    }
    guard c.rank >= 0, c.rank == 0 || c.shape != nil else { throw AttncError.invalid("rank \(c.rank) without a shape") }
    let shape = (0..<Int(c.rank)).map { Int(c.shape![$0]) }
    let count = try HostTensor.elementCount(shape)
    let bytes = dtype.byteCount(elements: count)
    guard c.byte_count == bytes, bytes == 0 || c.data != nil else {
      throw AttncError.invalid("has \(c.byte_count) bytes but dims \(shape) of \(dtype) need \(bytes)")
    }
    let data = UnsafeRawPointer(c.data)
    switch dtype {
    case .float:
      let floats = data.map { Array(UnsafeBufferPointer(start: $0.assumingMemoryBound(to: Float.self), count: count)) } ?? []
      return Tensor(dtype: dtype, shape: shape, floats: FloatBuffer(floats))
    case .int64:
      let ints = data.map { Array(UnsafeBufferPointer(start: $0.assumingMemoryBound(to: Int64.self), count: count)) } ?? []
      return Tensor(dtype: dtype, shape: shape, ints: ints)
    default:
      let storage = data.map { ByteStorage(borrowing: $0, count: bytes, owner: Borrowed()) } ?? ByteStorage(zeros: 0)
      return Tensor(try HostTensor(dtype: dtype, shape: shape, storage: storage))
    }
  }

  /// Marks storage that borrows the caller's buffer for the length of one call.
  final class Borrowed {}

  /// Runs the plan (one run at a time per session) and returns the outputs at `wanted`.
  func run(_ feeds: [Tensor], wanted: [Int]) throws -> [Tensor] {
    lock.lock()
    defer { lock.unlock() }
    let results = try interpreter.run(tensors: feeds)
    return wanted.map { results[$0] }
  }

  /// The indices of `names` among the outputs.
  /// - Throws: `.usage` for a name that is not an output.
  func outputIndices(_ names: [String]) throws -> [Int] {
    let all = outputs.map { String(cString: $0.name) }
    return try names.map { name in
      guard let index = all.firstIndex(of: name) else {
        throw AttncError(.usage, "'\(name)' is not an output of the plan (outputs: \(all.map { "'\($0)'" }.joined(separator: ", ")))")
      }
      return index
    }
  }
}

@_cdecl("attnc_session_open")
public func c_attnc_session_open(
  _ path: UnsafePointer<CChar>?, _ threads: Int32, _ handle: UnsafeMutablePointer<OpaquePointer?>?
) -> Int32 {
  CStatus.guarded {
    guard let path, let handle else { throw AttncError(.usage, "attnc_session_open needs a path and a session pointer") }
    if threads > 0 { ProcessSetup.configureThreads(Int(threads)) }
    let opened = try Session(path: String(cString: path))
    handle.pointee = OpaquePointer(Unmanaged.passRetained(opened).toOpaque())
  }
}

@_cdecl("attnc_session_close")
public func c_attnc_session_close(_ handle: OpaquePointer?) {
  guard let handle else { return }
  Unmanaged<Session>.fromOpaque(UnsafeRawPointer(handle)).release()
}

/// The session behind a handle (borrowed for the call).
func borrowedSession(_ handle: OpaquePointer?) throws -> Session {
  guard let handle else { throw AttncError(.usage, "no session (NULL handle)") }
  return Unmanaged<Session>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

@_cdecl("attnc_session_input_count")
public func c_attnc_session_input_count(_ handle: OpaquePointer?) -> Int32 {
  Int32((try? borrowedSession(handle).inputs.count) ?? 0)
}

@_cdecl("attnc_session_output_count")
public func c_attnc_session_output_count(_ handle: OpaquePointer?) -> Int32 {
  Int32((try? borrowedSession(handle).outputs.count) ?? 0)
}

/// Fills `port` with `ports[index]`.
func describe(_ ports: [Session.Port], _ index: Int32, _ port: UnsafeMutablePointer<attnc_port>?, kind: String) throws {
  guard let port else { throw AttncError(.usage, "no port to fill (NULL)") }
  guard index >= 0, Int(index) < ports.count else {
    throw AttncError(.usage, "\(kind) \(index) is out of range (the plan has \(ports.count))")
  }
  let p = ports[Int(index)]
  port.pointee = attnc_port(
    name: UnsafePointer(p.name), dtype: p.dtype, rank: Int32(p.rank), dims: UnsafePointer(p.dims))
}

@_cdecl("attnc_session_input")
public func c_attnc_session_input(_ handle: OpaquePointer?, _ index: Int32, _ port: UnsafeMutablePointer<attnc_port>?) -> Int32 {
  CStatus.guarded { try describe(borrowedSession(handle).inputs, index, port, kind: "input") }
}

@_cdecl("attnc_session_output")
public func c_attnc_session_output(_ handle: OpaquePointer?, _ index: Int32, _ port: UnsafeMutablePointer<attnc_port>?) -> Int32 {
  CStatus.guarded { try describe(borrowedSession(handle).outputs, index, port, kind: "output") }
}

@_cdecl("attnc_session_run")
public func c_attnc_session_run(
  _ handle: OpaquePointer?, _ inputs: UnsafePointer<attnc_tensor>?, _ inputCount: Int,
  _ outputNames: UnsafePointer<UnsafePointer<CChar>?>?, _ outputCount: Int, _ outputs: UnsafeMutablePointer<attnc_tensor>?
) -> Int32 {
  CStatus.guarded {
    let session = try borrowedSession(handle)
    guard let outputs else { throw AttncError(.usage, "no output array (NULL)") }
    try withContext(session.path) { () throws -> Void in
      guard inputCount == 0 || inputs != nil else { throw AttncError(.usage, "\(inputCount) inputs but no input array (NULL)") }
      let feeds = try session.feeds(UnsafeBufferPointer(start: inputs, count: inputCount))
      let wanted: [Int]
      if let outputNames {
        wanted = try session.outputIndices((0..<outputCount).map { outputNames[$0].map { String(cString: $0) } ?? "" })
      } else {
        guard outputCount == session.outputs.count else {
          throw AttncError(.usage, "room for \(outputCount) outputs but the plan has \(session.outputs.count)")
        }
        wanted = Array(session.outputs.indices)
      }
      let results = try session.run(feeds, wanted: wanted)
      if let text = zip(wanted, results).first(where: { $0.1.dtype == .string }) {
        throw AttncError.unsupported("output '\(String(cString: session.outputs[text.0].name))' holds strings, which the C interface does not pass")
      }
      for (position, (index, tensor)) in zip(wanted, results).enumerated() {
        outputs[position] = OutputBuffer.handOver(tensor, name: session.outputs[index].name)
      }
    }
  }
}
