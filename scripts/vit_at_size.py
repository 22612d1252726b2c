#!/usr/bin/env python3
"""Derives a ViT export that takes larger images: the learned position table (class token + a
g x g patch grid) is interpolated bilinearly to the new grid, as Hugging Face's
`interpolate_pos_encoding` does (bicubic there), and the input is declared at the new size.
Everything else in the graph follows from the input shape. For benchmarks of long sequences
(issue #6): the derived model is a different model, not the checkpoint's own behaviour.

    python3 scripts/vit_at_size.py ../shared/models/vit_tiny_legacy/model.onnx --size 512 -o /tmp/vit512/model.onnx
"""
import argparse
import os

import numpy as np
import onnx
from onnx import numpy_helper


def bilinear(grid, size):
    """[g, g, c] -> [size, size, c], align_corners=False sampling."""
    g = grid.shape[0]
    centres = (np.arange(size) + 0.5) * g / size - 0.5
    low = np.clip(np.floor(centres).astype(int), 0, g - 1)
    high = np.clip(low + 1, 0, g - 1)
    frac = np.clip(centres - low, 0, 1)
    rows = grid[low] * (1 - frac)[:, None, None] + grid[high] * frac[:, None, None]
    return rows[:, low] * (1 - frac)[None, :, None] + rows[:, high] * frac[None, :, None]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--size", type=int, required=True, help="image side in pixels")
    parser.add_argument("--table", default="m.embeddings.position_embeddings", help="the position table initializer")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()

    model = onnx.load(args.model)
    image = model.graph.input[0].type.tensor_type.shape.dim
    old_side = image[2].dim_value
    table = next(t for t in model.graph.initializer if t.name == args.table)
    values = numpy_helper.to_array(table)
    grid = int(round((values.shape[1] - 1) ** 0.5))
    patch = old_side // grid
    if args.size % patch:
        raise SystemExit(f"--size must be a multiple of the patch size {patch}")
    new_grid = args.size // patch
    patches = bilinear(values[0, 1:].reshape(grid, grid, -1), new_grid).reshape(1, new_grid * new_grid, -1)
    resized = np.concatenate([values[:, :1], patches], axis=1).astype(values.dtype)
    table.CopyFrom(numpy_helper.from_array(resized, table.name))
    image[2].dim_value = args.size
    image[3].dim_value = args.size
    for output in model.graph.output:
        dims = output.type.tensor_type.shape.dim
        if len(dims) > 1 and dims[1].dim_value == values.shape[1]:
            dims[1].dim_value = resized.shape[1]
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    onnx.save(model, args.output)
    print(f"{args.output}: {args.size}x{args.size} images, {resized.shape[1]} tokens (position table {grid}x{grid} -> {new_grid}x{new_grid})")


if __name__ == "__main__":
    main()
