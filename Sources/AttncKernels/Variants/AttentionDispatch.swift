import AttncTensor

/// A per-layer table from key length to variant (`--seq-len auto`): the interpreter picks the
/// variant by each call's actual number of keys, so short inputs run exact attention and long
/// ones the approximation past the predicted crossover.
///
/// Text form, as plans and `inspect` show it: ranges of key lengths, each with a variant in
/// `AttentionVariants.parse` form, covering 1... without gaps:
/// `1-2047:softmax 2048-:performer:m=256,seed=7`.
public struct AttentionDispatch: Sendable, Equatable, CustomStringConvertible {
  /// Runs `variant` from `minimumKeys` keys up to the next entry's minimum.
  public struct Entry: Sendable, Equatable {
    public var minimumKeys: Int
    public var variant: String
    public init(minimumKeys: Int, variant: String) {
      self.minimumKeys = minimumKeys
      self.variant = variant
    }
  }

  /// Sorted by `minimumKeys`, the first at 1, no two alike in a row.
  public private(set) var entries: [Entry]

  /// Merges neighbouring entries with the same variant.
  /// - Throws: an empty table, one not starting at 1, or minimums not increasing.
  public init(_ entries: [Entry]) throws {
    guard let first = entries.first, first.minimumKeys == 1 else {
      throw AttncError.invalid("an attention dispatch table must start at 1 key")
    }
    var merged: [Entry] = []
    for entry in entries {
      if let last = merged.last {
        guard entry.minimumKeys > last.minimumKeys else {
          throw AttncError.invalid("attention dispatch ranges must increase (\(entry.minimumKeys) after \(last.minimumKeys))")
        }
        if last.variant == entry.variant { continue }
      }
      merged.append(entry)
    }
    self.entries = merged
  }

  /// Parses the text form.
  /// - Throws: a range that is not `A-B:variant` or `A-:variant`, gaps, or an unknown variant.
  public init(parsing text: String) throws {
    var entries: [Entry] = []
    var expected = 1
    let parts = text.split(separator: " ")
    for (index, part) in parts.enumerated() {
      let pieces = part.split(separator: ":", maxSplits: 1)
      let bounds = pieces.first?.split(separator: "-", omittingEmptySubsequences: false) ?? []
      guard pieces.count == 2, bounds.count == 2, let low = Int(bounds[0]) else {
        throw AttncError.invalid("attention dispatch range '\(part)' is not FROM-TO:variant or FROM-:variant")
      }
      guard low == expected else {
        throw AttncError.invalid("attention dispatch range '\(part)' should start at \(expected)")
      }
      _ = try AttentionVariants.parse(String(pieces[1]))
      entries.append(Entry(minimumKeys: low, variant: String(pieces[1])))
      if index == parts.count - 1 {
        guard bounds[1].isEmpty else { throw AttncError.invalid("the last attention dispatch range '\(part)' must be open (FROM-:variant)") }
      } else {
        guard let high = Int(bounds[1]), high >= low else {
          throw AttncError.invalid("attention dispatch range '\(part)' needs an upper bound ≥ \(low)")
        }
        expected = high + 1
      }
    }
    try self.init(entries)
  }

  /// The variant text for a call with `keys` keys.
  public func variant(forKeys keys: Int) -> String {
    entries.last { $0.minimumKeys <= max(keys, 1) }?.variant ?? entries[0].variant
  }

  public var description: String {
    entries.enumerated().map { index, entry in
      let high = index + 1 < entries.count ? String(entries[index + 1].minimumKeys - 1) : ""
      return "\(entry.minimumKeys)-\(high):\(entry.variant)"
    }.joined(separator: " ")
  }
}
