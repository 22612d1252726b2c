import AttncCost
import AttncKit
import AttncONNX
import AttncPasses
import AttncRuntime
import AttncTensor
import CAttncAPI
import Foundation

/// `attnc convert` and `attnc inspect --format json` for callers of the C interface.
enum CConversion {
  /// The options of `attnc convert` from a JSON object whose keys are the CLI's option names
  /// with underscores (`seq_len`, `max_output_error`, ...).
  /// - Throws: `.usage` for malformed JSON, an unknown key or a value of the wrong kind.
  static func options(_ text: String) throws -> (conversion: ConversionOptions, imports: ImportOptions, force: Bool) {
    let parsed = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    guard let object = parsed as? [String: Any] else { throw AttncError(.usage, "convert options are not a JSON object: \(text)") }
    var options = ConversionOptions()
    var imports = ImportOptions()
    var force = false
    func string(_ key: String) throws -> String {
      guard let value = object[key] as? String else { throw AttncError(.usage, "convert option '\(key)' must be a string") }
      return value
    }
    func number(_ key: String) throws -> Double {
      guard let value = object[key] as? NSNumber else {
        throw AttncError(.usage, "convert option '\(key)' must be a number")
      }
      guard value.doubleValue >= 0 else { throw AttncError(.usage, "convert option '\(key)' must be ≥ 0") }
      return value.doubleValue
    }
    for key in object.keys.sorted() {
      switch key {
      case "policy":
        let name = try string(key)
        guard let policy = AttentionPolicy(rawValue: name) else {
          throw AttncError(.usage, "unknown policy '\(name)' (known: \(AttentionPolicy.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        options.policy = policy
      case "seq_len":
        if let text = object[key] as? String, text == "auto" {
          options.seqLen = .auto
        } else if let n = object[key] as? Int, n >= 1 {
          options.seqLen = .fixed(n)
        } else {
          throw AttncError(.usage, "seq_len must be a positive number or 'auto'")
        }
      case "max_error": options.limits.maxError = try number(key)
      case "max_output_error": options.limits.maxOutputError = try number(key)
      case "memory_budget": options.limits.memoryBudget = try number(key)
      case "calibration": options.calibration = try string(key)
      case "variant":
        let variant = try string(key)
        do { try VariantCatalog.check(variant) } catch let error as AttncError { throw AttncError(.usage, "variant '\(variant)': \(error.message)") }
        options.variant = variant
      case "layers": options.layers = try LayerOverrides(parsing: try string(key))
      case "token_merge": options.tokenMerge = try TokenMergeSchedule(parsing: try string(key))
      case "search_time":
        options.searchSeconds = try number(key)
        guard options.searchSeconds > 0 else { throw AttncError(.usage, "search_time must be > 0 seconds") }
      case "outputs":
        guard let names = object[key] as? [String], !names.isEmpty else { throw AttncError(.usage, "outputs must be a non-empty list of names") }
        options.judgedOutputs = names
      case "force":
        guard let value = object[key] as? Bool else { throw AttncError(.usage, "force must be true or false") }
        force = value
      case "branch":
        guard let pins = object[key] as? [String: Bool], !pins.isEmpty else {
          throw AttncError(.usage, "branch must map condition inputs to true or false ({\"use_cache_branch\": true})")
        }
        imports.branches = pins
      default:
        throw AttncError(.usage, "unknown convert option '\(key)' (known: policy, seq_len, max_error, max_output_error, memory_budget, calibration, variant, layers, token_merge, search_time, outputs, branch, force)")
      }
    }
    return (options, imports, force)
  }

  /// Converts `model` to a plan at `destination` and returns the plan's inspect JSON.
  static func convert(_ model: String, to destination: String, options text: String) throws -> String {
    let (conversion, imports, force) = try options(text)
    if FileManager.default.fileExists(atPath: destination) && !force {
      throw AttncError(.usage, "'\(destination)' exists; pass force=True to overwrite it")
    }
    // Every core for the runs a policy makes while it measures error, as `attnc convert`; the
    // pool is put back afterwards for the sessions of this process.
    let threads = ProcessSetup.threads
    ProcessSetup.configureThreads(ProcessSetup.cores)
    defer { ProcessSetup.configureThreads(threads) }
    let converted = try Compiler.convert(model, options: imports, conversion: conversion, progress: { fputs($0 + "\n", stderr) })
    try withContext(destination) { try PlanFile.write(converted.plan, to: destination) }
    return try PlanSummary(path: destination).json.rendered()
  }

  /// `attnc inspect path --format json` without a cost-model run.
  static func inspect(_ path: String) throws -> String {
    if PlanSummary.isPlan(path) { return try PlanSummary(path: path).json.rendered() }
    guard FileManager.default.fileExists(atPath: path) else { throw AttncError(.io, "\(path): no such file") }
    let loaded = try ModelLoader.load(path, options: ImportOptions())
    var summary = ModelSummary(loaded)
    summary.tokenMerging = ModelSummary.tokenMergingCheck(loaded.canonical)
    return summary.json.rendered()
  }
}

@_cdecl("attnc_convert")
public func c_attnc_convert(
  _ model: UnsafePointer<CChar>?, _ plan: UnsafePointer<CChar>?, _ options: UnsafePointer<CChar>?,
  _ report: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
  CStatus.guarded {
    guard let model, let plan else { throw AttncError(.usage, "attnc_convert needs a model path and a plan path") }
    let json = try CConversion.convert(String(cString: model), to: String(cString: plan), options: options.map { String(cString: $0) } ?? "{}")
    report?.pointee = cString(json)
  }
}

@_cdecl("attnc_inspect")
public func c_attnc_inspect(_ path: UnsafePointer<CChar>?, _ json: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
  CStatus.guarded {
    guard let path, let json else { throw AttncError(.usage, "attnc_inspect needs a path and a result pointer") }
    json.pointee = cString(try CConversion.inspect(String(cString: path)))
  }
}
