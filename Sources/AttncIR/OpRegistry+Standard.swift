import AttncTensor

/// The registry's entries: every ONNX op attnc reads, one line each (`Ops/` holds the ops).
extension OpRegistry {
  static var standardEntries: [Entry] {
    binaryEntries + unaryEntries + variadicEntries + reduceEntries + [
      // Shape queries, reshaping, slicing, gathering, constants, casts.
      Entry("Shape", since: 1, Shape.self),
      Entry("Size", since: 1, Size.self),
      Entry("Reshape", since: 1, Reshape.self),
      Entry("Flatten", since: 1, Flatten.self),
      Entry("Squeeze", since: 1, Squeeze.self),
      Entry("Unsqueeze", since: 1, Unsqueeze.self),
      Entry("Transpose", since: 1, Transpose.self),
      Entry("Concat", since: 1, Concat.self),
      Entry("Split", since: 1, Split.self),
      Entry("Slice", since: 1, Slice.self),
      Entry("Gather", since: 1, Gather.self),
      Entry("GatherElements", since: 11, GatherElements.self),
      Entry("GatherND", since: 11, GatherND.self),
      Entry("ScatterND", since: 11, ScatterND.self),
      Entry("Expand", since: 8, Expand.self),
      Entry("Tile", since: 6, Tile.self),
      Entry("ConstantOfShape", since: 9, ConstantOfShape.self),
      Entry("Constant", since: 1, Constant.self),
      Entry("Range", since: 11, Range.self),
      Entry("Identity", since: 1, Identity.self),
      Entry("Dropout", since: 1, Dropout.self),
      Entry("Where", since: 9, Where.self),
      Entry("Cast", since: 1, Cast.self),
      Entry("CastLike", since: 15, CastLike.self),
      // Activations, normalisations, linear algebra, attention, quantization.
      Entry("Softmax", since: 1, Softmax.self),
      Entry("Clip", since: 6, Clip.self),
      Entry("CumSum", since: 11, CumSum.self),
      Entry("ArgMax", since: 1, ArgMax.self),
      Entry("TopK", since: 10, TopK.self),
      Entry("Trilu", since: 14, Trilu.self),
      Entry("MatMul", since: 1, MatMul.self),
      Entry("Gemm", since: 7, Gemm.self),
      Entry("Einsum", since: 12, Einsum.self),
      Entry("Conv", since: 1, Conv.self),
      Entry("ConvTranspose", since: 1, ConvTranspose.self),
      Entry("BatchNormalization", since: 7, BatchNormalization.self),
      Entry("LayerNormalization", since: 17, LayerNormalization.self),
      Entry("RMSNormalization", since: 23, LayerNormalization.rms(attributes:opset:)),
      // ONNX Runtime registers its RMSNorm in the default domain under this name.
      Entry("SimplifiedLayerNormalization", since: 1, LayerNormalization.rms(attributes:opset:)),
      Entry("Resize", since: 10, Resize.self),
      Entry("Attention", since: 23, Attention.self),
      Entry("LinearAttention", since: 27, LinearAttention.self),
      Entry("RotaryEmbedding", since: 23, RotaryEmbedding.self),
      Entry("QuantizeLinear", since: 10, QuantizeLinear.self),
      Entry("DequantizeLinear", since: 10, DequantizeLinear.self),
      Entry("DynamicQuantizeLinear", since: 11, DynamicQuantizeLinear.self),
      Entry("MatMulInteger", since: 10, MatMulInteger.self),
      Entry("QLinearMatMul", since: 10, QLinearMatMul.self),
      Entry("ConvInteger", since: 10, ConvInteger.self),
      Entry("QLinearConv", since: 10, QLinearConv.self),
      // ONNX Runtime's contrib ops (domain `com.microsoft`) that exporters and its optimizer write.
      Entry("Attention", domain: "com.microsoft", ContribAttention.self),
      Entry("MultiHeadAttention", domain: "com.microsoft", ContribMultiHeadAttention.self),
      Entry("GroupQueryAttention", domain: "com.microsoft", GroupQueryAttention.self),
      Entry("RotaryEmbedding", domain: "com.microsoft", ContribRotaryEmbedding.self),
      Entry("EmbedLayerNormalization", domain: "com.microsoft", EmbedLayerNormalization.self),
      Entry("QuickGelu", domain: "com.microsoft", QuickGelu.self),
      Entry("Gelu", domain: "com.microsoft") { _, _ in Unary(.gelu(tanh: false)) },
      Entry("BiasGelu", domain: "com.microsoft") { _, _ in BiasGelu(tanhApproximation: false) },
      Entry("FastGelu", domain: "com.microsoft") { _, _ in BiasGelu(tanhApproximation: true) },
      Entry("SkipLayerNormalization", domain: "com.microsoft") { a, _ in try SkipLayerNormalization(rms: false, attributes: a) },
      Entry("SkipSimplifiedLayerNormalization", domain: "com.microsoft") { a, _ in
        try SkipLayerNormalization(rms: true, attributes: a)
      },
      Entry("MatMulIntegerToFloat", domain: "com.microsoft", MatMulIntegerToFloat.self),
      Entry("DynamicQuantizeMatMul", domain: "com.microsoft", DynamicQuantizeMatMul.self),
      Entry("MatMulNBits", domain: "com.microsoft", MatMulNBits.self),
    ]
  }
}
