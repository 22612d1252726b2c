/// Namespace for the compute kernels (filled by the interpreter work of issue #3).
public enum Kernels {}
