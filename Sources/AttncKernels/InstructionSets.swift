/// Which instruction sets attnc's C loops (attention tiles, packed GEMM) may use: the widest the
/// machine has (AVX-512, AVX2), at most AVX2, or plain C. Chosen at run time; tests run each on
/// one machine and compare.
public enum InstructionSets: Int32, Sendable, CaseIterable {
  case widest = 0, avx2 = 1, portable = 2
}
