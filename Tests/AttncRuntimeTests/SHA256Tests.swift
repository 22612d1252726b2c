@testable import AttncRuntime
import Testing

@Suite struct SHA256Tests {
  /// FIPS 180-4 examples (csrc.nist.gov "SHA256.pdf", "SHA2_Additional.pdf").
  static let vectors: [(message: String, digest: String)] = [
    ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    ),
    (
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
        + "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
    ),
  ]

  /// Messages of n × "a" around the padding boundaries (55 and 56 bytes leave no room for the
  /// length in the last block; 64 and 128 fill whole blocks).
  static let boundaries: [(length: Int, digest: String)] = [
    (55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
    (56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
    (63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
    (64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
    (65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"),
    (119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"),
    (120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"),
    (128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"),
  ]
}

// MARK: - Tests

extension SHA256Tests {
  @Test("FIPS 180-4 test vectors", arguments: vectors)
  func fipsVector(message: String, digest: String) {
    #expect(SHA256.hex(SHA256.digest(Array(message.utf8))) == digest)
  }

  @Test("one million 'a' (FIPS 180-4 long message)")
  func millionA() {
    let bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
    let digest = bytes.withUnsafeBytes { SHA256.digest($0) }
    #expect(
      SHA256.hex(digest) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  @Test("padding boundaries", arguments: boundaries)
  func boundary(length: Int, digest: String) {
    let bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
    #expect(SHA256.hex(SHA256.digest(bytes)) == digest)
  }

  @Test func hashesAnUnalignedSlice() {
    // 768 bytes 0, 1, …, 255 three times, read from an odd address.
    let bytes: [UInt8] = [0xaa] + (0..<768).map { UInt8($0 % 256) }
    let digest = bytes.withUnsafeBytes { SHA256.digest(UnsafeRawBufferPointer(rebasing: $0[1...])) }
    #expect(
      SHA256.hex(digest) == "f3a25aa93aa2fbba28d79260535bbd6a5eb0fc1c24a8b0f04e12b484c1dfe363")
  }

  @Test func digestIs32Bytes() {
    #expect(SHA256.digest([1, 2, 3]).count == 32)
    #expect(SHA256.digest(UnsafeRawBufferPointer(start: nil, count: 0)).count == 32)
  }

  @Test func hexIsLowercaseTwoDigitsPerByte() {
    #expect(SHA256.hex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
    #expect(SHA256.hex([]) == "")
  }
}

extension SHA256Tests {
  /// The SHA-extension blocks (where the CPU has them) and the Swift loop give the same digest,
  /// on lengths around the block and padding boundaries and on a megabyte.
  @Test(arguments: [0, 1, 55, 56, 63, 64, 65, 127, 128, 1000, 1 << 20])
  func extensionsAgreeWithTheLoop(length: Int) {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(length)
    let bytes = (0..<length).map { _ -> UInt8 in
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return UInt8(truncatingIfNeeded: state >> 56)
    }
    bytes.withUnsafeBytes { raw in
      #expect(SHA256.digest(raw, portable: false) == SHA256.digest(raw, portable: true))
    }
  }
}
