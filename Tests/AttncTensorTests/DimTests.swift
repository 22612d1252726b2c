import AttncTensor
import Testing

@Suite struct DimTests {
  let seq = Dim.symbol("seq")
  let batch = Dim.symbol("batch")
}

// MARK: - Algebra

extension DimTests {
  @Test func equalExpressionsCompareEqual() {
    #expect((seq * 2 + 2).floorDivided(by: 2) == seq + 1)
    #expect(seq + seq == seq * 2)
    #expect(batch * seq == seq * batch)
    #expect(seq - seq == 0)
    #expect((seq + 1) * (seq - 1) == seq * seq - 1)
  }

  @Test func constantsFold() {
    #expect((Dim(6) * 7).value == 42)
    #expect(Dim(7).floorDivided(by: 2).value == 3)
    #expect(Dim(-7).floorDivided(by: 2).value == -4)
    #expect(Dim(7).modulo(3).value == 1)
  }

  @Test func divisionKeepsWhatDoesNotSimplify() {
    let half = seq.floorDivided(by: 2)
    #expect(half.value == nil)
    #expect(half.description == "seq/2")
    #expect(half.evaluate(["seq": 9]) == 4)
    // (2*seq + 1)/2 = seq
    #expect((seq * 2 + 1).floorDivided(by: 2) == seq)
  }

  @Test func nestedFloorDivisionsMerge() {
    // ⌊⌊x/a⌋/b⌋ = ⌊x/(a·b)⌋: three strided convolutions of samples give samples/20 - 1.
    let samples = Dim.symbol("samples")
    let first = (samples - 10).floorDivided(by: 5) + 1
    let second = (first - 3).floorDivided(by: 2) + 1
    let third = (second - 3).floorDivided(by: 2) + 1
    #expect(third == samples.floorDivided(by: 20) - 1)
    #expect(third.description == "samples/20 - 1")
    #expect((seq.floorDivided(by: 3) + 1).floorDivided(by: 2) != seq.floorDivided(by: 6))
    func floor(_ a: Int, _ b: Int) -> Int { Int((Double(a) / Double(b)).rounded(.down)) }
    for value in [-13, -1, 0, 1, 19, 20, 41] {
      #expect(third.evaluate(["samples": value]) == floor(floor(floor(value - 10, 5) + 1 - 3, 2) + 1 - 3, 2) + 1)
    }
  }

  @Test func divisionByAMonomial() {
    #expect((batch * seq * 768).divided(by: batch * seq) == 768)
    #expect((batch * seq * 768).divided(by: seq * 12) == batch * 64)
    #expect((batch * seq + 1).divided(by: seq) == nil)
    #expect(Dim(768).divided(by: 0) == nil)
  }

  @Test(arguments: [
    (Dim.symbol("seq") + 1, "seq + 1"),
    (Dim.symbol("seq") * 2, "2*seq"),
    (Dim.symbol("seq") - 1, "seq - 1"),
    (Dim.symbol("batch") * Dim.symbol("seq"), "batch*seq"),
    (Dim(0), "0"),
    (-Dim.symbol("seq") + 3, "-seq + 3"),
  ])
  func printsReadably(dim: Dim, text: String) {
    #expect(dim.description == text)
  }

  @Test func evaluatesUnderBindings() {
    let dim = batch * seq * 12 + seq.floorDivided(by: 4)
    #expect(dim.evaluate(["batch": 2, "seq": 10]) == 242)
    #expect(dim.evaluate(["batch": 2]) == nil)
  }

  @Test func substitutesSymbols() {
    let dim = (seq + 1) * batch
    #expect(dim.substituting(["seq": 127, "batch": 1]).value == 128)
    #expect(dim.substituting(["seq": .symbol("n")]) == (Dim.symbol("n") + 1) * batch)
  }

  @Test func tracksDataDependentSymbols() {
    #expect(!seq.isDataDependent)
    #expect((seq + .symbol(Dim.unknownPrefix + "nonzero0")).isDataDependent)
    #expect((seq * 2 + 1).isKnownNonNegative)
    #expect(!(seq - 1).isKnownNonNegative)
  }
}

// MARK: - Broadcasting

extension DimTests {
  @Test func broadcastsNumpyStyle() throws {
    let mask: [Dim] = [batch, 1, 1, seq]
    let scores: [Dim] = [batch, 12, seq, seq]
    #expect(try Shapes.broadcast([mask, scores]) == scores)
    #expect(try Shapes.broadcast([[3, 1], [4]]) == [3, 4])
    #expect(try Shapes.broadcast([[seq], [1]]) == [seq])
    #expect(try Shapes.broadcast([[seq], [8]]) == [8])
  }

  @Test func refusesIncompatibleConstants() {
    #expect(throws: AttncError.invalid("cannot broadcast [2, 3] with [4]")) {
      try Shapes.broadcast([[2, 3], [4]])
    }
  }

  @Test func normalizesAxes() throws {
    #expect(try Shapes.normalize(axis: -1, rank: 3) == 2)
    #expect(throws: AttncError.invalid("axis 5 is out of range for rank 2")) {
      try Shapes.normalize(axis: 5, rank: 2)
    }
  }
}

// MARK: - Reaching a token count

extension DimTests {
  @Test func aTokenCountBecomesSymbolValues() {
    // The length is the symbol: n itself.
    #expect(seq.bindings(reaching: 512) == ["seq": 512])
    // A ViT's token count from its image size: 4097 tokens at 896 pixels (64² patches of 14 + 1).
    let hw = Dim.symbol("hw")
    let tokens = hw.floorDivided(by: 14) * hw.floorDivided(by: 14) + 1
    #expect(tokens.bindings(reaching: 4097) == ["hw": 896])
    #expect(tokens.bindings(reaching: 257) == ["hw": 224])
    // Between two sizes: the smallest that reaches it.
    #expect(tokens.bindings(reaching: 4000) == ["hw": 896])
    // Fixed symbols keep their values; a dim with no free symbol has no answer.
    #expect((seq + .symbol("past")).bindings(reaching: 100, fixed: ["past": 0]) == ["seq": 100, "past": 0])
    #expect(Dim(7).bindings(reaching: 100) == nil)
    #expect(seq.bindings(reaching: 5, fixed: ["seq": 3]) == nil)
  }
}
