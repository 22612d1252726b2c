#!/usr/bin/env python3
"""Test data for the real ViT-S of ../shared/tools/real-models.sh at any image size, from scikit-image's
photographs (the wheel real-models.sh downloads): one ONNX test_data_set folder per photograph and size,
with ONNX Runtime's outputs. Calibrate on one photograph, check on another:

    bash ../shared/tools/real-models.sh /tmp/attnc-real
    python3 scripts/real_photos.py /tmp/attnc-real --size 896 --photo astronaut --photo coffee
    attnc convert /tmp/attnc-real/vit_s_focus/model.onnx --policy balanced \\
        --calibration /tmp/attnc-real/photos/astronaut_896 -o vit.attnc
    attnc run vit.attnc --test-data /tmp/attnc-real/photos/coffee_896/test_data_set_0 --max-relative-error 0.01

Writes OUT/photos/NAME_SIZE/test_data_set_0/{input_0.pb, output_0.pb}; existing folders are kept.
"""
import argparse
import glob
import io
import os
import zipfile

import numpy as np
import onnxruntime as ort
from onnx import numpy_helper
from PIL import Image


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="the folder real-models.sh wrote (has vit_s_focus/ and dl/)")
    parser.add_argument("--size", type=int, action="append", help="image side, a multiple of 14 (repeatable; default 224, 896)")
    parser.add_argument("--photo", action="append", help="scikit-image photograph name (repeatable; default astronaut, coffee)")
    args = parser.parse_args()
    sizes, photos = args.size or [224, 896], args.photo or ["astronaut", "coffee"]
    wheels = glob.glob(os.path.join(args.out, "dl", "scikit_image-*.whl"))
    model = os.path.join(args.out, "vit_s_focus", "model.onnx")
    if not wheels or not os.path.exists(model):
        raise SystemExit(f"{args.out}: no vit_s_focus/model.onnx or dl/scikit_image-*.whl; run ../shared/tools/real-models.sh {args.out} first")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    archive = zipfile.ZipFile(wheels[0])
    for photo in photos:
        image = Image.open(io.BytesIO(archive.read(f"skimage/data/{photo}.png"))).convert("RGB")
        for size in sizes:
            if size % 14:
                raise SystemExit(f"--size {size}: the ViT-S patch is 14 pixels; use a multiple of 14")
            folder = os.path.join(args.out, "photos", f"{photo}_{size}", "test_data_set_0")
            if os.path.exists(os.path.join(folder, "output_0.pb")):
                print(folder, "exists")
                continue
            os.makedirs(folder, exist_ok=True)
            pixels = np.asarray(image.resize((size, size)), np.float32) / 255
            x = ((pixels - 0.5) / 0.5).transpose(2, 0, 1)[None].astype(np.float32)
            y = session.run(None, {"input_image": x})[0]
            open(os.path.join(folder, "input_0.pb"), "wb").write(numpy_helper.from_array(x, "input_image").SerializeToString())
            open(os.path.join(folder, "output_0.pb"), "wb").write(numpy_helper.from_array(y, "output_importance").SerializeToString())
            print(folder, "written")


if __name__ == "__main__":
    main()
