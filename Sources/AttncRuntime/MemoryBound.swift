import AttncTensor
import Foundation

/// Refuses input shapes whose values would need more memory than the machine has, before the
/// run allocates anything: a hostile input (a symbolic dim bound to 10^9, an outer product of
/// two long inputs) is then an error naming the size needed instead of a kill by the kernel's
/// out-of-memory killer.
///
/// Two checks: every value whose shape the bindings resolve (the largest must fit on its own,
/// and its size must not overflow), then the arena plan's size (the float values alive at once).
public enum MemoryBound {
  /// The machine's physical memory in bytes; `ATTNC_MEMORY_LIMIT` (bytes) overrides it.
  public static var limit: Int {
    if let text = ProcessInfo.processInfo.environment["ATTNC_MEMORY_LIMIT"], let bytes = Int(text), bytes > 0 {
      return bytes
    }
    return Int(clamping: ProcessInfo.processInfo.physicalMemory)
  }

  /// Checks each value of `plan` that `bindings` size: its element count and bytes (4 per float
  /// element, 8 per integer one, as the interpreter holds them) must fit in `limit`.
  /// - Throws: `AttncError.invalid` "value 'x' of shape [1000000000, 1000000000] needs 3.6 EiB
  ///   (seq = 1000000000), more than this machine's 23.4 GiB of memory".
  public static func checkValues(_ plan: Plan, bindings: [String: Int], limit: Int = MemoryBound.limit) throws {
    for (slot, value) in plan.slots.enumerated() where plan.constants[slot] == nil {
      var elements = 1
      var shape: [Int] = []
      var overflow = false
      for dim in value.dims {
        guard let size = try dim.checkedValue(bindings) else { break }
        shape.append(size)
        let (product, over) = elements.multipliedReportingOverflow(by: max(size, 0))
        elements = product
        overflow = overflow || over
      }
      guard shape.count == value.dims.count else { continue }
      let width = value.dtype.isFloatingPoint ? 4 : 8
      let (bytes, over) = elements.multipliedReportingOverflow(by: width)
      if overflow || over || bytes > limit {
        let size = overflow || over ? "more than 2^63 bytes" : describe(bytes)
        throw AttncError.invalid(
          "value '\(value.name)' of shape \(shape) needs \(size)\(bound(bindings, value.dims)), more than "
            + "this machine's \(describe(limit)) of memory")
      }
    }
  }

  /// Checks that the arena of `arena` (the float values alive at once) fits in `limit`.
  /// - Throws: `AttncError.invalid` "the run needs a 40.0 GiB arena (seq = 100000), more than …".
  public static func checkArena(_ arena: ArenaPlan, bindings: [String: Int], limit: Int = MemoryBound.limit) throws {
    guard arena.bytes > limit else { return }
    throw AttncError.invalid(
      "the run needs a \(describe(arena.bytes)) arena for the values alive at once\(bound(bindings, nil)), "
        + "more than this machine's \(describe(limit)) of memory")
  }

  /// " (seq = 1000000000)": the bindings of the symbols `dims` mention (all when nil).
  static func bound(_ bindings: [String: Int], _ dims: [Dim]?) -> String {
    let names = dims.map { $0.reduce(into: Set<String>()) { $0.formUnion($1.symbols) } } ?? Set(bindings.keys)
    let parts = names.sorted().compactMap { name in bindings[name].map { "\(name) = \($0)" } }
    return parts.isEmpty ? "" : " (\(parts.joined(separator: ", ")))"
  }

  /// 1536 -> "1.5 KiB", 3 << 30 -> "3.0 GiB".
  static func describe(_ bytes: Int) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
      value /= 1024
      unit += 1
    }
    return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f", value) + " " + units[unit]
  }
}
