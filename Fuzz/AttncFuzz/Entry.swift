import AttncKit
import Foundation

// libFuzzer's entry points. Built only by scripts/fuzz.sh (ATTNC_FUZZ=1 adds this target to the
// package, with -sanitize=fuzzer,address); `ATTNC_FUZZ_TARGET` picks the reader under test.

/// The reader under test, chosen once at start-up.
nonisolated(unsafe) var selected: FuzzTarget?

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(
  _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>
) -> CInt {
  let name = ProcessInfo.processInfo.environment["ATTNC_FUZZ_TARGET"] ?? ""
  guard let target = FuzzTarget.all.first(where: { $0.name == name }) else {
    let names = FuzzTarget.all.map(\.name).joined(separator: ", ")
    FileHandle.standardError.write(Data("set ATTNC_FUZZ_TARGET to one of: \(names)\n".utf8))
    exit(2)
  }
  selected = target
  // One thread: libFuzzer runs one input at a time and the machine's other cores are not ours.
  ProcessSetup.configureThreads(1)
  return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  guard let target = selected else { return 0 }
  let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
  // A refusal (a thrown error) is the expected outcome for most inputs; only a trap, a
  // sanitizer report, a leak or a hang is a finding.
  do { try target.body(bytes) } catch {}
  return 0
}
