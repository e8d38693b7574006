"""rnnviz.load_weights: PyTorch's state_dicts in, the engine's parameters out, and every bad file refused."""

import io
import json
import pickle
import random
import struct
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save as save_safetensors

import rnnviz
from rnnviz.weights import CONVERT_TO_SAFETENSORS, MAX_FILE_BYTES, LoadedWeights, load_weights

from .conftest import CASES, ROOT

torch = pytest.importorskip("torch")

T, I, H = 7, 3, 5
MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def torch_module(kind, nonlinearity="tanh", input_size=I, hidden_size=H, seed=0, **kwargs):
    """A float64 nn.RNN / nn.LSTM / nn.GRU with PyTorch's seeded default init."""
    torch.manual_seed(seed)
    extra = {"nonlinearity": nonlinearity} if kind == "rnn" else {}
    return MODULES[kind](input_size, hidden_size, **extra, **kwargs).double()


def arrays_of(module, prefix=""):
    """The module's state_dict as NumPy arrays in PyTorch's layout: what a user exports."""
    return {prefix + k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def safetensors_bytes(arrays, **metadata):
    return save_safetensors(arrays, metadata={k: str(v) for k, v in metadata.items()} or None)


def npz_bytes(arrays, compressed=False, **strings):
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays, **{k: np.array(v) for k, v in strings.items()})
    return buf.getvalue()


FORMATS = {"safetensors": safetensors_bytes, "npz": npz_bytes}


def as_source(data, how, tmp_path, suffix):
    """The same file as bytes or as a path (its name's suffix deliberately says nothing)."""
    if how == "bytes":
        return data
    path = tmp_path / f"weights{suffix}"
    path.write_bytes(data)
    return path if how == "path" else str(path)


def torch_states(module, xs, h0=None, c0=None):
    """PyTorch's output (T, D*H) and final states for one unbatched sequence xs (T, I)."""
    x = torch.from_numpy(xs)
    with torch.no_grad():
        if h0 is None:
            out, state = module(x)
        elif c0 is None:
            out, state = module(x, torch.from_numpy(h0))
        else:
            out, state = module(x, (torch.from_numpy(h0), torch.from_numpy(c0)))
    h_n, c_n = state if isinstance(state, tuple) else (state, None)
    return out.numpy(), h_n.numpy(), None if c_n is None else c_n.numpy()


def refused(data, *words):
    """load_weights(data) raises ValueError whose message holds every word (case-insensitive)."""
    with pytest.raises(ValueError) as info:
        load_weights(data)
    message = str(info.value)
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in: {message}"
    return message


# --- valid files: PyTorch parity ----------------------------------------------------------------


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("how", ["bytes", "path", "str"])
@pytest.mark.parametrize(("kind", "nonlinearity"), CASES)
def test_exported_pytorch_weights_give_pytorchs_states(kind, nonlinearity, file_format, how, tmp_path):
    module = torch_module(kind, nonlinearity)
    metadata = {"nonlinearity": nonlinearity} if nonlinearity == "relu" else {}
    data = FORMATS[file_format](arrays_of(module), **metadata)
    loaded = load_weights(as_source(data, how, tmp_path, ".bin"))

    assert (loaded.kind, loaded.nonlinearity, loaded.file_format) == (kind, nonlinearity, file_format)
    assert (loaded.input_size, loaded.hidden_size, loaded.num_layers, loaded.bidirectional) == (I, H, 1, False)
    rng = np.random.default_rng(1)
    xs = rng.normal(size=(T, I))
    h0 = rng.normal(size=(1, H)) * 0.5
    c0 = rng.normal(size=(1, H)) * 0.5 if kind == "lstm" else None
    out, h_n, c_n = torch_states(module, xs, h0, c0)
    trace = rnnviz.forward(kind, loaded.params, xs, h0[0], None if c0 is None else c0[0], nonlinearity=nonlinearity)
    np.testing.assert_allclose(trace.h, out, rtol=0, atol=1e-13)
    np.testing.assert_allclose(trace.h[-1], h_n[0], rtol=0, atol=1e-13)
    if kind == "lstm":
        np.testing.assert_allclose(trace.c[-1], c_n[0], rtol=0, atol=1e-13)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_loaded_params_are_pytorchs_arrays_as_read_only_float64(kind):
    module = torch_module(kind)
    loaded = load_weights(safetensors_bytes(arrays_of(module)))
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        expected = getattr(module, f"{name}_l0").detach().numpy()
        assert loaded.params[name].dtype == np.float64
        assert not loaded.params[name].flags.writeable
        np.testing.assert_array_equal(loaded.params[name], expected)
    assert loaded.readout is None and loaded.vocab is None and loaded.ignored == ()
    assert rnnviz.check_params(kind, loaded.params) == (I, H)


