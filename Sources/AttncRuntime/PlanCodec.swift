import AttncKernels
import AttncTensor
import CProtobufC
import CSchemas

/// Converts the plan header between Swift values (`PlanFile.Header`) and `attnc.PlanHeader`
/// protobuf bytes: the only Swift code that calls protobuf-c for schemas/plan.proto.
///
/// Packing builds the C message tree in an arena freed on return; protobuf-c writes fields in
/// field-number order and parameters are sorted by name, so equal headers pack to equal bytes.
/// Unpacking first bounds how deeply messages nest (protobuf-c recurses without a limit), then
/// copies every C value into Swift values and frees the C tree; nothing taken from the bytes is
/// force-unwrapped, and every structural fact is checked (a oneof is set, a divisor is at least
/// 2, names are unique).
enum PlanCodec {
  /// How deeply messages may nest (header → slot → dim → term counts four).
  ///
  /// A floor division adds four levels, so this allows 14 divisions nested in one another: far
  /// more than shape arithmetic produces, few enough that the `Dim` algebra (whose ordering
  /// prints atoms, which costs exponential time in the nesting) stays fast on a hostile file.
  static let nestingLimit = 64

  // MARK: - Packing

  /// Serializes `header`.
  ///
  /// - Throws: `AttncError.invalid` when a value cannot be stored: text holding a NUL
  ///   character, a number beyond its field's range, a dim nested too deeply to read back.
  static func pack(_ header: PlanFile.Header) throws -> [UInt8] {
    let arena = Arena()
    let message = try arena.planHeader(header)
    let size = attnc__plan_header__get_packed_size(message)
    let bytes = [UInt8](unsafeUninitializedCapacity: max(size, 1)) { buffer, count in
      count = buffer.baseAddress.map { attnc__plan_header__pack(message, $0) } ?? 0
    }
    guard bytes.count == size else {
      throw AttncError.invalid("protobuf-c packed \(bytes.count) of \(size) header bytes")
    }
    let depth = bytes.withUnsafeBytes { NestingCheck.scan($0, limit: nestingLimit) }
    guard depth == .ok else {
      throw AttncError.invalid(
        "a dim expression nests floor divisions too deeply to store (more than "
          + "\(nestingLimit) message levels)")
    }
    return bytes
  }

  // MARK: - Unpacking

  /// Decodes header bytes (already checksummed by the caller).
  ///
  /// Checks structure only; slot indices and weight ranges are the caller's to check.
  /// - Throws: `AttncError` (`.invalidModel`): "plan header is corrupted: protobuf decoding
  ///   failed"; "plan header is corrupted: messages nest more than 64 levels deep"; "plan
  ///   header is corrupted: <where>: <what>" for a value that breaks the schema's rules.
  static func unpack(_ bytes: UnsafeRawBufferPointer) throws -> PlanFile.Header {
    try checkNesting(bytes, root: .header)
    // An empty buffer has no base address; protobuf-c reads nothing at a zero length.
    let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
    guard let proto = attnc__plan_header__unpack(nil, bytes.count, data) else {
      throw corrupted("protobuf decoding failed")
    }
    defer { attnc__plan_header__free_unpacked(proto, nil) }
    do {
      return try Reader.header(proto.pointee)
    } catch let error as AttncError {
      throw AttncError(error.code, "plan header is corrupted: \(error.description)")
    }
  }

  /// Decodes one serialized `attnc.DimExpr` with the header's rules (the dim fuzz target's
  /// entry to the decoder that every slot's and parameter's dims go through).
  /// - Throws: as `unpack`.
  static func unpackDim(_ bytes: UnsafeRawBufferPointer) throws -> Dim {
    try checkNesting(bytes, root: .dimExpr)
    let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
    guard let proto = attnc__dim_expr__unpack(nil, bytes.count, data) else {
      throw corrupted("protobuf decoding failed")
    }
    defer { attnc__dim_expr__free_unpacked(proto, nil) }
    return try Reader.dim(proto.pointee)
  }

