"""The Python API (attnc.InferenceSession, convert, inspect) against ONNX Runtime and the
test data's reference outputs: parity, errors as exceptions with attnc's messages, and one
session run from two threads. Needs numpy and pytest; ONNX Runtime and onnx for parity (the
tests that need them, or ../shared, skip with the reason)."""

import glob
import os
import threading

import numpy as np
import pytest

import attnc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(ROOT, "samples", "bert_tiny")
SHARED = os.environ.get("ATTNC_SHARED", os.path.join(ROOT, "..", "shared"))
SHARED_MODELS = sorted(glob.glob(os.path.join(SHARED, "models", "*", "model.onnx")))


def read_pb(path):
    numpy_helper = pytest.importorskip("onnx.numpy_helper", reason="onnx is not installed: cannot read test_data_set .pb files")
    import onnx

    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return numpy_helper.to_array(tensor)


def data_sets(model_dir):
    return sorted(glob.glob(os.path.join(model_dir, "test_data_set_*")))


def feeds(session, data_set):
    return {port.name: read_pb(os.path.join(data_set, "input_%d.pb" % i)) for i, port in enumerate(session.get_inputs())}


@pytest.fixture(scope="module")
def bert_tiny(tmp_path_factory):
    plan = str(tmp_path_factory.mktemp("plans") / "bert_tiny.attnc")
    attnc.convert(os.path.join(SAMPLE, "model.onnx"), plan, policy="exact")
    return attnc.InferenceSession(plan, threads=2)


def assert_parity(session, model, data_set):
    inputs = feeds(session, data_set)
    actual = session.run(None, inputs)
    references = sorted(glob.glob(os.path.join(data_set, "output_*.pb")))
    assert references, "no output_*.pb in %s" % data_set
    for index, path in enumerate(references):
        np.testing.assert_allclose(actual[index], read_pb(path), rtol=1e-3, atol=1e-5, err_msg="%s output %d" % (data_set, index))
    try:
        import onnxruntime
    except ImportError:
        pytest.skip("onnxruntime is not installed: compared with the stored reference outputs only")
    ort = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    expected = ort.run(None, {i.name: inputs[s.name] for i, s in zip(ort.get_inputs(), session.get_inputs())})
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape
        np.testing.assert_allclose(a, e, rtol=1e-3, atol=1e-5, err_msg="%s output %d against ONNX Runtime" % (model, index))


# MARK: - parity


@pytest.mark.parametrize("data_set", data_sets(SAMPLE))
def test_bert_tiny_matches_onnx_runtime(bert_tiny, data_set):
    assert_parity(bert_tiny, os.path.join(SAMPLE, "model.onnx"), data_set)


@pytest.mark.skipif(not SHARED_MODELS, reason="../shared/models is absent (set ATTNC_SHARED): shared-model parity not run")
@pytest.mark.parametrize("model", SHARED_MODELS, ids=[os.path.basename(os.path.dirname(m)) for m in SHARED_MODELS])
def test_shared_model_matches_onnx_runtime(model, tmp_path):
    plan = str(tmp_path / "model.attnc")
    attnc.convert(model, plan, policy="exact")
    session = attnc.InferenceSession(plan)
    sets = data_sets(os.path.dirname(model))
    assert sets, "no test_data_set_* beside %s" % model
    for data_set in sets:
        assert_parity(session, model, data_set)


def test_ports_describe_the_plan(bert_tiny):
    inputs = bert_tiny.get_inputs()
    assert [i.type for i in inputs] == ["tensor(int64)"] * len(inputs)
    assert all(isinstance(d, (int, str)) for i in inputs for d in i.shape)
    assert any(isinstance(d, str) for d in inputs[0].shape), "bert_tiny's sequence length is symbolic"
    assert bert_tiny.get_outputs()[0].type == "tensor(float)"


def test_selected_outputs_and_arrays_outliving_the_session(tmp_path):
    plan = str(tmp_path / "bert_tiny.attnc")
    attnc.convert(os.path.join(SAMPLE, "model.onnx"), plan, policy="exact")
    session = attnc.InferenceSession(plan)
    inputs = feeds(session, data_sets(SAMPLE)[0])
    every = session.run(None, inputs)
    last = session.get_outputs()[-1].name
    (only,) = session.run([last], inputs)
    # Float outputs are the library's buffers wrapped, not copies: numpy does not own them.
    assert only.dtype == np.float32 and not only.flags.owndata
    session.close()
    del session
    np.testing.assert_array_equal(only, every[-1])