def test_float32_file_from_safetensors_torch_matches_pytorch_in_float32(tmp_path):
    """The README's path: safetensors.torch.save_file of an ordinary float32 model."""
    from safetensors.torch import save_file

    torch.manual_seed(3)
    model = torch.nn.LSTM(I, H)  # float32, as trained
    save_file(model.state_dict(), tmp_path / "model.safetensors")
    loaded = load_weights(tmp_path / "model.safetensors")
    xs = np.random.default_rng(2).normal(size=(T, I))
    out, _, _ = torch_states(model, xs.astype(np.float32))
    np.testing.assert_allclose(rnnviz.forward("lstm", loaded.params, xs).h, out, atol=1e-6)


def test_readme_lines_save_a_file_that_loads_with_its_vocabulary(tmp_path, monkeypatch):
    """The README's "Your own weights" snippet, run as written: three lines save, one loads."""
    chars = list("abc d")
    model = torch.nn.Module()
    model.rnn, model.fc = torch.nn.LSTM(len(chars), 8), torch.nn.Linear(8, len(chars))
    section = (ROOT / "README.md").read_text().split("## Your own weights")[1]
    snippet = section.split("```python")[1].split("```")[0]
    monkeypatch.chdir(tmp_path)
    namespace = {"model": model, "vocab": chars}
    exec(snippet, namespace)
    loaded = namespace["weights"]
    assert loaded.vocab == chars
    assert loaded.describe() == "LSTM, 1 layer, input 5, hidden 8, readout 5, vocabulary of 5 characters"


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cell_state_dict_uses_engine_keys_and_matches_the_pytorch_cell(kind):
    cell = {"rnn": torch.nn.RNNCell, "lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}[kind](I, H).double()
    loaded = load_weights(npz_bytes(arrays_of(cell, prefix="cell.")))
    assert (loaded.kind, loaded.prefix, loaded.num_layers) == (kind, "cell.", 1)
    xs = np.random.default_rng(4).normal(size=(T, I))
    hs, state = [], None
    with torch.no_grad():
        for x in torch.from_numpy(xs):
            state = cell(x, state)
            hs.append((state[0] if kind == "lstm" else state).numpy())
    np.testing.assert_allclose(rnnviz.forward(kind, loaded.params, xs).h, np.stack(hs), rtol=0, atol=1e-13)


def test_engine_keys_round_trip_exactly():
    params = rnnviz.init_params("gru", 4, 6, seed=2)
    loaded = load_weights(npz_bytes(params))
    assert loaded.kind == "gru" and loaded.stack.keys() == {f"{k}_l0" for k in params}
    for name, value in params.items():
        np.testing.assert_array_equal(loaded.params[name], value)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_module_without_biases_loads_with_zero_biases(kind):
    module = torch_module(kind, bias=False)
    loaded = load_weights(safetensors_bytes(arrays_of(module)))
    assert not loaded.params["bias_ih"].any() and not loaded.params["bias_hh"].any()
    xs = np.random.default_rng(5).normal(size=(T, I))
    out, _, _ = torch_states(module, xs)
    np.testing.assert_allclose(rnnviz.forward(kind, loaded.params, xs).h, out, rtol=0, atol=1e-13)


# --- stacked and bidirectional --------------------------------------------------------------------


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize(("num_layers", "bidirectional"), [(2, False), (1, True), (3, True)])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_stacked_and_bidirectional_files_load_every_layer(kind, num_layers, bidirectional, file_format):
    module = torch_module(kind, num_layers=num_layers, bidirectional=bidirectional)
    expected = arrays_of(module)
    loaded = load_weights(FORMATS[file_format](expected))
    assert (loaded.num_layers, loaded.bidirectional) == (num_layers, bidirectional)
    assert list(loaded.stack) == list(module.state_dict())  # PyTorch's keys, in PyTorch's order
    for key, value in expected.items():
        np.testing.assert_array_equal(loaded.stack[key], value)
        assert loaded.stack[key].dtype == np.float64
    # Layer 0, forward direction, is what single-layer pages run: PyTorch's one-layer module agrees.
    one_layer = torch_module(kind)
    one_layer.load_state_dict({k[: -len("_l0")] + "_l0": torch.from_numpy(v) for k, v in expected.items()
                               if k.endswith("_l0")})
    xs = np.random.default_rng(6).normal(size=(T, I))
    out, _, _ = torch_states(one_layer, xs)
    np.testing.assert_allclose(rnnviz.forward(kind, loaded.params, xs).h, out, rtol=0, atol=1e-13)


@pytest.mark.parametrize(("kind", "nonlinearity"), CASES)
def test_forward_stack_on_loaded_weights_matches_pytorch(kind, nonlinearity):
    if not hasattr(rnnviz, "forward_stack"):
        pytest.skip("rnnviz.forward_stack is not on this branch yet")
    module = torch_module(kind, nonlinearity, num_layers=2, bidirectional=True)
    loaded = load_weights(safetensors_bytes(arrays_of(module), nonlinearity=nonlinearity))
    xs = np.random.default_rng(7).normal(size=(T, I))
    out, h_n, c_n = torch_states(module, xs)
    result = rnnviz.forward_stack(kind, loaded.stack, xs, nonlinearity=loaded.nonlinearity)
    np.testing.assert_allclose(result.output, out, rtol=0, atol=1e-13)
    np.testing.assert_allclose(result.h_n, h_n, rtol=0, atol=1e-13)
    if kind == "lstm":
        np.testing.assert_allclose(result.c_n, c_n, rtol=0, atol=1e-13)


def test_describe_names_kind_layers_directions_sizes_readout_and_vocabulary():
    module = torch_module("lstm", input_size=27, hidden_size=16, num_layers=2, bidirectional=True)
    arrays = arrays_of(module, "lstm.") | {"fc.weight": np.zeros((27, 32)), "fc.bias": np.zeros(27)}
    vocab = [chr(ord("a") + k) for k in range(26)] + [" "]
    loaded = load_weights(safetensors_bytes(arrays, vocab=json.dumps(vocab)))
    assert loaded.describe() == (
        "LSTM, 2 layers, bidirectional, input 27, hidden 16, readout 27, vocabulary of 27 characters"
    )
    relu = load_weights(npz_bytes(arrays_of(torch_module("rnn", "relu")), nonlinearity="relu"))
    assert relu.describe() == "RNN (relu), 1 layer, input 3, hidden 5"


# --- prefixes, readout, vocabulary, embedding, extra keys ---------------------------------------------


class CharModel(torch.nn.Module):
    """A typical user's model: a recurrent layer and a linear readout, as attributes."""

    def __init__(self, kind, rnn_name, fc_name, vocab_size=6, hidden_size=H, bias=True):
        super().__init__()
        self.rnn_name, self.fc_name = rnn_name, fc_name
        setattr(self, rnn_name, MODULES[kind](vocab_size, hidden_size))
        setattr(self, fc_name, torch.nn.Linear(hidden_size, vocab_size, bias=bias))

    def forward(self, x):
        out, _ = getattr(self, self.rnn_name)(x)
        return getattr(self, self.fc_name)(out)


@pytest.mark.parametrize(("rnn_name", "fc_name"), [("rnn", "fc"), ("lstm", "readout"), ("gru", "decoder"),
                                                   ("rnn", "linear"), ("rnn", "head")])
@pytest.mark.parametrize("file_format", FORMATS)
def test_wrapper_model_with_prefixed_keys_and_readout_gives_its_predictions(rnn_name, fc_name, file_format):
    kind = rnn_name
    torch.manual_seed(8)
    model = CharModel(kind, rnn_name, fc_name).double()
    loaded = load_weights(FORMATS[file_format](arrays_of(model)))
    assert (loaded.kind, loaded.prefix) == (kind, f"{rnn_name}.")
    xs = np.random.default_rng(9).normal(size=(T, 6))
    with torch.no_grad():
        expected = model(torch.from_numpy(xs)).numpy()
    h = rnnviz.forward(kind, loaded.params, xs).h
    y = h @ loaded.readout["weight_out"].T + loaded.readout["bias_out"]
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-13)