  /// Bounds how deeply messages nest before protobuf-c (which recurses) sees `bytes`.
  private static func checkNesting(_ bytes: UnsafeRawBufferPointer, root: NestingCheck.Kind) throws {
    switch NestingCheck.scan(bytes, root: root, limit: nestingLimit) {
    case .ok: break
    case .malformed: throw corrupted("protobuf decoding failed")
    case .tooDeep: throw corrupted("messages nest more than \(nestingLimit) levels deep")
    }
  }

  private static func corrupted(_ what: String) -> AttncError {
    AttncError.invalid("plan header is corrupted: \(what)")
  }
}

// MARK: - Swift values to C messages

/// Owns every C allocation of one header being packed; frees them all on deinit.
private final class Arena {
  private var allocations: [UnsafeMutableRawPointer] = []

  deinit {
    for pointer in allocations { pointer.deallocate() }
  }

  /// Uninitialized room for `count` (at least one) values of `T`.
  private func allocate<T>(_: T.Type, count: Int) -> UnsafeMutablePointer<T> {
    let pointer = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
    allocations.append(UnsafeMutableRawPointer(pointer))
    return pointer
  }

  /// A message set to its defaults by its protobuf-c `_init` function.
  private func message<T>(_ initialize: (UnsafeMutablePointer<T>) -> Void)
    -> UnsafeMutablePointer<T>
  {
    let pointer = allocate(T.self, count: 1)
    initialize(pointer)
    return pointer
  }

