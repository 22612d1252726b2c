import AttncTensor
import AttncTestSupport
import Foundation
import Testing

@testable import AttncONNX

// MARK: - Fixtures

/// Skips a test that reads `../shared`, saying where the folder was looked for.
let needsShared = Testing.ConditionTrait.enabled(
  if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing))

/// The bytes of `shared/models/<relativePath>`.
func sharedModelFile(_ relativePath: String) throws -> [UInt8] {
  let shared = try #require(Fixtures.shared)
  return [UInt8](try Data(contentsOf: shared.appendingPathComponent("models/" + relativePath)))
}

func decodeModel(_ bytes: [UInt8]) throws -> OnnxModel {
  try bytes.withUnsafeBytes { try OnnxDecoder.decodeModel($0) }
}

func decodeTensor(_ bytes: [UInt8]) throws -> OnnxTensor {
  try bytes.withUnsafeBytes { try OnnxDecoder.decodeTensor($0) }
}

/// A small valid model: one Relu node between a declared input and output.
func tinyModel(extraNodeFields: (inout ProtoWriter) -> Void = { _ in }) -> [UInt8] {
  var model = ProtoWriter()
  model.int(1, 8)  // ir_version
  model.message(8) { $0.int(2, 17) }  // opset_import: default domain, version 17
  model.string(2, "tests")
  model.message(7) { graph in
    graph.string(2, "tiny")
    graph.message(1) { node in
      node.string(1, "x")
      node.string(2, "y")
      node.string(3, "relu")
      node.string(4, "Relu")
      extraNodeFields(&node)
    }
    for (field, name) in [(11, "x"), (12, "y")] {
      graph.message(field) { info in
        info.string(1, name)
        info.message(2) { type in
          type.message(1) { tensor in
            tensor.int(1, 1)
            tensor.message(2) { shape in
              shape.message(1) { $0.string(2, "batch") }
              shape.message(1) { $0.int(1, 4) }
              shape.message(1) { _ in }
            }
          }
        }
      }
    }
  }
  return model.bytes
}

@Suite struct DecodeTests {}

// MARK: - Shared models

extension DecodeTests {
  @Test(needsShared) func decodesEverySharedModel() throws {
    let names = Fixtures.modelNames.filter { FileManager.default.fileExists(atPath: Fixtures.model($0)) }
    #expect(!names.isEmpty)
    for name in names {
      let model = try decodeModel(try sharedModelFile("\(name)/model.onnx"))
      #expect(!model.opsetImports.isEmpty, "\(name) has no opset imports")
      #expect(!model.graph.nodes.isEmpty, "\(name) has no nodes")
      #expect(!model.graph.inputs.isEmpty, "\(name) has no inputs")
      #expect(!model.graph.outputs.isEmpty, "\(name) has no outputs")
      #expect(
        model.graph.nodes.allSatisfy { !$0.opType.isEmpty }, "\(name) has a node without type")
    }
  }

  @Test(needsShared) func decodesBertTinyLegacy() throws {
    let model = try decodeModel(try sharedModelFile("bert_tiny_legacy/model.onnx"))
    #expect(model.irVersion == 8)
    #expect(model.producerName == "pytorch")
    #expect(model.opsetImports == [OnnxOpset(domain: "", version: 17)])
    #expect(model.graph.nodes.count == 286)
    #expect(model.graph.initializers.count == 18)
    #expect(model.graph.inputs.map(\.name) == ["input_ids", "attention_mask"])
    guard case .tensor(let elementType, let shape)? = model.graph.inputs.first?.type else {
      Issue.record("input_ids has no tensor type")
      return
    }
    #expect(elementType == DType.int64.rawValue)
    #expect(shape == [.param("batch"), .param("seq")])

    let constant = try #require(model.graph.nodes.first { $0.opType == "Constant" })
    let value = try #require(constant.attributes.first)
    #expect(value.name == "value")
    #expect(value.kind == .tensor)
    #expect(value.t?.dataType == DType.int64.rawValue)
    let axes = model.graph.nodes.flatMap(\.attributes).filter { $0.name == "axis" }
    #expect(!axes.isEmpty && axes.allSatisfy { $0.kind == .int })

    // Every initializer and Constant tensor converts.
    for tensor in model.graph.initializers + model.graph.nodes.compactMap(\.attributes.first?.t) {
      _ = try tensor.hostTensor(externalData: nil)
    }
  }

  @Test(needsShared) func decodesTestDataTensor() throws {
    let tensor = try decodeTensor(try sharedModelFile("bert_tiny_legacy/test_data_set_0/input_0.pb"))
    #expect(tensor.name == "input_ids")
    #expect(tensor.dataType == DType.int64.rawValue)
    #expect(tensor.dims == [1, 16])
    let host = try tensor.hostTensor(externalData: nil)
    #expect(host.shape == [1, 16])
    #expect(host.int64s().allSatisfy { $0 >= 0 })
  }

  @Test(needsShared) func keepsDecodingWithUnknownFields() throws {
    var bytes = try sharedModelFile("bert_tiny_legacy/model.onnx")
    // Field 99 as a varint, then field 100 as bytes: neither exists in ModelProto.
    var extra = ProtoWriter()
    extra.int(99, 12345)
    extra.bytes(100, [1, 2, 3])
    bytes += extra.bytes
    let model = try decodeModel(bytes)
    #expect(model.graph.nodes.count == 286)

    // Unknown fields inside a nested message are skipped as well.
    let tiny = try decodeModel(tinyModel { node in node.int(42, 7) })
    #expect(tiny.graph.nodes.first?.opType == "Relu")
  }

  @Test(needsShared) func rejectsTruncatedModel() throws {
    let bytes = try sharedModelFile("bert_tiny_legacy/model.onnx")
    let error = #expect(throws: AttncError.self) {
      try decodeModel(Array(bytes.prefix(bytes.count / 2)))
    }
    #expect(error?.code == .invalidModel)
    #expect(
      error?.message
        == "not a valid ONNX model: protobuf decoding failed (truncated or corrupted file)")
  }
}

