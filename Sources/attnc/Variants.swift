import ArgumentParser
import AttncKit

/// `attnc variants`: the attention variants, what they compute, their limits and parameters.
struct Variants: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List the attention variants with their parameters and limits.",
    discussion: """
      Pass one to `attnc convert --variant NAME[:key=value,...]`. Parameters left out take the \
      defaults shown. The math and FLOP formulas are in docs/variants.md.
      """)

  func run() throws { print(VariantCatalog.listing) }
}