  /// A C array of `values` (NULL when empty, as protobuf-c expects with a zero count).
  private func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
    guard !values.isEmpty else { return nil }
    let pointer = allocate(T.self, count: values.count)
    pointer.initialize(from: values, count: values.count)
    return pointer
  }

  /// A NUL-terminated copy of `text`.
  /// - Throws: when `text` itself holds a NUL, which a protobuf-c string cannot carry.
  private func string(_ text: String, _ what: @autoclosure () -> String) throws
    -> UnsafeMutablePointer<CChar>
  {
    let utf8 = Array(text.utf8)
    guard !utf8.contains(0) else {
      throw AttncError.invalid("\(what()) contains a NUL character, which a plan cannot store")
    }
    let pointer = allocate(CChar.self, count: utf8.count + 1)
    for (index, byte) in utf8.enumerated() {
      pointer[index] = CChar(bitPattern: byte)
    }
    pointer[utf8.count] = 0
    return pointer
  }

  private func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
    ProtobufCBinaryData(len: bytes.count, data: array(bytes))
  }

  private func int32(_ value: Int, _ what: @autoclosure () -> String) throws -> Int32 {
    guard let result = Int32(exactly: value) else {
      throw AttncError.invalid("\(what()) is \(value), beyond the 32-bit range a plan stores")
    }
    return result
  }

  func planHeader(_ header: PlanFile.Header) throws -> UnsafeMutablePointer<Attnc__PlanHeader> {
    let plan = header.plan
    let result = message(attnc__plan_header__init)
    result.pointee.has_format_version = 1
    result.pointee.format_version = header.formatVersion
    result.pointee.has_source_sha256 = 1
    result.pointee.source_sha256 = binary(plan.sourceSHA256)
    result.pointee.producer = try string(plan.producer, "the producer")
    result.pointee.policy = try string(plan.policy, "the policy")
    result.pointee.n_decisions = plan.decisions.count
    result.pointee.decisions = array(try plan.decisions.map(decision))
    result.pointee.n_slots = plan.slots.count
    result.pointee.slots = array(try plan.slots.map(slot))
    result.pointee.n_inputs = plan.inputs.count
    result.pointee.inputs = array(try plan.inputs.map { try int32($0, "a plan input") })
    result.pointee.n_outputs = plan.outputs.count
    result.pointee.outputs = array(try plan.outputs.map { try int32($0, "a plan output") })
    result.pointee.n_instructions = plan.instructions.count
    result.pointee.instructions = array(try plan.instructions.map(instruction))
    result.pointee.n_constants = header.constants.count
    result.pointee.constants = array(try header.constants.map(constant))
    result.pointee.n_chunks = header.chunks.count
    result.pointee.chunks = array(header.chunks.map(chunk))
    if !plan.options.isEmpty { result.pointee.options = try string(plan.options, "the options") }
    if !plan.sourcePrecision.isEmpty {
      result.pointee.source_precision = try string(plan.sourcePrecision, "the source precision")
    }
    return result
  }

  private func decision(_ decision: Plan.Decision) throws
    -> UnsafeMutablePointer<Attnc__Decision>?
  {
    let result = message(attnc__decision__init)
    let name = "decision for '\(decision.node)'"
    result.pointee.has_layer = 1
    result.pointee.layer = try int32(decision.layer, "the layer of the \(name)")
    result.pointee.node = try string(decision.node, "the node of a decision")
    try estimate(decision, into: result, of: name)
    result.pointee.n_candidates = decision.candidates.count
    result.pointee.candidates = array(try decision.candidates.map { try candidate($0, of: name) })
    if !decision.dispatch.isEmpty { result.pointee.dispatch = try string(decision.dispatch, "the dispatch of the \(name)") }
    return result
  }

  private func candidate(_ candidate: Plan.Candidate, of owner: String) throws
    -> UnsafeMutablePointer<Attnc__Candidate>?
  {
    let result = message(attnc__candidate__init)
    let name = "candidate '\(candidate.variant)' of the \(owner)"
    try estimate(candidate, into: result, of: name)
    result.pointee.has_allowed = 1
    result.pointee.allowed = candidate.allowed ? 1 : 0
    if !candidate.reason.isEmpty { result.pointee.reason = try string(candidate.reason, "the reason of the \(name)") }
    return result
  }

  /// The fields a decision and a candidate message share: the variant, its parameters, the
  /// predicted time and the error with its source.
  private func estimate<Message: EstimateMessage>(
    _ estimate: some VariantEstimate, into result: UnsafeMutablePointer<Message>, of name: String
  ) throws {
    result.pointee.variant = try string(estimate.variant, "the variant of the \(name)")
    let parameters = try self.parameters(estimate.parameters, of: name)
    result.pointee.n_parameters = parameters.count
    result.pointee.parameters = array(parameters)
    result.pointee.has_predicted_ms = 1
    result.pointee.predicted_ms = estimate.predictedMilliseconds
    if let error = estimate.error {
      result.pointee.has_error = 1
      result.pointee.error = error
    }
    result.pointee.error_source = try string(estimate.errorSource, "the error source of the \(name)")
  }

  private func slot(_ slot: Plan.Slot) throws -> UnsafeMutablePointer<Attnc__Slot>? {
    let result = message(attnc__slot__init)
    result.pointee.name = try string(slot.name, "a slot name")
    result.pointee.has_dtype = 1
    result.pointee.dtype = slot.dtype.rawValue
    result.pointee.n_dims = slot.dims.count
    result.pointee.dims = array(try slot.dims.map { try dim($0) })
    return result
  }

  private func instruction(_ instruction: Plan.Instruction) throws
    -> UnsafeMutablePointer<Attnc__Instruction>?
  {
    let result = message(attnc__instruction__init)
    let name = "instruction '\(instruction.label)'"
    result.pointee.kernel = try string(instruction.kernel, "the kernel of \(name)")
    let parameters = try self.parameters(instruction.call.parameters, of: name)
    result.pointee.n_parameters = parameters.count
    result.pointee.parameters = array(parameters)
    result.pointee.n_inputs = instruction.inputs.count
    result.pointee.inputs = array(
      try instruction.inputs.map { try $0.map { try int32($0, "an input of \(name)") } ?? -1 })
    result.pointee.n_outputs = instruction.outputs.count
    result.pointee.outputs = array(
      try instruction.outputs.map { try int32($0, "an output of \(name)") })
    result.pointee.label = try string(instruction.label, "an instruction label")
    return result
  }

  /// Parameters sorted by name, so the bytes do not depend on dictionary order.
  private func parameters(_ parameters: [String: KernelParameter], of owner: String) throws
    -> [UnsafeMutablePointer<Attnc__Parameter>?]
  {
    try parameters.keys.sorted().compactMap { name in
      guard let value = parameters[name] else { return nil }
      return try parameter(name, value, of: owner)
    }
  }

  private func parameter(_ name: String, _ value: KernelParameter, of owner: String) throws
    -> UnsafeMutablePointer<Attnc__Parameter>
  {
    let result = message(attnc__parameter__init)
    result.pointee.name = try string(name, "a parameter name of \(owner)")
    switch value {
    case .int(let value):
      result.pointee.value_case = ATTNC__PARAMETER__VALUE_INT_VALUE
      result.pointee.int_value = value
    case .float(let value):
      result.pointee.value_case = ATTNC__PARAMETER__VALUE_FLOAT_VALUE
      result.pointee.float_value = value
    case .string(let value):
      result.pointee.value_case = ATTNC__PARAMETER__VALUE_STRING_VALUE
      result.pointee.string_value = try string(value, "parameter '\(name)' of \(owner)")
    case .ints(let values):
      result.pointee.value_case = ATTNC__PARAMETER__VALUE_INTS
      result.pointee.ints = list(attnc__parameter__ints__init, values)
    case .floats(let values):
      result.pointee.value_case = ATTNC__PARAMETER__VALUE_FLOATS
      result.pointee.floats = list(attnc__parameter__floats__init, values)
    case .dims(let values):
      result.pointee.value_case = ATTNC__PARAMETER__VALUE_DIMS
      result.pointee.dims = list(attnc__parameter__dims__init, try values.map { try dim($0) })
    }
    return result
  }

  /// A parameter's list message (`Ints`, `Floats`, `Dims`) holding `values`.
  private func list<List: ListMessage>(_ initialize: (UnsafeMutablePointer<List>) -> Void, _ values: [List.Element])
    -> UnsafeMutablePointer<List>
  {
    let result = message(initialize)
    result.pointee.n_values = values.count
    result.pointee.values = array(values)
    return result
  }

  private func dim(_ dim: Dim) throws -> UnsafeMutablePointer<Attnc__DimExpr>? {
    let result = message(attnc__dim_expr__init)
    let terms = try dim.termList.map { term -> UnsafeMutablePointer<Attnc__DimExpr__Term>? in
      let converted = message(attnc__dim_expr__term__init)
      converted.pointee.has_coefficient = 1
      converted.pointee.coefficient = Int64(term.coefficient)
      let atoms = try term.atoms.map { try atom($0) }
      converted.pointee.n_atoms = atoms.count
      converted.pointee.atoms = array(atoms)
      return converted
    }
    result.pointee.n_terms = terms.count
    result.pointee.terms = array(terms)
    return result
  }

  private func atom(_ atom: Dim.Atom) throws -> UnsafeMutablePointer<Attnc__DimExpr__Atom>? {
    let result = message(attnc__dim_expr__atom__init)
    switch atom {
    case .symbol(let name):
      result.pointee.kind_case = ATTNC__DIM_EXPR__ATOM__KIND_SYMBOL
      result.pointee.symbol = try string(name, "a dim symbol")
    case .floorDiv(let dividend, let divisor):
      guard divisor >= 2 else {
        throw AttncError.invalid("dim \(Dim(termList: [(1, [atom])])) divides by \(divisor)")
      }
      let division = message(attnc__dim_expr__floor_div__init)
      division.pointee.dividend = try dim(dividend)
      division.pointee.has_divisor = 1
      division.pointee.divisor = Int64(divisor)
      result.pointee.kind_case = ATTNC__DIM_EXPR__ATOM__KIND_FLOOR_DIV
      result.pointee.floor_div = division
    }
    return result
  }

  private func constant(_ constant: PlanFile.ConstantRef) throws
    -> UnsafeMutablePointer<Attnc__ConstantRef>?
  {
    let result = message(attnc__constant_ref__init)
    result.pointee.has_slot = 1
    result.pointee.slot = try int32(constant.slot, "a weight's slot")
    result.pointee.has_dtype = 1
    result.pointee.dtype = constant.dtype.rawValue
    result.pointee.n_shape = constant.shape.count
    result.pointee.shape = array(constant.shape.map { Int64($0) })
    result.pointee.has_offset = 1
    result.pointee.offset = Int64(constant.offset)
    result.pointee.has_length = 1
    result.pointee.length = Int64(constant.length)
    result.pointee.n_strings = constant.strings.count
    result.pointee.strings = array(constant.strings.map { binary(Array($0.utf8)) })
    return result
  }

  private func chunk(_ chunk: PlanFile.Chunk) -> UnsafeMutablePointer<Attnc__Chunk>? {
    let result = message(attnc__chunk__init)
    result.pointee.has_offset = 1
    result.pointee.offset = Int64(chunk.offset)
    result.pointee.has_compressed_length = 1
    result.pointee.compressed_length = Int64(chunk.compressedLength)
    result.pointee.has_raw_length = 1
    result.pointee.raw_length = Int64(chunk.rawLength)
    result.pointee.has_sha256 = 1
    result.pointee.sha256 = binary(chunk.sha256)
    return result
  }
}

