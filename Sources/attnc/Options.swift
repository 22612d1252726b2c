import ArgumentParser
import AttncONNX
import AttncTensor
import Foundation

/// `--input-shape name=d0,d1,...`, repeatable.
struct ShapeOptions: ParsableArguments {
  @Option(
    name: .customLong("input-shape"),
    help: ArgumentHelp(
      "Override an input's declared dims: name=d0,d1,... (numbers or symbol names). Repeatable.",
      valueName: "name=dims"))
  var inputShapes: [String] = []

  /// The overrides as import options.
  func importOptions() throws -> ImportOptions {
    var shapes: [String: [Dim]] = [:]
    for text in inputShapes {
      guard let equals = text.lastIndex(of: "=") else {
        throw ValidationError("--input-shape '\(text)' must look like name=d0,d1,...")
      }
      let name = String(text[..<equals])
      let list = text[text.index(after: equals)...]
      guard !name.isEmpty else {
        throw ValidationError("--input-shape '\(text)' has no input name before '='")
      }
      var dims: [Dim] = []
      if !list.isEmpty {
        for part in list.split(separator: ",", omittingEmptySubsequences: false) {
          let token = part.trimmingCharacters(in: .whitespaces)
          if let value = Int(token), value >= 0 {
            dims.append(Dim(value))
          } else if let first = token.first, first.isLetter || first == "_",
            token.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
          {
            dims.append(.symbol(token))
          } else {
            throw ValidationError(
              "--input-shape '\(text)': '\(token)' is not a non-negative number or a symbol name")
          }
        }
      }
      guard shapes[name] == nil else {
        throw ValidationError("--input-shape gives '\(name)' twice")
      }
      shapes[name] = dims
    }
    return ImportOptions(inputShapes: shapes)
  }
}

/// `--format table|json`.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
  case table, json
}
