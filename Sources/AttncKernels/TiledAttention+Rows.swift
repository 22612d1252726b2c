import AttncTensor
import CAttnc

extension TiledAttention {
  /// Where a row-kernel call writes the concatenated keys and values (`present`), when it does.
  struct PresentOutputs {
    var keys: UnsafeMutablePointer<Float>
    var values: UnsafeMutablePointer<Float>
  }

  /// A decoding step's few query rows (`attnc_attention_rows_run`): per (batch, key/value head),
  /// the query heads that read it score each chunk of K in place, then sum V weighted by their
  /// probabilities, so a long KV cache is streamed once per call and never packed. K and V may be
  /// given in two runs along the key axis (`Concat(past, new)`); with `present` the call also
  /// writes their concatenation, in the same pass. Work is split over (batch, key/value head).
  ///
  /// - Parameters: `keys`, `values`: one or two `[B, Hkv, Lᵢ, d]` runs; `y` `[B, Hq, S, dv]`.
  static func runRows(
    q: Tensor, keys: [Tensor], values: [Tensor], term: AdditiveTerm?, options: Options,
    output y: UnsafeMutablePointer<Float>, present: PresentOutputs?
  ) {
    let (batch, heads, queries, depth) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let (kvHeads, valueDepth) = (keys[0].shape[1], values[0].shape[3])
    let runs = keys.map { $0.shape[2] }
    let total = runs.reduce(0, +)
    let group = heads / kvHeads
    let termValues = term?.values ?? []
    withBases(keys.map(\.floats)) { k in
      withBases(values.map(\.floats)) { v in
        q.floats.withUnsafeBufferPointer { qp in
          termValues.withUnsafeBufferPointer { tp in
            let (qBase, tBase) = (qp.baseAddress!, tp.baseAddress)
            Parallel.chunks(batch * kvHeads) { range in
              var scratch = [Float](repeating: 0, count: attnc_attention_rows_scratch_floats(group * queries, total))
              scratch.withUnsafeMutableBufferPointer { scratch in
                for item in range {
                  let b = item / kvHeads, firstHead = (item % kvHeads) * group
                  let queryOffset = (b * heads + firstHead) * queries
                  func run(_ index: Int) -> (UnsafePointer<Float>?, UnsafePointer<Float>?, Int) {
                    guard index < runs.count else { return (nil, nil, 0) }
                    return (k[index].map { $0 + item * runs[index] * depth }, v[index].map { $0 + item * runs[index] * valueDepth }, runs[index])
                  }
                  let (first, second) = (run(0), run(1))
                  var block = attnc_attention_rows(
                    q: qBase + queryOffset * depth, k: (first.0, second.0), v: (first.1, second.1), key_runs: (first.2, second.2),
                    present_k: present.map { $0.keys + item * total * depth },
                    present_v: present.map { $0.values + item * total * valueDepth },
                    y: y + queryOffset * valueDepth, term: nil, term_head_stride: 0, term_query_stride: 0, term_key_stride: 0,
                    group: group, rows: queries, depth: depth, value_depth: valueDepth,
                    causal: options.causal ? 1 : 0, diagonal: total - queries, scale: options.scale,
                    softcap: options.softcap, kernels: options.kernels.rawValue, zero_nan_rows: options.zeroNaNRows ? 1 : 0,
                    scratch: scratch.baseAddress!)
                  if let term, let tBase {
                    block.term = tBase + term.offset(batch: b, head: firstHead, query: 0)
                    block.term_head_stride = term.strides.head
                    block.term_query_stride = term.strides.query
                    block.term_key_stride = term.strides.key
                  }
                  attnc_attention_rows_run(&block)
                }
              }
            }
          }
        }
      }
    }
  }

  /// Calls `body` with the base address of each buffer (nil for an empty one), all pinned.
  static func withBases<R>(_ buffers: [FloatBuffer], _ body: ([UnsafePointer<Float>?]) -> R) -> R {
    func pin(_ index: Int, _ bases: [UnsafePointer<Float>?]) -> R {
      guard index < buffers.count else { return body(bases) }
      return buffers[index].withUnsafeBufferPointer { pin(index + 1, bases + [$0.baseAddress]) }
    }
    return pin(0, [])
  }
}