// MARK: - C messages to Swift values

/// Reads an unpacked header; errors carry context ("slot 3 ('x')", "dim 1") innermost first.
private enum Reader {
  static func header(_ h: Attnc__PlanHeader) throws -> PlanFile.Header {
    let slots = try messages(h.slots, h.n_slots, "slot") { index, s in
      let name = text(s.name)
      return try withContext("slot \(index) ('\(name)')") {
        Plan.Slot(
          name: name, dtype: try DType(onnx: s.dtype),
          dims: try messages(s.dims, s.n_dims, "dim") { _, d in try dim(d) })
      }
    }
    let instructions = try messages(h.instructions, h.n_instructions, "instruction") { index, i in
      let label = text(i.label)
      return try withContext("instruction \(index) ('\(label)')") {
        try Plan.Instruction(
          kernel: text(i.kernel), parameters: try parameters(i.parameters, i.n_parameters),
          inputs: numbers(i.inputs, i.n_inputs).map { $0 == -1 ? nil : Int($0) },
          outputs: numbers(i.outputs, i.n_outputs).map { Int($0) }, label: label)
      }
    }
    let decisions = try messages(h.decisions, h.n_decisions, "decision") { index, d in
      try withContext("decision \(index)") {
        var decision = Plan.Decision(
          layer: Int(d.layer), node: text(d.node), variant: text(d.variant), parameters: try parameters(d.parameters, d.n_parameters))
        estimate(d, into: &decision)
        decision.candidates = try messages(d.candidates, d.n_candidates, "candidate") { index, c in
          try withContext("candidate \(index)") {
            var candidate = Plan.Candidate(
              variant: text(c.variant), parameters: try parameters(c.parameters, c.n_parameters), allowed: c.allowed != 0,
              reason: text(c.reason))
            estimate(c, into: &candidate)
            return candidate
          }
        }
        decision.dispatch = text(d.dispatch)
        return decision
      }
    }
    let constants = try messages(h.constants, h.n_constants, "weight") { index, c in
      try withContext("weight \(index)") {
        PlanFile.ConstantRef(
          slot: Int(c.slot), dtype: try DType(onnx: c.dtype),
          shape: try numbers(c.shape, c.n_shape).map { try int($0, "a dim of its shape") },
          offset: try int(c.offset, "its offset"), length: try int(c.length, "its length"),
          strings: numbers(c.strings, c.n_strings).map {
            String(decoding: bytes($0), as: UTF8.self)
          })
      }
    }
    let chunks = try messages(h.chunks, h.n_chunks, "weight chunk") { index, c in
      try withContext("weight chunk \(index)") {
        PlanFile.Chunk(
          offset: try int(c.offset, "its offset"),
          compressedLength: try int(c.compressed_length, "its compressed length"),
          rawLength: try int(c.raw_length, "its raw length"),
          sha256: c.has_sha256 != 0 ? bytes(c.sha256) : [])
      }
    }
    var plan = Plan(
      sourceSHA256: h.has_source_sha256 != 0 ? bytes(h.source_sha256) : [],
      producer: text(h.producer), policy: text(h.policy), decisions: decisions, slots: slots,
      inputs: numbers(h.inputs, h.n_inputs).map { Int($0) },
      outputs: numbers(h.outputs, h.n_outputs).map { Int($0) }, instructions: instructions,
      constants: [:])
    plan.options = text(h.options)
    plan.sourcePrecision = text(h.source_precision)
    return PlanFile.Header(
      formatVersion: h.format_version, plan: plan, constants: constants, chunks: chunks)
  }

