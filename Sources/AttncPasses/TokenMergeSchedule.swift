import AttncTensor
import Foundation

/// `--token-merge`: how many tokens each transformer block merges away.
///
/// - `8`: the same `r` in every block.
/// - `8:decreasing`: ToMe's decreasing schedule, `2r` in the first block falling linearly to 0 in
///   the last (about the same total as the constant one, merged earlier).
/// - `16,16,8,0`: one `r` per block (missing blocks merge nothing).
/// - `auto`: the cost model picks `r` per block within the error budget.
public struct TokenMergeSchedule: Sendable, Equatable, CustomStringConvertible {
  public enum Form: Sendable, Equatable {
    case constant(Int)
    case decreasing(Int)
    case list([Int])
    case auto
  }

  public var form: Form

  public init(_ form: Form) { self.form = form }

  /// - Throws: `.usage` naming the text: "--token-merge 'x': expected r, r:decreasing, a list
  ///   r1,r2,… or auto".
  public init(parsing text: String) throws {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    func count(_ part: Substring) throws -> Int {
      guard let value = Int(part.trimmingCharacters(in: .whitespaces)), value >= 0 else {
        throw AttncError(.usage, "--token-merge '\(text)': '\(part)' is not a non-negative token count (expected r, r:decreasing, a list r1,r2,… or auto)")
      }
      return value
    }
    if trimmed == "auto" {
      form = .auto
    } else if trimmed.hasSuffix(":decreasing") {
      form = .decreasing(try count(trimmed.dropLast(":decreasing".count)))
    } else if trimmed.contains(",") {
      form = .list(try trimmed.split(separator: ",", omittingEmptySubsequences: false).map(count))
    } else {
      form = .constant(try count(Substring(trimmed)))
    }
  }

  /// `r` per block for a model of `blocks` blocks; nil for `auto` (the cost model decides).
  public func rates(blocks: Int) -> [Int]? {
    switch form {
    case .constant(let r): return Array(repeating: r, count: blocks)
    case .decreasing(let r):
      guard blocks > 1 else { return Array(repeating: r, count: blocks) }
      return (0..<blocks).map { l in Int((2 * Double(r) * Double(blocks - 1 - l) / Double(blocks - 1)).rounded()) }
    case .list(let list): return (0..<blocks).map { $0 < list.count ? list[$0] : 0 }
    case .auto: return nil
    }
  }

  public var description: String {
    switch form {
    case .constant(let r): String(r)
    case .decreasing(let r): "\(r):decreasing"
    case .list(let list): list.map(String.init).joined(separator: ",")
    case .auto: "auto"
    }
  }
}
