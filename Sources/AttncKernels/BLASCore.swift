import COpenBLAS
import Foundation

/// Which OpenBLAS kernel family ("core") runs the GEMMs, and whether a faster one fits this CPU.
///
/// OpenBLAS built with DYNAMIC_ARCH picks its core from CPUID once, when the library loads.
/// Version 0.3.21 (Debian 12) does not recognise recent Xeons (Sapphire Rapids) and falls back to
/// `Prescott`, its SSE3 kernels: sgemm then runs 4-5x slower than with `SkylakeX` (measured on
/// this project's CI machine: 512x384x384 at 2 threads, 29 vs 174 GFLOP/s). The choice can only
/// be overridden through `OPENBLAS_CORETYPE` before the library loads, so the CLI re-executes
/// itself once with it set (see `attnc`'s main), and with `OPENBLAS_THREAD_TIMEOUT` (`threadTimeout`).
public enum BLASCore {
  /// The core OpenBLAS chose, lowercased (`prescott`, `haswell`, `skylakex`, …).
  public static var current: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name).lowercased()
  }

  /// Cores at least as fast as the ones `better` can return.
  static let modern: Set<String> = ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"]

  /// The core to force, or nil when OpenBLAS's own choice is already a modern one, the user set
  /// `OPENBLAS_CORETYPE`, or the CPU lacks AVX2/FMA.
  /// - Parameter flags: the CPU's feature flags (`/proc/cpuinfo` "flags" names).
  public static func better(current: String, flags: Set<String>, environment: [String: String]) -> String? {
    if environment["OPENBLAS_CORETYPE"] != nil || modern.contains(current) { return nil }
    let avx512: Set<String> = ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"]
    if avx512.isSubset(of: flags) { return "SkylakeX" }
    if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
    return nil
  }

  /// How long (log₂ CPU cycles) an idle OpenBLAS worker spins before it sleeps, as
  /// `OPENBLAS_THREAD_TIMEOUT`. OpenBLAS's default, 28 (about 0.1 s), kept its workers spinning
  /// through the attention, GELU and norms that ran on attnc's threads between GEMMs (on 2 cores,
  /// a third runnable thread: about 16% of all CPU samples on gpt2_mini at 8192). Runs now keep
  /// OpenBLAS on one thread inside `Parallel`'s pool, so this matters where OpenBLAS still runs
  /// its own threads (`attnc batch` with several jobs). 20 is about 0.4 ms; 4 (sleep at once)
  /// made bert_mini at 128 tokens slower (19.6 against 17.8 ms; BENCHMARKS.md, session 9).
  public static let threadTimeout = "20"

  /// The OpenBLAS variables to set before it loads: `OPENBLAS_CORETYPE` when `better` names a
  /// core, and `OPENBLAS_THREAD_TIMEOUT` (`threadTimeout`) unless the user set it.
  public static func environment(current: String, flags: Set<String>, environment: [String: String]) -> [String: String] {
    var changes: [String: String] = [:]
    if let core = better(current: current, flags: flags, environment: environment) { changes["OPENBLAS_CORETYPE"] = core }
    if environment["OPENBLAS_THREAD_TIMEOUT"] == nil { changes["OPENBLAS_THREAD_TIMEOUT"] = threadTimeout }
    return changes
  }

  /// The feature flags of the first CPU in `/proc/cpuinfo` (empty where there is none).
  public static func cpuFlags() -> Set<String> {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
    for line in text.split(separator: "\n") where line.hasPrefix("flags") {
      guard let colon = line.firstIndex(of: ":") else { continue }
      return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }
    return []
  }
}