def test_inspect_returns_the_json_dicts(bert_tiny, tmp_path):
    model = attnc.inspect(os.path.join(SAMPLE, "model.onnx"))
    assert [i["name"] for i in model["inputs"]] == [i.name for i in bert_tiny.get_inputs()]
    plan = str(tmp_path / "p.attnc")
    report = attnc.convert(os.path.join(SAMPLE, "model.onnx"), plan, policy="exact")
    assert report == attnc.inspect(plan)
    assert report["policy"] == "exact"


# MARK: - errors


def test_missing_plan_raises_with_attncs_message(tmp_path):
    path = str(tmp_path / "missing.attnc")
    with pytest.raises(attnc.AttncError) as caught:
        attnc.InferenceSession(path)
    assert path in str(caught.value)


def test_wrong_input_name_raises(bert_tiny):
    inputs = feeds(bert_tiny, data_sets(SAMPLE)[0])
    first = bert_tiny.get_inputs()[0].name
    inputs["no_such_input"] = inputs.pop(first)
    with pytest.raises(attnc.UsageError, match="'no_such_input' is not an input of the plan"):
        bert_tiny.run(None, inputs)


def test_wrong_dtype_raises(bert_tiny):
    inputs = feeds(bert_tiny, data_sets(SAMPLE)[0])
    first = bert_tiny.get_inputs()[0].name
    inputs[first] = inputs[first].astype(np.int32)
    with pytest.raises(attnc.InvalidModelError, match="input '%s' is int32 but the plan expects int64" % first):
        bert_tiny.run(None, inputs)


def test_wrong_shape_raises(bert_tiny):
    inputs = feeds(bert_tiny, data_sets(SAMPLE)[0])
    first = bert_tiny.get_inputs()[0].name
    inputs[first] = inputs[first].reshape(-1)
    with pytest.raises(attnc.AttncError, match="input '%s' has rank 1" % first):
        bert_tiny.run(None, inputs)


def test_unknown_output_and_policy_raise(bert_tiny, tmp_path):
    inputs = feeds(bert_tiny, data_sets(SAMPLE)[0])
    with pytest.raises(attnc.UsageError, match="'nope' is not an output of the plan"):
        bert_tiny.run(["nope"], inputs)
    with pytest.raises(attnc.UsageError, match="unknown policy 'quickest'"):
        attnc.convert(os.path.join(SAMPLE, "model.onnx"), str(tmp_path / "x.attnc"), policy="quickest")


MERGED = os.path.join(ROOT, "Tests", "Fixtures", "exports", "gpt2_merged_optimum")


@pytest.mark.skipif(not os.path.exists(MERGED), reason="Tests/Fixtures/exports/gpt2_merged_optimum is absent")
@pytest.mark.parametrize("branch", [False, True])
def test_merged_decoder_converts_one_branch(branch, tmp_path):
    """Optimum's merged decoder: branch={"use_cache_branch": ...} is `--branch`; each plan agrees
    with ONNX Runtime on its branch's test data (set 0: false, set 1: true)."""
    model = os.path.join(MERGED, "decoder_model_merged.onnx")
    plan = str(tmp_path / "merged.attnc")
    attnc.convert(model, plan, policy="exact", branch={"use_cache_branch": branch})
    session = attnc.InferenceSession(plan, threads=2)
    assert "use_cache_branch" in [port.name for port in session.get_inputs()]
    assert_parity(session, model, os.path.join(MERGED, "decoder_model_merged", "test_data_set_%d" % int(branch)))
    with pytest.raises(attnc.UsageError, match="branch must map condition inputs to true or false"):
        attnc.convert(model, plan, policy="exact", branch="use_cache_branch=true", force=True)


# MARK: - threads


def test_one_session_from_two_threads(bert_tiny):
    sets = data_sets(SAMPLE)
    inputs = [feeds(bert_tiny, s) for s in sets]
    expected = [bert_tiny.run(None, i) for i in inputs]
    failures = []

    def work(which):
        try:
            for _ in range(10):
                for a, e in zip(bert_tiny.run(None, inputs[which]), expected[which]):
                    np.testing.assert_array_equal(a, e)
        except Exception as error:  # reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=work, args=(n % len(inputs),)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