def test_nested_prefix_as_from_data_parallel_and_linear_without_bias():
    torch.manual_seed(10)
    model = CharModel("gru", "rnn", "fc", bias=False).double()
    loaded = load_weights(safetensors_bytes(arrays_of(model, prefix="module.")))
    assert loaded.prefix == "module.rnn."
    np.testing.assert_array_equal(loaded.readout["weight_out"], model.fc.weight.detach().numpy())
    assert not loaded.readout["bias_out"].any()


@pytest.mark.parametrize("file_format", FORMATS)
def test_engine_readout_keys_and_vocabulary_round_trip(file_format):
    params = rnnviz.init_params("lstm", 4, 3, seed=1)
    readout = rnnviz.init_readout(3, 4, seed=1)
    vocab = ["(", ")", "x", "é"]
    if file_format == "safetensors":
        data = safetensors_bytes(params | readout, vocab=json.dumps(vocab), kind="lstm")
    else:
        data = npz_bytes(params | readout, vocab=vocab, kind="lstm")
    loaded = load_weights(data)
    assert loaded.vocab == vocab
    for name, value in readout.items():
        np.testing.assert_array_equal(loaded.readout[name], value)


def test_bare_linear_weight_and_bias_from_merged_state_dicts_is_the_readout():
    rnn, fc = torch_module("rnn"), torch.nn.Linear(H, 2).double()
    loaded = load_weights(npz_bytes(arrays_of(rnn) | arrays_of(fc)))
    np.testing.assert_array_equal(loaded.readout["weight_out"], fc.weight.detach().numpy())
    np.testing.assert_array_equal(loaded.readout["bias_out"], fc.bias.detach().numpy())


