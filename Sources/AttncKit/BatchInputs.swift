import AttncONNX
import AttncTensor
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// One model of a batch: where it is and where its plan goes, relative to the output folder.
public struct BatchInput: Sendable, Equatable {
  /// The model file, as found (relative to the current folder when the argument was).
  public var path: String
  /// The model's path below the folder or glob base it was found under (`bert/model.onnx`);
  /// its plan is written to the same path below the output folder, `.onnx` replaced by
  /// `.attnc`.
  public var relativePath: String
  /// The model file's size plus the sizes of the external data files it names.
  public var bytes: Int

  /// `directory/<relativePath>` with `.onnx` replaced by `.attnc` (appended to other names).
  public func output(in directory: String) -> String {
    let base = relativePath.hasSuffix(".onnx") ? String(relativePath.dropLast(5)) : relativePath
    return (directory.hasSuffix("/") ? directory : directory + "/") + base + ".attnc"
  }
}

/// Finds the models a batch conversion converts.
public enum BatchInputs {
  /// The models that `arguments` name, sorted by relative path.
  ///
  /// - A folder: every `.onnx` file below it, recursively (hidden files and folders skipped);
  ///   relative paths start below the folder. Data files (external weights, test data) are
  ///   never models: only names ending in `.onnx` are.
  /// - A file: that file, whatever its name. Files named directly are taken relative to the
  ///   deepest folder holding all of them, so `zoo/a/model.onnx zoo/b/model.onnx` (a glob the
  ///   shell expanded) become `a/model.onnx` and `b/model.onnx`; a single file, its name.
  /// - A glob (`zoo/*/model.onnx`, quoted so the shell leaves it): each match, a folder
  ///   searched as above, a file only if it ends in `.onnx`; relative paths start below the
  ///   glob's leading part without wildcards (`zoo/`).
  ///
  /// A model named twice is converted once.
  /// - Throws: `AttncError` (`.usage`) naming the argument: a path that does not exist, a
  ///   glob that matches nothing, a folder with no `.onnx` file, two models that would be
  ///   written to the same plan.
  public static func discover(_ arguments: [String]) throws -> [BatchInput] {
    var found: [BatchInput] = []
    let files = arguments.filter { argument in
      var isFolder: ObjCBool = false
      return FileManager.default.fileExists(atPath: argument, isDirectory: &isFolder)
        && !isFolder.boolValue
    }
    let filesBase = commonFolder(files)
    for argument in arguments {
      let before = found.count
      var isFolder: ObjCBool = false
      if FileManager.default.fileExists(atPath: argument, isDirectory: &isFolder) {
        if isFolder.boolValue {
          found += models(under: argument, relativeTo: argument)
          guard found.count > before else {
            throw AttncError(.usage, "'\(argument)': no .onnx model in this folder")
          }
        } else {
          found.append(input(argument, relativePath: relative(absolute(argument), to: filesBase)))
        }
      } else if isPattern(argument) {
        let matches = matches(argument)
        guard !matches.isEmpty else {
          throw AttncError(.usage, "'\(argument)' matches no file")
        }
        let base = patternBase(argument)
        for match in matches {
          var isFolder: ObjCBool = false
          guard FileManager.default.fileExists(atPath: match, isDirectory: &isFolder) else {
            continue
          }
          if isFolder.boolValue {
            found += models(under: match, relativeTo: base)
          } else if match.hasSuffix(".onnx") {
            found.append(input(match, relativePath: relative(match, to: base)))
          }
        }
        guard found.count > before else {
          throw AttncError(.usage, "'\(argument)' matches no .onnx model")
        }
      } else {
        throw AttncError(.usage, "'\(argument)' does not exist")
      }
    }
    return try unique(found)
  }

  /// Whether `argument` holds a glob wildcard (`*`, `?` or `[`).
  public static func isPattern(_ argument: String) -> Bool {
    argument.contains { $0 == "*" || $0 == "?" || $0 == "[" }
  }

  // MARK: - Walking folders