// MARK: - Hand-built and hostile input

extension DecodeTests {
  @Test func decodesHandBuiltModel() throws {
    let model = try decodeModel(tinyModel())
    #expect(model.irVersion == 8)
    #expect(model.producerName == "tests")
    #expect(model.producerVersion == "")
    #expect(model.graph.name == "tiny")
    let node = try #require(model.graph.nodes.first)
    #expect(node.name == "relu" && node.opType == "Relu" && node.domain == "")
    #expect(node.inputs == ["x"] && node.outputs == ["y"])
    guard case .tensor(let elementType, let shape)? = model.graph.inputs.first?.type else {
      Issue.record("x has no tensor type")
      return
    }
    #expect(elementType == 1)
    #expect(shape == [.param("batch"), .value(4), .unknown])
  }

  @Test func rejectsEmptyInput() {
    let error = #expect(throws: AttncError.self) { try decodeModel([]) }
    #expect(error?.code == .invalidModel)
    #expect(error?.message == "file is empty")
    let tensorError = #expect(throws: AttncError.self) { try decodeTensor([]) }
    #expect(tensorError?.message == "file is empty")
  }

  @Test func rejectsRandomBytes() {
    let bytes = SeededValues.bytes(4096, seed: 20_240_601)
    let error = #expect(throws: AttncError.self) { try decodeModel(bytes) }
    #expect(error?.code == .invalidModel)
    #expect(
      error?.message
        == "not a valid ONNX model: protobuf decoding failed (truncated or corrupted file)")
  }

  @Test func rejectsFieldsOfTheWrongWireType() {
    // Well framed, so only protobuf-c can refuse it: ir_version written as a fixed32.
    var model = ProtoWriter()
    model.float(1, 8)
    let error = #expect(throws: AttncError.self) { try decodeModel(model.bytes + tinyModel()) }
    #expect(
      error?.message
        == "not a valid ONNX model: protobuf decoding failed (truncated or corrupted file)")
  }

  @Test func rejectsModelWithoutGraph() {
    var model = ProtoWriter()
    model.int(1, 8)
    let error = #expect(throws: AttncError.self) { try decodeModel(model.bytes) }
    #expect(error?.message == "model has no graph")
  }

  @Test func rejectsDeepNesting() {
    // A graph input whose type is a sequence of sequences ... 200 levels deep.
    func sequence(_ depth: Int) -> [UInt8] {
      var type = ProtoWriter()
      if depth > 0 { type.message(4) { $0.bytes(1, sequence(depth - 1)) } }
      return type.bytes
    }
    var model = ProtoWriter()
    model.message(7) { graph in
      graph.message(11) { info in
        info.string(1, "x")
        info.bytes(2, sequence(200))
      }
    }
    let error = #expect(throws: AttncError.self) { try decodeModel(model.bytes) }
    #expect(error?.message == "not a valid ONNX model: messages nest more than 100 levels deep")
  }

  @Test func decodesNestedTypesWithinTheLimit() throws {
    var model = ProtoWriter()
    model.message(7) { graph in
      graph.message(11) { info in
        info.string(1, "s")
        info.message(2) { type in
          type.message(4) { sequence in
            sequence.message(1) { element in
              element.message(1) { $0.int(1, 7) }  // tensor of int64, no shape
            }
          }
        }
      }
      graph.message(11) { info in
        info.string(1, "m")
        info.message(2) { type in
          type.message(5) { map in
            map.int(1, 8)
            map.message(2) { value in value.message(9) { $0.message(1) { $0.message(1) { _ in } } }
            }
          }
        }
      }
      graph.message(11) { $0.string(1, "untyped") }
    }
    let inputs = try decodeModel(model.bytes).graph.inputs
    guard case .sequence(.tensor(let element, let shape)?)? = inputs[0].type else {
      Issue.record("expected a sequence of tensors, got \(String(describing: inputs[0].type))")
      return
    }
    #expect(element == 7 && shape == nil)
    guard case .map(let key, .optional(.tensor(0, nil)?)?)? = inputs[1].type else {
      Issue.record(
        "expected a map to an optional tensor, got \(String(describing: inputs[1].type))")
      return
    }
    #expect(key == 8)
    #expect(inputs[2].type == nil)
  }

  @Test func decodesAttributesOfEveryKind() throws {
    let bytes = tinyModel { node in
      node.message(5) { a in
        a.string(1, "alpha")
        a.int(20, 1)
        a.float(2, 0.5)
      }
      node.message(5) { a in
        a.string(1, "perm")
        a.int(20, 7)
        a.packed(8, [2, -1, 0])
      }
      node.message(5) { a in
        a.string(1, "mode")
        a.int(20, 3)
        a.bytes(4, Array("nearest".utf8))
      }
      node.message(5) { a in
        a.string(1, "names")
        a.int(20, 8)
        a.bytes(9, Array("a".utf8))
        a.bytes(9, Array("bc".utf8))
      }
      node.message(5) { a in
        a.string(1, "body")
        a.int(20, 5)
        a.message(6) { $0.string(2, "inner") }
      }
      node.message(5) { a in
        a.string(1, "scales")
        a.int(20, 6)
        a.float(7, 1)  // unpacked repeated floats
        a.float(7, 2)
      }
      node.message(5) { a in
        a.string(1, "from_caller")
        a.string(21, "caller_attr")
        a.int(20, 2)
      }
      node.message(5) { a in
        a.string(1, "untagged")  // IR version 1: no type tag
        a.int(3, 9)
      }
      node.message(5) { a in
        a.string(1, "future")
        a.int(20, 99)  // a type tag from a newer ONNX
      }
    }
    let attributes = try #require(try decodeModel(bytes).graph.nodes.first?.attributes)
    let byName = Dictionary(uniqueKeysWithValues: attributes.map { ($0.name, $0) })
    #expect(byName["alpha"]?.kind == .float && byName["alpha"]?.f == 0.5)
    #expect(byName["perm"]?.kind == .ints && byName["perm"]?.ints == [2, -1, 0])
    #expect(byName["mode"]?.kind == .string && byName["mode"]?.s == Array("nearest".utf8))
    #expect(byName["names"]?.strings == [Array("a".utf8), Array("bc".utf8)])
    #expect(byName["body"]?.kind == .graph && byName["body"]?.g?.name == "inner")
    #expect(byName["scales"]?.kind == .floats && byName["scales"]?.floats == [1, 2])
    #expect(byName["from_caller"]?.refAttrName == "caller_attr")
    #expect(byName["untagged"]?.kind == .int && byName["untagged"]?.i == 9)
    #expect(byName["future"]?.kind == .undefined)
  }

  @Test func decodesFunctionsAndMetadata() throws {
    var bytes = tinyModel()
    var extra = ProtoWriter()
    extra.message(14) { entry in
      entry.string(1, "author")
      entry.string(2, "tests")
    }
    extra.message(25) { function in
      function.string(1, "MyRelu")
      function.string(10, "local")
      function.string(4, "a")
      function.string(5, "b")
      function.string(6, "slope")
      function.message(7) { node in
        node.string(1, "a")
        node.string(2, "b")
        node.string(4, "Relu")
      }
      function.message(9) { $0.int(2, 18) }
    }
    bytes += extra.bytes
    let model = try decodeModel(bytes)
    #expect(model.metadata.count == 1)
    #expect(model.metadata.first?.key == "author" && model.metadata.first?.value == "tests")
    let function = try #require(model.functions.first)
    #expect(function.name == "MyRelu" && function.domain == "local")
    #expect(function.inputs == ["a"] && function.outputs == ["b"])
    #expect(function.attributes == ["slope"])
    #expect(function.nodes.map(\.opType) == ["Relu"])
    #expect(function.opsetImports == [OnnxOpset(domain: "", version: 18)])
  }
}