  /// The predicted time and the error with its source, as a decision or candidate message holds them.
  static func estimate(_ message: some EstimateMessage, into value: inout some VariantEstimate) {
    value.predictedMilliseconds = message.predicted_ms
    value.error = message.has_error != 0 ? message.error : nil
    value.errorSource = text(message.error_source)
  }

  /// Parameters by name; a repeated name or a parameter with no value is refused.
  static func parameters(
    _ pointer: UnsafeMutablePointer<UnsafeMutablePointer<Attnc__Parameter>?>?, _ count: Int
  ) throws -> [String: KernelParameter] {
    var result: [String: KernelParameter] = [:]
    let list = try messages(pointer, count, "parameter") { _, p in (text(p.name), p) }
    for (name, p) in list {
      let value = try withContext("parameter '\(name)'") { try parameter(p) }
      guard result.updateValue(value, forKey: name) == nil else {
        throw AttncError.invalid("parameter '\(name)' appears twice")
      }
    }
    return result
  }

  static func parameter(_ p: Attnc__Parameter) throws -> KernelParameter {
    switch p.value_case {
    case ATTNC__PARAMETER__VALUE_INT_VALUE: return .int(p.int_value)
    case ATTNC__PARAMETER__VALUE_FLOAT_VALUE: return .float(p.float_value)
    case ATTNC__PARAMETER__VALUE_STRING_VALUE: return .string(text(p.string_value))
    case ATTNC__PARAMETER__VALUE_INTS:
      guard let ints = p.ints?.pointee else { throw AttncError.invalid("has no value") }
      return .ints(numbers(ints.values, ints.n_values))
    case ATTNC__PARAMETER__VALUE_FLOATS:
      guard let floats = p.floats?.pointee else { throw AttncError.invalid("has no value") }
      return .floats(numbers(floats.values, floats.n_values))
    case ATTNC__PARAMETER__VALUE_DIMS:
      guard let dims = p.dims?.pointee else { throw AttncError.invalid("has no value") }
      return .dims(
        try messages(dims.values, dims.n_values, "dim") { index, d in
          try withContext("dim \(index)") { try dim(d) }
        })
    default:
      throw AttncError.invalid("has no value")
    }
  }