def test_bidirectional_readout_reads_both_directions():
    module = torch_module("gru", bidirectional=True)
    loaded = load_weights(safetensors_bytes(arrays_of(module, "gru.") | {"fc.weight": np.ones((2, 2 * H))}))
    assert loaded.readout["weight_out"].shape == (2, 2 * H)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_embedding_is_folded_into_weight_ih_and_one_hot_inputs_give_the_models_states(kind):
    """nn.Embedding(V, E) -> nn.LSTM(E, H): the file loads as a one-hot network with input size V."""

    class Embedded(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(6, 4)
            self.rnn = MODULES[kind](4, H, bidirectional=True)

    torch.manual_seed(11)
    model = Embedded().double()
    chars = list("abcdef")
    loaded = load_weights(safetensors_bytes(arrays_of(model), vocab=json.dumps(chars)))
    assert (loaded.input_size, loaded.embedding, loaded.vocab) == (6, "embedding.weight", chars)
    assert loaded.stack["weight_ih_l0_reverse"].shape[1] == 6
    assert "embedding folded in" in loaded.describe()
    tokens = np.array([0, 3, 3, 5, 1, 2])
    with torch.no_grad():
        out, _ = model.rnn(model.embedding(torch.from_numpy(tokens)))
    trace = rnnviz.forward(kind, loaded.params, np.eye(6)[tokens])
    np.testing.assert_allclose(trace.h, out.numpy()[:, :H], rtol=0, atol=1e-13)


def test_unknown_keys_are_ignored_and_listed():
    arrays = arrays_of(torch_module("lstm")) | {
        "bn.num_batches_tracked": np.array(3),
        "bn.running_mean": np.zeros(4),
        "optimizer.state.0.exp_avg": np.zeros((20, 3)),
        "conv.weight": np.zeros((2, 2, 3)),
    }
    loaded = load_weights(safetensors_bytes(arrays, note="trained for 3 epochs"))
    assert loaded.kind == "lstm"
    assert loaded.ignored == ("bn.num_batches_tracked", "bn.running_mean", "conv.weight", "optimizer.state.0.exp_avg")


def test_npz_string_arrays_other_than_vocab_kind_nonlinearity_are_ignored_and_listed():
    loaded = load_weights(npz_bytes(good_arrays(), notes="trained on Austen", vocab=list("abc")))
    assert loaded.ignored == ("notes",) and loaded.vocab == list("abc")


def test_file_object_is_read_like_bytes():
    loaded = load_weights(io.BytesIO(safetensors_bytes(arrays_of(torch_module("gru")))))
    assert loaded.kind == "gru"


def test_loaded_weights_is_frozen():
    loaded = load_weights(safetensors_bytes(arrays_of(torch_module("rnn"))))
    assert isinstance(loaded, LoadedWeights)
    with pytest.raises(AttributeError):
        loaded.kind = "lstm"
    with pytest.raises(ValueError):
        loaded.stack["weight_hh_l0"][0, 0] = 1.0


# --- bad files: each refused with a message that names the problem ---------------------------


def test_pytorch_pt_file_is_refused_unread_with_the_lines_that_convert_it(tmp_path, monkeypatch):
    module = torch_module("lstm")
    path = tmp_path / "model.pt"
    torch.save(module.state_dict(), path)
    # Were anything unpickled, this would fail the test: no pickle machinery may run.
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    message = refused(path, "pickle", "PyTorch")
    assert CONVERT_TO_SAFETENSORS in message
    assert "from safetensors.torch import save_file\n" in message
    assert 'save_file(model.state_dict(), "model.safetensors")' in message


@pytest.mark.parametrize("make", [
    lambda m: _torch_bytes(m.state_dict(), legacy=True),
    lambda m: _torch_bytes(m, legacy=False),  # a whole pickled module
    lambda m: pickle.dumps({k: v.numpy() for k, v in m.state_dict().items()}),
], ids=["legacy-torch-save", "whole-module", "plain-pickle"])
def test_every_kind_of_pickle_is_refused(make):
    refused(make(torch_module("gru")), "pickle", "save_file")


def _torch_bytes(obj, legacy):
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def test_npz_with_object_array_is_refused_as_a_pickle():
    buf = io.BytesIO()
    np.savez(buf, weight_ih=np.zeros((4, 3)), vocab=np.array(["a", 1, None], dtype=object))
    refused(buf.getvalue(), "'vocab'", "objects", "unpickles")


def test_empty_file_is_refused(tmp_path):
    refused(b"", "empty")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    refused(tmp_path / "empty.safetensors", "empty")


def test_file_over_the_size_limit_is_refused_with_its_size_and_the_limit():
    message = refused(b"\0" * (MAX_FILE_BYTES + 1), "limit", f"{MAX_FILE_BYTES + 1:,} bytes", f"{MAX_FILE_BYTES:,}")
    assert "20 MB" in message


def test_huge_path_is_refused_after_reading_at_most_the_limit(tmp_path):
    path = tmp_path / "huge.safetensors"
    with open(path, "wb") as f:
        f.truncate(1 << 30)  # a sparse 1 GB file
    tracemalloc.start()
    try:
        refused(path, "limit", "1,073,741,824 bytes")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * MAX_FILE_BYTES


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_device_path_is_refused_after_reading_limit_plus_one_bytes():
    refused("/dev/zero", "limit", f"more than {MAX_FILE_BYTES:,} bytes")


def test_stream_over_the_limit_is_refused_after_reading_limit_plus_one_bytes():
    class Endless(io.RawIOBase):
        served = 0

        def readable(self):
            return True

        def read(self, n=-1):
            assert n == MAX_FILE_BYTES + 1, "must ask for limit + 1 bytes, never everything"
            Endless.served += n
            return b"\0" * n

    refused(Endless(), "limit")
    assert Endless.served == MAX_FILE_BYTES + 1


def test_npz_bomb_is_refused_by_its_unpacked_size():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("weight_ih_l0.npy", "w", force_zip64=True) as f:
            f.write(np.lib.format.magic(1, 0))
            chunk = b"\0" * (1 << 20)
            for _ in range(MAX_FILE_BYTES // len(chunk) + 2):
                f.write(chunk)
    assert len(buf.getvalue()) < 100_000  # small on disk, over 20 MB unpacked
    refused(buf.getvalue(), "unpack", "limit")


def test_npz_member_unpacking_past_its_stated_size_is_stopped_early():
    """A hand-made bomb whose zip headers understate its size: reading stops at the stated size."""
    payload = _npy_bytes(np.zeros((2000, 1000)))  # 16 MB of zeros, 16 KB deflated
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("weight_hh_l0.npy", payload)
    data = bytearray(buf.getvalue())
    stated = 1000
    local = data.index(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, stated)  # the local header's uncompressed size
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, stated)  # the central directory's
    tracemalloc.start()
    try:
        refused(bytes(data), "corrupt", "weight_hh_l0")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000


def test_npy_header_claiming_a_huge_shape_is_refused_before_allocating():
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    data = _zip({"weight_hh_l0.npy": header.getvalue() + b"\0" * 64})
    refused(data, "truncated", "weight_hh_l0", "(1000000, 1000000)")


def _npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def _zip(members, method=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


def test_bzip2_npz_is_refused_by_its_compression_method():
    data = _zip({f"{k}.npy": _npy_bytes(v) for k, v in arrays_of(torch_module("rnn")).items()}, zipfile.ZIP_BZIP2)
    refused(data, "compressed with zip method 12", "np.savez")


def test_zip_without_arrays_is_not_an_npz():
    refused(_zip({"notes.txt": b"hello"}), "zip", "not an .npz", "notes.txt")


def test_single_npy_array_is_refused_with_how_to_save_an_npz():
    refused(_npy_bytes(np.zeros((4, 3))), ".npy", "np.savez")


def test_safetensors_whose_length_starts_with_0x80_is_not_taken_for_a_pickle():
    arrays = good_arrays()
    # A header of 0x?80 bytes: its little-endian length starts with 0x80, as a pickle does.
    data = next(d for pad in range(600) if (d := safetensors_bytes(arrays, pad="x" * pad))[0] == 0x80)
    assert load_weights(data).kind == "lstm"


@pytest.mark.parametrize("data", [b"hello, world", b"\x89HDF\r\n\x1a\n" + b"\0" * 40, b"{}", b"\x00" * 64],
                         ids=["text", "hdf5", "json", "zeros"])
def test_other_files_are_not_safetensors_or_npz(data):
    refused(data, "not a .safetensors or .npz file")


@pytest.mark.parametrize("file_format", FORMATS)
def test_truncated_files_are_refused_as_truncated_or_corrupt(file_format):
    data = FORMATS[file_format](arrays_of(torch_module("lstm")))
    for cut in (9, 40, len(data) // 2, len(data) - 1):
        refused(data[:cut], "truncated")


def test_safetensors_with_hostile_header_lengths_is_refused():
    body = b'{"a": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}' + b"\0" * 8
    for n in (2**64 - 1, 2**63, len(body) + 1, 10**9):
        refused(struct.pack("<Q", n) + body, "truncated", f"{n:,} bytes")
    refused(struct.pack("<Q", 3) + body, "header is not valid JSON")


@pytest.mark.parametrize(("header", "words"), [
    ({"w": {"dtype": "F64", "shape": [4], "data_offsets": [0, 64]}}, ["runs past the end"]),
    ({"w": {"dtype": "F64", "shape": [3], "data_offsets": [0, 32]}}, ["shape (3,)", "32 bytes"]),
    ({"w": {"dtype": "F64", "shape": [-4], "data_offsets": [0, 32]}}, ["bad shape"]),
    ({"w": {"dtype": "F64", "shape": [10**30, 10**30], "data_offsets": [0, 32]}}, ["corrupt"]),
    ({"w": {"dtype": "F64", "shape": [4]}}, ["bad shape or data offsets"]),
    ({"w": [1, 2]}, ["header entry"]),
    ({"w": {"dtype": "F8_E4M3", "shape": [32], "data_offsets": [0, 32]}}, ["F8_E4M3", "float32"]),
    ({"__metadata__": {"vocab": 3}}, ["__metadata__"]),
], ids=["past-end", "size-mismatch", "negative-shape", "huge-shape", "no-offsets", "not-object", "f8", "metadata"])
def test_safetensors_with_a_hostile_header_is_refused(header, words):
    text = json.dumps(header).encode()
    refused(struct.pack("<Q", len(text)) + text + b"\0" * 32, *words)


def test_safetensors_header_nested_too_deep_is_refused_as_corrupt():
    text = b"{" + b'"a":[' * 50_000 + b"]" * 50_000 + b"}"
    refused(struct.pack("<Q", len(text)) + text, "not valid JSON")


def test_bfloat16_weights_are_refused_with_how_to_save_float32():
    from safetensors.torch import save as save_torch

    data = save_torch({k: v.to(torch.bfloat16) for k, v in torch_module("lstm").state_dict().items()})
    refused(data, "BF16", "float32", ".float()")


def good_arrays(kind="lstm", **kwargs):
    return arrays_of(torch_module(kind, **kwargs))


def without(arrays, *keys):
    return {k: v for k, v in arrays.items() if k not in keys}


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize(("make", "words"), [
    (lambda: {"fc.weight": np.zeros((2, 3))}, ["missing", "weight_ih_l0", "weight_hh_l0", "'fc.weight'"]),
    (lambda: {}, ["missing", "weight_ih_l0", "no arrays"]),
    (lambda: without(good_arrays(), "weight_hh_l0"), ["missing key 'weight_hh_l0'"]),
    (lambda: without(good_arrays(), "bias_hh_l0"), ["missing key 'bias_hh_l0'"]),
    (lambda: without(arrays_of(torch_module("gru"), "rnn."), "rnn.weight_ih_l0"), ["missing key 'rnn.weight_ih_l0'"]),
    (lambda: without(good_arrays(num_layers=2), "weight_hh_l1"), ["missing key 'weight_hh_l1'", "2-layer"]),
    (lambda: without(good_arrays(bidirectional=True), "weight_ih_l0_reverse"),
     ["missing key 'weight_ih_l0_reverse'", "bidirectional"]),
    (lambda: without(good_arrays(num_layers=3), *[f"{n}_l1" for n in rnnviz.cells.PARAM_NAMES]),
     ["missing layer 1", "weight_ih_l1", "[0, 2]"]),
    (lambda: good_arrays() | {"weight_hh_l0": np.zeros((10, 4))}, ["'weight_hh_l0'", "(10, 4)", "(G*H, H)"]),
    (lambda: good_arrays() | {"weight_hh_l0": np.zeros(20)}, ["'weight_hh_l0'", "(20,)"]),
    (lambda: good_arrays() | {"weight_hh_l0": np.zeros((8, 4))}, ["'weight_hh_l0'", "(8, 4)", "G = 1 (RNN)"]),
    (lambda: good_arrays() | {"weight_ih_l0": np.zeros((12, 3))}, ["'weight_ih_l0'", "(12, 3)", "expected (20, I)"]),
    (lambda: good_arrays() | {"bias_ih_l0": np.zeros(19)}, ["'bias_ih_l0'", "(19,)", "expected (20,)"]),
    (lambda: good_arrays(num_layers=2) | {"weight_ih_l1": np.zeros((20, 3))},
     ["'weight_ih_l1'", "(20, 3)", "expected (20, 5)", "layer 1 reads the 5 outputs of layer 0"]),
    (lambda: good_arrays(bidirectional=True) | {"weight_ih_l0_reverse": np.zeros((20, 4))},
     ["'weight_ih_l0_reverse'", "(20, 4)", "expected (20, 3)"]),
    (lambda: good_arrays() | {"weight_hh_l0": np.zeros((0, 0))}, ["'weight_hh_l0'", "(0, 0)"]),
    (lambda: good_arrays() | {"weight_ih_l0": np.zeros((20, 0))}, ["'weight_ih_l0'", "(20, 0)"]),
    (lambda: good_arrays() | {"weight_ih": np.zeros((20, 3))}, ["mixes"]),
    (lambda: good_arrays() | arrays_of(torch_module("gru"), "decoder."), ["several recurrent modules", "'decoder.'"]),
    (lambda: arrays_of(torch.nn.LSTM(3, 5, proj_size=2)), ["proj_size", "'weight_hr_l0'"]),
    (lambda: good_arrays() | {"weight_hh_l0": np.full((20, 5), np.nan)}, ["'weight_hh_l0'", "100 non-finite", "of 100"]),
    (lambda: good_arrays() | {"bias_hh_l0": np.r_[np.inf, np.zeros(19)]}, ["'bias_hh_l0'", "1 non-finite value "]),
    (lambda: good_arrays() | {"weight_hh_l0": np.zeros((20, 5), dtype=np.complex64)}, ["'weight_hh_l0'", "complex"]),
    (lambda: good_arrays() | {"fc.weight": np.zeros((4, 6))}, ["readout", "'fc.weight'", "(4, 6)", "(O, 5)"]),
    (lambda: good_arrays(bidirectional=True) | {"fc.weight": np.zeros((4, 5))}, ["'fc.weight'", "(O, 10)", "2H = 10"]),
    (lambda: good_arrays() | {"fc.weight": np.zeros((4, 5)), "fc.bias": np.zeros(3)}, ["'fc.bias'", "(3,)", "(4,)"]),
    (lambda: good_arrays() | {"fc.bias": np.zeros(3)}, ["missing key 'fc.weight'"]),
    (lambda: good_arrays() | {"bias_out": np.zeros(3)}, ["missing key 'weight_out'"]),
    (lambda: good_arrays() | {"fc.weight": np.zeros((4, 5)), "head.weight": np.zeros((4, 5))},
     ["several possible readouts", "'fc.weight'", "'head.weight'"]),
    (lambda: good_arrays() | {"fc.weight": np.full((4, 5), -np.inf)}, ["'fc.weight'", "20 non-finite"]),
    (lambda: good_arrays() | {"embedding.weight": np.zeros((6, 4))}, ["embedding", "(6, 4)", "(V, 3)"]),
    (lambda: good_arrays() | {"embed.weight": np.zeros((6, 3)), "emb.weight": np.zeros((6, 3))},
     ["several embeddings"]),
])
def test_bad_weights_are_refused_naming_the_key_and_the_problem(file_format, make, words):
    refused(FORMATS[file_format](make()), *words)


@pytest.mark.parametrize(("strings", "words"), [
    ({"vocab": json.dumps(list("abcd"))}, ["vocabulary has 4 entries", "reads 3 inputs", "weight_ih_l0"]),
    ({"vocab": "abc"}, ["'vocab'", "JSON list of strings"]),
    ({"vocab": json.dumps(["a", 1, "c"])}, ["'vocab'", "list of strings"]),
    ({"vocab": json.dumps([])}, ["'vocab'", "empty"]),
    ({"vocab": json.dumps(["a", "b", "a"])}, ["'vocab'", "'a' more than once"]),
    ({"kind": "gru"}, ["kind = 'gru'", "LSTM's shape", "(20, 5)"]),
    ({"kind": "transformer"}, ["'kind'", "'transformer'"]),
    ({"nonlinearity": "sigmoid"}, ["'nonlinearity'", "'sigmoid'"]),
    ({"nonlinearity": "relu"}, ["relu", "RNN only", "LSTM"]),
])
def test_bad_metadata_is_refused_naming_it(strings, words):
    refused(safetensors_bytes(good_arrays(), **strings), *words)


def test_npz_string_arrays_are_checked_like_metadata():
    refused(npz_bytes(good_arrays(), vocab=list("ab")), "vocabulary has 2 entries")
    refused(npz_bytes(good_arrays(), vocab=[["a", "b"]]), "'vocab'", "shape (1, 2)")
    refused(npz_bytes(good_arrays(), kind=["lstm", "gru"]), "'kind'", "one string")
    loaded = load_weights(npz_bytes(good_arrays(), vocab=json.dumps(list("abc")), kind="LSTM"))
    assert loaded.vocab == list("abc")
    refused(npz_bytes(good_arrays() | {"vocab": np.arange(3)}), "'vocab'", "strings")


@pytest.mark.parametrize("source", [123, None, ["weights.npz"], 1.5], ids=["int", "None", "list", "float"])
def test_source_of_the_wrong_type_is_refused(source):
    refused(source, "source must be a path or the bytes", type(source).__name__)


def test_missing_path_and_folder_are_refused(tmp_path):
    refused(tmp_path / "nope.safetensors", "cannot read", "nope.safetensors")
    refused(tmp_path, "cannot read")
    refused("bad\0name", "cannot read")


# --- fuzzing: any bytes give a LoadedWeights or a ValueError, nothing else -------------------


def _valid_files():
    lstm = arrays_of(torch_module("lstm", num_layers=2))
    return [
        safetensors_bytes(lstm | {"fc.weight": np.ones((2, H))}, vocab=json.dumps(list("abc"))),
        npz_bytes(arrays_of(torch_module("gru"))),
        npz_bytes(lstm, compressed=True, vocab=list("abc")),
    ]


VALID_FILES = _valid_files()


def loads_or_refuses(data):
    try:
        result = load_weights(data)
    except ValueError as err:
        assert str(err)
        return None
    assert isinstance(result, LoadedWeights)
    return result


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_arbitrary_bytes_raise_only_value_error(data):
    loads_or_refuses(data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY", b"\x80"]) | st.binary(min_size=8, max_size=8),
       st.binary(max_size=256))
def test_bytes_with_a_known_magic_raise_only_value_error(magic, rest):
    loads_or_refuses(magic + rest)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["weight_ih_l0", "weight_hh", "__metadata__", "fc.weight", "x"]),
                       _JSON | st.fixed_dictionaries({"dtype": st.sampled_from(["F64", "F32", "BF16", "I8", "x"]),
                                                      "shape": st.lists(st.integers(-2, 6), max_size=3),
                                                      "data_offsets": st.lists(st.integers(-2, 300), max_size=3)})),
       st.binary(max_size=300))
def test_safetensors_with_arbitrary_headers_raise_only_value_error(header, body):
    text = json.dumps(header).encode()
    loads_or_refuses(struct.pack("<Q", len(text)) + text + body)


def test_mutated_valid_files_raise_only_value_error():
    rng = random.Random(12)
    for data in VALID_FILES:
        assert loads_or_refuses(data) is not None
        for _ in range(400):
            mutated = bytearray(data)
            for _ in range(rng.choice([1, 1, 2, 8])):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            loads_or_refuses(bytes(mutated))
        for cut in range(0, len(data), max(1, len(data) // 200)):
            loads_or_refuses(data[:cut])
