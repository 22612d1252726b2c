import AttncCost
import AttncIR
import AttncKernels
import AttncONNX
import AttncTensor

/// What every model of a batch conversion is converted with, and the canonical text of it that
/// plans record (`Plan.options`) so a later run can tell whether a plan is up to date.
public struct BatchSettings: Sendable {
  /// The policy, its limits, forced variants and calibration, as for one model.
  public var conversion: ConversionOptions
  /// `--input-shape` overrides, applied to every model.
  public var importOptions: ImportOptions
  /// Reconvert even when an up-to-date plan exists.
  public var force: Bool
  /// The options that shape a plan, canonical: `policy=exact variant=performer:m=128,seed=0
  /// input-shape=ids=1,128`. Two settings that give the same plans give the same text: the
  /// variant is spelt with every parameter (defaults filled in, keys sorted) and the input
  /// shapes are sorted by input name.
  public let options: String

  /// - Throws: `AttncError` (`.usage`) naming `--variant` when the variant does not parse.
  public init(
    conversion: ConversionOptions = ConversionOptions(policy: .exact), importOptions: ImportOptions = ImportOptions(),
    force: Bool = false
  ) throws {
    var conversion = conversion
    if let variant = conversion.variant { conversion.variant = try Self.canonicalVariant(variant) }
    self.conversion = conversion
    self.importOptions = importOptions
    self.force = force
    var parts = [conversion.canonical]
    for (name, dims) in importOptions.inputShapes.sorted(by: { $0.key < $1.key }) {
      parts.append("input-shape=\(name)=\(dims.map(\.description).joined(separator: ","))")
    }
    for (name, value) in importOptions.branches.sorted(by: { $0.key < $1.key }) { parts.append("branch=\(name)=\(value)") }
    options = parts.joined(separator: " ")
  }

  /// The policy's name.
  public var policy: String { conversion.policy.rawValue }

  /// `variant` (nil meaning softmax) with its defaults filled in: `performer` becomes
  /// `performer:m=256,seed=0` (whatever the defaults are).
  static func canonicalVariant(_ variant: String?) throws -> String {
    do {
      let (definition, parameters) = try AttentionVariants.parse(variant ?? "softmax")
      return AttentionVariant(name: definition.name, parameters: parameters.values).description
    } catch let error as AttncError {
      throw AttncError(.usage, "--variant '\(variant ?? "")': \(error.message)")
    }
  }
}