  /// A dim; recursion is bounded by the nesting check that ran before protobuf-c.
  static func dim(_ d: Attnc__DimExpr) throws -> Dim {
    var seen = Set<Dim.Monomial>()
    let terms = try messages(d.terms, d.n_terms, "dim term") {
      (_, t) -> (coefficient: Int, atoms: [Dim.Atom]) in
      let atoms = try messages(t.atoms, t.n_atoms, "dim atom") { _, a in try atom(a) }
      // Dim adds the coefficients of equal products, which could overflow; a plan never
      // repeats one.
      guard seen.insert(Dim.Monomial(atoms)).inserted else {
        throw AttncError.invalid("a dim repeats the product \(Dim(termList: [(1, atoms)]))")
      }
      return (try int(t.coefficient, "a dim coefficient"), atoms)
    }
    return Dim(termList: terms)
  }

  static func atom(_ a: Attnc__DimExpr__Atom) throws -> Dim.Atom {
    switch a.kind_case {
    case ATTNC__DIM_EXPR__ATOM__KIND_SYMBOL:
      return .symbol(text(a.symbol))
    case ATTNC__DIM_EXPR__ATOM__KIND_FLOOR_DIV:
      guard let division = a.floor_div?.pointee, let dividend = division.dividend?.pointee
      else { throw AttncError.invalid("a dim floor division has no dividend") }
      guard division.divisor >= 2, let divisor = Int(exactly: division.divisor) else {
        throw AttncError.invalid("a dim divides by \(division.divisor)")
      }
      return .floorDiv(try dim(dividend), divisor)
    default:
      throw AttncError.invalid("a dim atom has neither a symbol nor a division")
    }
  }

