"""`attnc convert --to onnx` on the export fixtures of issue #9 (Tests/Fixtures/exports, written by
scripts/export_fixtures.py): every model file with its test data sets, Optimum's splits and both
branches of the merged decoders.

- `--policy exact`: ONNX Runtime on the written file matches ONNX Runtime on the input model
  element-wise within rtol 1e-3 (atol 1e-5) for float32 models; a model that computes in float16
  or bfloat16 or is quantized is compared by relative Frobenius error ≤ 1e-2 (attnc writes it
  widened to float32, so the reference rounds every operation where the written file does not:
  the rule of attnc's own parity tests, ParityRule). Where ONNX Runtime cannot run the input
  model (bfloat16 on CPU) the stored outputs are the reference.
- a variant (`performer:m=16`): ONNX Runtime on the written file matches attnc's own plan of the
  same options within 1e-4 relative error (a bfloat16 output within one bfloat16 rounding step,
  2⁻⁸, both sides rounding it). A decoding step on a KV cache (queries ≠ keys) is
  refused for a variant (the plan decides per call: exact for up to 4 new tokens) and skipped
  with the reason.

A fixture whose test data is absent is skipped with the path."""

import glob
import os

import numpy as np
import pytest

from onnx_output_support import (  # noqa: F401  (skips this module without onnx / onnxruntime)
    ROOT, convert, converted, inputs_of, needs_binary, onnx, ort, read_pb, relative_error, run_onnx, run_plan)

pytestmark = needs_binary

EXPORTS = os.path.join(ROOT, "Tests", "Fixtures", "exports")
NARROW = ("float16", "half", "bfloat16", "int8", "int4")


def cases():
    """(id, model, data set, branch or None) for every model file and test data set."""
    found = []
    for model in sorted(glob.glob(os.path.join(EXPORTS, "*", "*.onnx"))):
        folder, stem = os.path.dirname(model), os.path.splitext(os.path.basename(model))[0]
        data_root = folder if stem == "model" else os.path.join(folder, stem)
        name = os.path.basename(folder) + ("" if stem == "model" else "/" + stem)
        for data_set in sorted(glob.glob(os.path.join(data_root, "test_data_set_*"))) or [os.path.join(data_root, "test_data_set_0")]:
            index = int(data_set.rsplit("_", 1)[1])
            branch = (index == 1) if stem == "decoder_model_merged" else None
            found.append(("%s/%d" % (name, index), model, data_set, branch))
    return found


CASES = cases()


def branch_options(branch):
    return [] if branch is None else ["--branch", "use_cache_branch=%s" % ("true" if branch else "false")]


def feeds_of(model, data_set):
    if not os.path.isdir(data_set):
        pytest.skip("%s is absent (python3 scripts/export_fixtures.py writes it)" % data_set)
    return inputs_of(model, data_set)


def reference_outputs(model, data_set, feeds):
    """ONNX Runtime on the input model, or the stored outputs where it cannot run it."""
    try:
        return run_onnx(model, feeds)
    except Exception as error:  # noqa: BLE001  (ONNX Runtime raises its own types)
        stored = sorted(glob.glob(os.path.join(data_set, "output_*.pb")), key=lambda p: int(p.rsplit("_", 1)[1][:-3]))
        if not stored:
            pytest.skip("ONNX Runtime cannot run %s (%s) and %s holds no outputs" % (model, str(error)[:120], data_set))
        return [read_pb(path) for path in stored]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_exact_onnx_matches_the_fixture(case, tmp_path):
    name, model, data_set, branch = case
    feeds = feeds_of(model, data_set)
    written = converted(model, str(tmp_path / "exact.onnx"), "--policy", "exact", *branch_options(branch))
    onnx.checker.check_model(written, full_check=True)
    expected = reference_outputs(model, data_set, feeds)
    actual = run_onnx(written, feeds)
    assert len(actual) == len(expected)
    narrow = any(word in name for word in NARROW)
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape, "%s output %d: %s, expected %s" % (name, index, a.shape, e.shape)
        if not np.issubdtype(e.dtype, np.floating) and e.dtype.name != "bfloat16":
            np.testing.assert_array_equal(a, e, err_msg="%s output %d" % (name, index))
        elif narrow:
            error = relative_error(a.astype(np.float64), e.astype(np.float64))
            assert error <= 1e-2, "%s output %d: relative error %.3g" % (name, index, error)
        else:
            np.testing.assert_allclose(a, e, rtol=1e-3, atol=1e-5, err_msg="%s output %d" % (name, index))


VARIANT = "performer:m=16"


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_variant_onnx_matches_attncs_plan(case, tmp_path):
    import attnc

    name, model, data_set, branch = case
    feeds = feeds_of(model, data_set)
    written = str(tmp_path / "variant.onnx")
    result = convert(model, written, "--to", "onnx", "--variant", VARIANT, *branch_options(branch))
    if result.returncode == 2 and "has no ONNX form" in result.stderr:
        # A decoding step on a cache (queries ≠ keys): attnc's plan runs it exact for up to 4 new
        # tokens and the variant beyond, a choice per call that the written file does not make.
        pytest.skip("refused: %s" % result.stderr.strip().splitlines()[-1])
    assert result.returncode == 0, result.stderr
    plan = str(tmp_path / "variant.attnc")
    options = {} if branch is None else {"branch": {"use_cache_branch": branch}}
    attnc.convert(model, plan, policy="exact", variant=VARIANT, force=True, **options)
    expected = run_plan(plan, feeds)
    actual = run_onnx(written, feeds)
    assert len(actual) == len(expected)
    # A bfloat16 output is rounded to 8 significant bits by both: an element near a rounding
    # boundary may land one step (2⁻⁸ relative) apart.
    limit = 2.0 ** -8 if "bfloat16" in name else 1e-4
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape, "%s output %d" % (name, index)
        if np.issubdtype(e.dtype, np.floating):
            error = relative_error(a.astype(np.float64), e.astype(np.float64))
            assert error <= limit, "%s output %d: relative error %.3g against attnc's plan" % (name, index, error)
