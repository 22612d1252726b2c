import AttncTensor
import Testing

@testable import AttncIR

@Suite struct EinsumTests: UsesComputeFixtures {
  static func einsum(_ equation: String) -> [String: AttributeValue] {
    ["equation": .string(equation)]
  }

  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "multiplies batched matrices", type: "Einsum", attributes: einsum("bij, bjk -> bik"),
      opset: 12, inputs: [fact(.float, [batch, seq, 64]), fact(.float, [batch, 64, seq])],
      expected: .types([TensorType(.float, [batch, seq, seq])])),
    ComputeShapeCase(
      name: "takes a diagonal under an ellipsis", type: "Einsum",
      attributes: einsum("...ii ->...i"), opset: 28, inputs: [fact(.double, [3, 5, 5])],
      expected: .dims([[3, 5]])),
    ComputeShapeCase(
      name: "sums an inner product to a scalar", type: "Einsum", attributes: einsum("i,i"),
      opset: 28, inputs: [fact(.float, [5]), fact(.float, [5])], expected: .dims([[]])),
    ComputeShapeCase(
      name: "orders implicit output labels", type: "Einsum", attributes: einsum("ji,jk"),
      opset: 28, inputs: [fact(.float, [2, 3]), fact(.float, [2, 4])], expected: .dims([[3, 4]])),
    ComputeShapeCase(
      name: "puts upper case first", type: "Einsum", attributes: einsum("aB"), opset: 28,
      inputs: [fact(.float, [2, 3])], expected: .dims([[3, 2]])),
    ComputeShapeCase(
      name: "broadcasts ellipsis axes", type: "Einsum", attributes: einsum("...ij,...jk"),
      opset: 28, inputs: [fact(.float, [2, 1, 2, 3]), fact(.float, [5, 3, 4])],
      expected: .dims([[2, 5, 2, 4]])),
    ComputeShapeCase(
      name: "broadcasts size-1 label axes", type: "Einsum", attributes: einsum("ij,jk->ik"),
      opset: 28, inputs: [fact(.float, [2, 3]), fact(.float, [1, 4])], expected: .dims([[2, 4]])),
    ComputeShapeCase(
      name: "reduces a scalar", type: "Einsum", attributes: einsum("->"), opset: 28,
      inputs: [fact(.double, [])], expected: .dims([[]])),
    ComputeShapeCase(
      name: "refuses a term that does not fit", type: "Einsum", attributes: einsum("ij->i"),
      opset: 28, inputs: [fact(.float, [2, 3, 4])],
      expected: .error("term 0 of 'ij->i' has 2 labels but input 0 has rank 3")),
    ComputeShapeCase(
      name: "refuses an unequal diagonal", type: "Einsum", attributes: einsum("ii->i"),
      opset: 28, inputs: [fact(.float, [2, 3])],
      expected: .error("dims of repeated label 'i' in input 0 differ: 2 and 3")),
    ComputeShapeCase(
      name: "refuses an unknown output label", type: "Einsum", attributes: einsum("ij->k"),
      opset: 28, inputs: [fact(.float, [2, 3])],
      expected: .error("output label 'k' of 'ij->k' is in no input term")),
    ComputeShapeCase(
      name: "refuses a term count that differs", type: "Einsum", attributes: einsum("ij,jk"),
      opset: 28, inputs: [fact(.float, [2, 3])],
      expected: .error("equation 'ij,jk' has 2 input terms for 1 inputs")),
    ComputeShapeCase(
      name: "refuses a stray character", type: "Einsum", attributes: einsum("i*j"), opset: 28,
      inputs: [fact(.float, [2, 3])],
      expected: .error("equation 'i*j' has an invalid character '*'")),
    ComputeShapeCase(
      name: "refuses dropping ellipsis axes", type: "Einsum", attributes: einsum("...i->i"),
      opset: 28, inputs: [fact(.float, [2, 3])],
      expected: .error("output term of '...i->i' drops the ellipsis axes [2]")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  @Test func parsesEllipsisAndLetters() throws {
    let op = try Einsum(equation: "...Ab,bc")
    #expect(
      op.inputTerms == [[.ellipsis, .letter("A"), .letter("b")], [.letter("b"), .letter("c")]])
    #expect(op.resolvedOutputTerm == [.ellipsis, .letter("A"), .letter("c")])
  }
}