  // MARK: C values

  static func int(_ value: Int64, _ what: @autoclosure () -> String) throws -> Int {
    guard let result = Int(exactly: value) else {
      throw AttncError.invalid("\(what()) \(value) does not fit in an Int")
    }
    return result
  }

  /// A C string, or "" for NULL.
  static func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    pointer.map { String(cString: $0) } ?? ""
  }

  static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
    guard let start = data.data, data.len > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: start, count: data.len))
  }

  /// A C array of `count` plain values (empty for NULL).
  static func numbers<T>(_ pointer: UnsafeMutablePointer<T>?, _ count: Int) -> [T] {
    guard let pointer, count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: pointer, count: count))
  }

  /// A C array of `count` message pointers, each converted with its index.
  static func messages<Message, Result>(
    _ pointer: UnsafeMutablePointer<UnsafeMutablePointer<Message>?>?, _ count: Int,
    _ what: String, _ convert: (Int, Message) throws -> Result
  ) throws -> [Result] {
    guard count > 0 else { return [] }
    guard let pointer else { throw AttncError.invalid("the \(what) list is missing") }
    var result: [Result] = []
    result.reserveCapacity(count)
    for index in 0..<count {
      guard let element = pointer[index] else {
        throw AttncError.invalid("\(what) \(index) is missing")
      }
      result.append(try convert(index, element.pointee))
    }
    return result
  }
}

// MARK: - Nesting check

/// plan.proto's message fields, for the nesting pre-scan (`ProtobufNesting`) that runs before
/// protobuf-c, which recurses once per level; only `DimExpr` can nest without bound.
private enum NestingCheck {
  enum Kind {
    case header, decision, candidate, parameter, dims, slot, instruction, dimExpr, term, atom, floorDiv
  }

  /// The message kind of length-delimited field `field` of a `kind` message; nil for strings,
  /// bytes, packed numbers, messages without message fields, and unknown fields.
  static func child(of kind: Kind, field: UInt64) -> Kind? { children[kind]?[field] }

  /// Per message kind, its message fields by number.
  static let children: [Kind: [UInt64: Kind]] = [
    .header: [5: .decision, 6: .slot, 9: .instruction],
    .decision: [4: .parameter, 8: .candidate],
    .instruction: [2: .parameter],
    .candidate: [2: .parameter],
    .parameter: [7: .dims],
    .dims: [1: .dimExpr],
    .slot: [3: .dimExpr],
    .floorDiv: [1: .dimExpr],
    .dimExpr: [1: .term],
    .term: [2: .atom],
    .atom: [2: .floorDiv],
  ]

  /// Walks `bytes` as a `PlanHeader`: `ProtobufNesting.scan` with plan.proto's message fields.
  static func scan(_ bytes: UnsafeRawBufferPointer, root: Kind = .header, limit: Int)
    -> ProtobufNesting.Outcome
  {
    ProtobufNesting.scan(bytes, root: root, limit: limit) { child(of: $0, field: $1) }
  }
}

// MARK: - The fields decisions and candidates share

/// A decision or candidate message: the fields protobuf-c generates for both.
protocol EstimateMessage {
  var variant: UnsafeMutablePointer<CChar>! { get set }
  var n_parameters: Int { get set }
  var parameters: UnsafeMutablePointer<UnsafeMutablePointer<Attnc__Parameter>?>! { get set }
  var has_predicted_ms: protobuf_c_boolean { get set }
  var predicted_ms: Double { get set }
  var has_error: protobuf_c_boolean { get set }
  var error: Double { get set }
  var error_source: UnsafeMutablePointer<CChar>! { get set }
}

extension Attnc__Decision: EstimateMessage {}
extension Attnc__Candidate: EstimateMessage {}

/// A parameter's list message: protobuf-c's count and array of its values.
protocol ListMessage {
  associatedtype Element
  var n_values: Int { get set }
  var values: UnsafeMutablePointer<Element>! { get set }
}

extension Attnc__Parameter__Ints: ListMessage {}
extension Attnc__Parameter__Floats: ListMessage {}
extension Attnc__Parameter__Dims: ListMessage {}
