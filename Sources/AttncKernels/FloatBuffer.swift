/// Gives a kernel the buffer for a float output of `count` elements (arena memory when the
/// interpreter planned it, else a fresh array). The elements start uninitialised.
public typealias FloatOutput = (_ count: Int) -> FloatBuffer

/// The elements of a float tensor: an owned array, or a region of the interpreter's arena.
///
/// It behaves as a value like `[Float]`: copies share memory until one is written, and a write
/// to a region another copy still holds moves the elements into an owned array first. A kernel
/// writes its output in place through `withUnsafeMutableBufferPointer` on the buffer
/// `KernelContext.floatOutput` gave it, which nothing else holds.
public struct FloatBuffer: Sendable {
  var array: [Float]
  /// Where the elements live when they are in the arena (then `array` is empty).
  var region: ArenaRegion?

  public init(_ array: [Float]) {
    self.array = array
    region = nil
  }

  /// `count` elements, to be written before they are read.
  public init(uninitializedCount count: Int) {
    array = [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    region = nil
  }

  init(region: ArenaRegion) {
    array = []
    self.region = region
  }

  /// True when the elements are in the arena.
  public var isInArena: Bool { region != nil }

  /// The arena address the elements start at (nil for an owned array).
  var regionStart: UnsafeMutablePointer<Float>? { region?.start }

  /// The elements as an owned array (a copy when they are in the arena).
  public var owned: [Float] {
    guard let region else { return array }
    return Array(UnsafeBufferPointer(start: region.start, count: region.count))
  }

  public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
    if let region { return try body(UnsafeBufferPointer(start: region.start, count: region.count)) }
    return try array.withUnsafeBufferPointer(body)
  }

  public mutating func withUnsafeMutableBufferPointer<R>(_ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
    makeWritable()
    if let region {
      var buffer = UnsafeMutableBufferPointer(start: region.start, count: region.count)
      return try body(&buffer)
    }
    return try array.withUnsafeMutableBufferPointer(body)
  }

  /// Moves the elements out of a region another copy shares, so a write changes only this copy.
  private mutating func makeWritable() {
    guard region != nil, !isKnownUniquelyReferenced(&region) else { return }
    array = owned
    region = nil
  }
}

extension FloatBuffer: RandomAccessCollection, MutableCollection {
  public typealias Index = Int
  public typealias SubSequence = ArraySlice<Float>

  public var startIndex: Int { 0 }
  public var endIndex: Int { region?.count ?? array.count }

  public subscript(position: Int) -> Float {
    get {
      if let region {
        precondition(position >= 0 && position < region.count, "FloatBuffer index out of range")
        return region.start[position]
      }
      return array[position]
    }
    set {
      makeWritable()
      if let region {
        precondition(position >= 0 && position < region.count, "FloatBuffer index out of range")
        region.start[position] = newValue
      } else {
        array[position] = newValue
      }
    }
  }

  /// A copy of the elements in `bounds`.
  public subscript(bounds: Range<Int>) -> ArraySlice<Float> {
    get {
      guard let region else { return array[bounds] }
      precondition(bounds.lowerBound >= 0 && bounds.upperBound <= region.count, "FloatBuffer range out of range")
      return ArraySlice(UnsafeBufferPointer(start: region.start + bounds.lowerBound, count: bounds.count))
    }
    set {
      precondition(newValue.count == bounds.count, "FloatBuffer slice assignment changes the count")
      for (offset, value) in newValue.enumerated() { self[bounds.lowerBound + offset] = value }
    }
  }
}

extension FloatBuffer: RangeReplaceableCollection {
  public init() { self.init([]) }

  public mutating func replaceSubrange<C: Collection>(_ subrange: Range<Int>, with newElements: C) where C.Element == Float {
    var elements = owned
    elements.replaceSubrange(subrange, with: newElements)
    self = FloatBuffer(elements)
  }

  public mutating func reserveCapacity(_ n: Int) {
    if region == nil { array.reserveCapacity(n) }
  }
}

extension FloatBuffer: ExpressibleByArrayLiteral {
  public init(arrayLiteral elements: Float...) { self.init(elements) }
}

extension FloatBuffer: Equatable {
  public static func == (lhs: FloatBuffer, rhs: FloatBuffer) -> Bool {
    lhs.elementsEqual(rhs)
  }

  public static func == (lhs: FloatBuffer, rhs: [Float]) -> Bool {
    lhs.elementsEqual(rhs)
  }

  public static func == (lhs: [Float], rhs: FloatBuffer) -> Bool {
    lhs.elementsEqual(rhs)
  }
}

extension FloatBuffer: CustomStringConvertible {
  public var description: String { owned.description }
}
