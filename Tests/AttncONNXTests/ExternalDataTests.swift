import AttncTensor
import AttncTestSupport
import Foundation
import Testing

@testable import AttncONNX

/// A fresh temporary folder holding `model/` (with `weights.bin` of `size` bytes valued
/// `index % 251`) and a sibling `outside/secret.bin`; removed by `remove()`.
struct ExternalFixture {
  let root: String
  var model: String { root + "/model" }

  init(weightBytes size: Int = 256) throws {
    root = NSTemporaryDirectory() + "attnc-external-" + UUID().uuidString
    let files = FileManager.default
    try files.createDirectory(atPath: root + "/model", withIntermediateDirectories: true)
    try files.createDirectory(atPath: root + "/outside", withIntermediateDirectories: true)
    let weights = Data((0..<size).map { UInt8($0 % 251) })
    try weights.write(to: URL(fileURLWithPath: root + "/model/weights.bin"))
    try Data(repeating: 7, count: 64).write(to: URL(fileURLWithPath: root + "/outside/secret.bin"))
  }

  func remove() { try? FileManager.default.removeItem(atPath: root) }

  var resolver: ExternalDataResolver { ExternalDataResolver(modelDirectory: model) }
}

/// A float tensor "w" with `dims` whose data is external, described by `entries`.
func externalTensor(dims: [Int64], _ entries: [(String, String)]) -> OnnxTensor {
  OnnxTensor(
    name: "w", dataType: DType.float.rawValue, dims: dims,
    externalData: entries.map { (key: $0.0, value: $0.1) }, dataLocationExternal: true)
}

@Suite struct ExternalDataTests {}

// MARK: - Shared model

extension ExternalDataTests {
  @Test(needsShared) func resolvesBertTinyExternalWeights() throws {
    let folder = try #require(Fixtures.shared).appendingPathComponent("models/bert_tiny_external").path
    let model = try decodeModel(try sharedModelFile("bert_tiny_external/model.onnx"))
    let resolver = ExternalDataResolver(modelDirectory: folder)
    let weights = try sharedModelFile("bert_tiny_external/weights.bin")
    var external = 0
    for tensor in model.graph.initializers {
      let host = try tensor.hostTensor(externalData: resolver)
      #expect(host.shape == tensor.dims.map { Int($0) })
      guard tensor.dataLocationExternal else { continue }
      external += 1
      let entries = Dictionary(tensor.externalData, uniquingKeysWith: { _, last in last })
      let offset = Int(entries["offset"] ?? "0") ?? -1
      #expect(Array(host.storage.bytes) == Array(weights[offset..<offset + host.storage.count]))
    }
    #expect(external == 20)
  }
}

// MARK: - Temporary folders

extension ExternalDataTests {
  @Test func loadsRangesWithoutCopying() throws {
    let fixture = try ExternalFixture()
    defer { fixture.remove() }
    let resolver = fixture.resolver
    let first = try externalTensor(dims: [4], [("location", "weights.bin")])
      .hostTensor(externalData: resolver)
    let second = try externalTensor(
      dims: [2, 2],
      [
        ("location", "./weights.bin"), ("offset", "16"), ("length", "16"),
        ("checksum", "ignored"),
      ]
    ).hostTensor(externalData: resolver)
    #expect(Array(first.storage.bytes) == (0..<16).map { UInt8($0) })
    #expect(Array(second.storage.bytes) == (16..<32).map { UInt8($0) })
    // Both borrow the one mapping of weights.bin.
    #expect(second.storage.base == first.storage.base + 16)
  }

  @Test func rejectsAbsoluteLocation() throws {
    let fixture = try ExternalFixture()
    defer { fixture.remove() }
    let error = #expect(throws: AttncError.self) {
      try externalTensor(dims: [1], [("location", "/etc/passwd")])
        .hostTensor(externalData: fixture.resolver)
    }
    #expect(error?.code == .invalidModel)
    #expect(
      error?.message == "external data location '/etc/passwd' of tensor 'w' is an absolute path")
  }

  @Test func rejectsParentComponents() throws {
    let fixture = try ExternalFixture()
    defer { fixture.remove() }
    let error = #expect(throws: AttncError.self) {
      try externalTensor(dims: [1], [("location", "sub/../../outside/secret.bin")])
        .hostTensor(externalData: fixture.resolver)
    }
    #expect(
      error?.message
        == "external data location 'sub/../../outside/secret.bin' of tensor 'w' escapes the "
        + "model's folder")
  }

  @Test func rejectsSymlinksLeavingTheFolder() throws {
    let fixture = try ExternalFixture()
    defer { fixture.remove() }
    try FileManager.default.createSymbolicLink(
      atPath: fixture.model + "/link.bin", withDestinationPath: fixture.root + "/outside/secret.bin"
    )
    let error = #expect(throws: AttncError.self) {
      try externalTensor(dims: [1], [("location", "link.bin")])
        .hostTensor(externalData: fixture.resolver)
    }
    #expect(
      error?.message == "external data location 'link.bin' of tensor 'w' escapes the model's folder"
    )
  }

  @Test func rejectsEmptyLocation() throws {
    let fixture = try ExternalFixture()
    defer { fixture.remove() }
    let error = #expect(throws: AttncError.self) {
      try externalTensor(dims: [1], [("offset", "0")]).hostTensor(externalData: fixture.resolver)
    }
    #expect(error?.message == "external data location '' of tensor 'w' is empty")
  }

  @Test func rejectsRangesPastTheEndOfTheFile() throws {
    let fixture = try ExternalFixture(weightBytes: 100)
    defer { fixture.remove() }
    let error = #expect(throws: AttncError.self) {
      try externalTensor(dims: [1024], [("location", "weights.bin"), ("length", "4096")])
        .hostTensor(externalData: fixture.resolver)
    }
    #expect(
      error?.message
        == "external data of tensor 'w' needs bytes 0..<4096 but 'weights.bin' has 100 bytes")

    // Without a length, the tensor's own size counts.
    let implied = #expect(throws: AttncError.self) {
      try externalTensor(dims: [8], [("location", "weights.bin"), ("offset", "80")])
        .hostTensor(externalData: fixture.resolver)
    }
    #expect(
      implied?.message
        == "external data of tensor 'w' needs bytes 80..<112 but 'weights.bin' has 100 bytes")
  }

  @Test func rejectsLengthThatIsNotTheTensorSize() throws {
    let fixture = try ExternalFixture()
    defer { fixture.remove() }
    let error = #expect(throws: AttncError.self) {
      try externalTensor(dims: [4], [("location", "weights.bin"), ("length", "12")])
        .hostTensor(externalData: fixture.resolver)
    }
    #expect(
      error?.message
        == "external data of tensor 'w' has length 12 but its 4 float32 elements need 16 bytes")

    let negative = #expect(throws: AttncError.self) {
      try externalTensor(dims: [4], [("location", "weights.bin"), ("offset", "-4")])
        .hostTensor(externalData: fixture.resolver)
    }
    #expect(negative?.message == "external data of tensor 'w' has an invalid offset '-4'")
  }

  @Test func reportsMissingFiles() throws {
    let fixture = try ExternalFixture()
    defer { fixture.remove() }
    let error = #expect(throws: AttncError.self) {
      try externalTensor(dims: [1], [("location", "missing.bin")])
        .hostTensor(externalData: fixture.resolver)
    }
    #expect(error?.code == .io)
    #expect(
      error?.message
        == "external data file '\(fixture.model)/missing.bin' of tensor 'w' cannot be read: "
        + "No such file or directory")
  }
}
