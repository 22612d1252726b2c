/// The one error type of attnc: a code that decides the exit status, a message, and a chain of
/// context naming the file, node and tensor where it happened.
///
/// Throw where the fact is known ("axis 5 is out of range for rank 2"); add context where the name
/// is known (`node 'attn/Softmax' (Softmax)`, then the file). `description` reads outermost first:
/// `model.onnx: node 'attn/Softmax' (Softmax): axis 5 is out of range for rank 2`.
public struct AttncError: Error, Sendable, CustomStringConvertible, Equatable {
  /// A broad classification that decides the exit status.
  public enum Code: String, Hashable, Sendable, CustomStringConvertible {
    /// The model or plan file is malformed or inconsistent.
    case invalidModel
    /// Well-formed input that attnc does not support (op, opset, dtype).
    case unsupported
    /// A file could not be read or written.
    case io
    /// Bad command-line usage.
    case usage
    /// Outputs differ from the reference beyond tolerance.
    case verification
    /// Some models of a batch failed (each reported with its own error); the others converted.
    case batchFailure

    public var description: String { rawValue }

    /// 1 for a verification failure or a batch with failed models, 2 for everything else (bad
    /// input or usage).
    public var exitStatus: Int32 { self == .verification || self == .batchFailure ? 1 : 2 }
  }

  public var code: Code
  public var message: String
  /// Innermost first: "node 'attn_3/Softmax' (Softmax)", then "bert.onnx".
  public var context: [String]

  public init(_ code: Code, _ message: String, context: [String] = []) {
    self.code = code
    self.message = message
    self.context = context
  }

  /// A copy with one more (outer) context entry.
  public func adding(context entry: String) -> AttncError {
    var copy = self
    copy.context.append(entry)
    return copy
  }

  public var description: String { (context.reversed() + [message]).joined(separator: ": ") }

  /// Shorthand for `.invalidModel` errors.
  public static func invalid(_ message: String) -> AttncError { AttncError(.invalidModel, message) }
  /// Shorthand for `.unsupported` errors.
  public static func unsupported(_ message: String) -> AttncError {
    AttncError(.unsupported, message)
  }
}

/// Runs `body`, adding `context` to any `AttncError` it throws; other errors are wrapped as
/// `.invalidModel` with their description.
@inlinable
public func withContext<T>(_ context: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
  do {
    return try body()
  } catch let error as AttncError {
    throw error.adding(context: context())
  } catch {
    throw AttncError(.invalidModel, "\(error)", context: [context()])
  }
}