  /// Every `.onnx` file below `folder`, with paths relative to `base`.
  static func models(under folder: String, relativeTo base: String) -> [BatchInput] {
    let root = folder.count > 1 && folder.hasSuffix("/") ? String(folder.dropLast()) : folder
    guard
      let walker = FileManager.default.enumerator(
        at: URL(fileURLWithPath: root), includingPropertiesForKeys: [.isDirectoryKey],
        options: [.skipsHiddenFiles])
    else { return [] }
    var found: [BatchInput] = []
    let rootURL = URL(fileURLWithPath: root).standardizedFileURL.path
    for case let url as URL in walker where url.lastPathComponent.hasSuffix(".onnx") {
      var isFolder: ObjCBool = false
      guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder),
        !isFolder.boolValue
      else { continue }
      // The walker gives absolute URLs; keep the user's spelling of the folder.
      let below = String(url.standardizedFileURL.path.dropFirst(rootURL.count + 1))
      let path = root.hasSuffix("/") ? root + below : root + "/" + below
      found.append(input(path, relativePath: relative(path, to: base)))
    }
    return found
  }

  /// `path` with the leading `base/` removed (its name when it is not below `base`).
  static func relative(_ path: String, to base: String) -> String {
    let prefix = base.hasSuffix("/") ? base : base + "/"
    if base == "." || base.isEmpty {
      return path.hasPrefix("./") ? String(path.dropFirst(2)) : path
    }
    return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : lastComponent(path)
  }

  /// The deepest folder holding every file of `paths`, absolute ("/" at worst).
  static func commonFolder(_ paths: [String]) -> String {
    let folders = paths.map {
      URL(fileURLWithPath: absolute($0)).deletingLastPathComponent().pathComponents
    }
    guard var common = folders.first else { return "/" }
    for folder in folders.dropFirst() {
      common = Array(zip(common, folder).prefix { $0 == $1 }.map(\.0))
    }
    let joined = common.joined(separator: "/")
    return joined.hasPrefix("//") ? String(joined.dropFirst()) : (joined.isEmpty ? "/" : joined)
  }

  /// `path` made absolute against the current folder, with `.` and `..` resolved.
  static func absolute(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
  }

  static func lastComponent(_ path: String) -> String {
    URL(fileURLWithPath: path).lastPathComponent
  }

  // MARK: - Globs

  /// The paths matching `pattern`, sorted (POSIX `glob`).
  static func matches(_ pattern: String) -> [String] {
    var result = glob_t()
    defer { globfree(&result) }
    guard glob(pattern, 0, nil, &result) == 0 else { return [] }
    return (0..<Int(result.gl_pathc)).compactMap { index in
      result.gl_pathv[index].map { String(cString: $0) }
    }
  }

  /// The leading path components of `pattern` that hold no wildcard: `zoo` for
  /// `zoo/*/model.onnx`, `.` for `*.onnx`, `/` for `/*.onnx`.
  static func patternBase(_ pattern: String) -> String {
    let parts = pattern.split(separator: "/", omittingEmptySubsequences: false)
    let fixed = parts.dropLast().prefix { !isPattern(String($0)) }
    let base = fixed.joined(separator: "/")
    if base.isEmpty { return pattern.hasPrefix("/") ? "/" : "." }
    return base
  }

  // MARK: - Sizes and duplicates

  /// `path` as a batch input, with its size and its external data's.
  static func input(_ path: String, relativePath: String) -> BatchInput {
    BatchInput(
      path: path, relativePath: relativePath,
      bytes: fileSize(path) + externalDataSize(path))
  }

  /// A model file of this size or more is assumed to hold its own weights: the ONNX files that
  /// keep weights outside are small, and decoding a large one only to look is not worth it.
  static let externalDataScanLimit = 16 << 20

  /// The total size of the distinct external data files that the initializers of the model
  /// at `path` name; 0 for a large model, one that does not decode, or one with no external
  /// data. Used only to estimate memory.
  static func externalDataSize(_ path: String) -> Int {
    let size = fileSize(path)
    guard size > 0, size < externalDataScanLimit,
      let file = try? MappedFile(path: path),
      let model = try? OnnxDecoder.decodeModel(file.bytes)
    else { return 0 }
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
    var locations = Set<String>()
    for tensor in model.graph.initializers {
      for entry in tensor.externalData where entry.key == "location" {
        locations.insert(entry.value)
      }
    }
    return locations.reduce(0) { $0 + fileSize(folder.appendingPathComponent($1).path) }
  }

  static func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
  }

  /// `inputs` without repeats of the same file, sorted by relative path.
  /// - Throws: `.usage` when two different files would be written to the same plan.
  static func unique(_ inputs: [BatchInput]) throws -> [BatchInput] {
    var byRelative: [String: BatchInput] = [:]
    var seenFiles = Set<String>()
    for input in inputs {
      let identity = URL(fileURLWithPath: input.path).resolvingSymlinksInPath().path
      guard seenFiles.insert(identity).inserted else { continue }
      let key = input.output(in: "")
      if let other = byRelative[key] {
        throw AttncError(
          .usage,
          "'\(other.path)' and '\(input.path)' would both be converted to '\(key.dropFirst())'; "
            + "pass their folder instead so their relative paths differ")
      }
      byRelative[key] = input
    }
    return byRelative.values.sorted { $0.relativePath < $1.relativePath }
  }
}

/// `--shard i/n`: the deterministic `i`-th of `n` parts of a sorted input list, so `n`
/// independent tasks (a Slurm or Kubernetes job array) convert every input exactly once with
/// no coordination.
public struct BatchShard: Sendable, Equatable {
  /// 1-based.
  public var index: Int
  public var count: Int

  /// Parses `i/n` with `1 <= i <= n`.
  /// - Throws: `AttncError` (`.usage`) "--shard '0/3' must be i/n with 1 <= i <= n".
  public init(parsing text: String) throws {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1,
      (1...count).contains(index)
    else {
      throw AttncError(.usage, "--shard '\(text)' must be i/n with 1 <= i <= n (such as 2/8)")
    }
    self.index = index
    self.count = count
  }

  /// Every `count`-th element of `items` starting at position `index - 1`: shards differ in
  /// size by at most one and, together, hold each element once. Depends only on `items`'
  /// order, which `BatchInputs.discover` makes the same on every machine.
  public func select<T>(_ items: [T]) -> [T] {
    items.enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
  }
}
