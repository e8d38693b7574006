"""Load a user's own PyTorch RNN / LSTM / GRU weights from a .safetensors or .npz file, safely.

The file holds the state_dict of one nn.RNN, nn.LSTM or nn.GRU (any number of layers, one or both
directions; keys weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._reverse, ..._l1, ...),
or of one nn.RNNCell / nn.LSTMCell / nn.GRUCell, whose keys are the engine's own (weight_ih,
weight_hh, bias_ih, bias_hh). A wrapper model's state_dict works too: its module prefix
("rnn.", "model.lstm.") is found and dropped. The cell kind and the sizes come from the shapes.

What else is read, and the rules (every problem is a ValueError that names the key, the shape or
the problem):
- a readout: "weight_out" / "bias_out", or the weight and bias of an nn.Linear named fc, readout,
  decoder, linear, out, output, head, classifier or dense (e.g. "fc.weight"), or a bare
  "weight" / "bias". Its weight must be (O, D*H): it reads the top layer's output. No bias -> 0.
- an nn.Embedding named embedding, embeddings, embed, emb or encoder ("embedding.weight", (V, E)):
  folded into layer 0's weight_ih (W_ih E^T, (G*H, V)), so the loaded network reads one-hot
  vectors of size V and computes exactly what the model computes on token indices.
- strings, from the safetensors header's metadata or from string arrays in an .npz: "vocab" (a
  JSON list of strings, or an array of strings), "nonlinearity" ("tanh" or "relu"; RNN only;
  default tanh) and "kind" (a hint: "rnn", "lstm" or "gru"; an error if the shapes disagree).
- the vocabulary must have one entry per input (one-hot inputs), no duplicates: a mismatch is an
  error, not a warning, because text could not be encoded for the network.
- every other key (an optimizer's leftovers, "num_batches_tracked", other layers) is ignored and
  listed in LoadedWeights.ignored, so a caller can show what was left out.

Safety: nothing is ever unpickled. The format comes from the content, not the file name; a
PyTorch .pt / .pth file (a pickle, or a zip holding one) is refused with the two lines that
convert it. Files over MAX_FILE_BYTES are refused before parsing (a path is read up to the limit
plus one byte), and so is an .npz whose arrays would unpack to more than the limit.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import safetensors.numpy

from .cells import KINDS, NONLINEARITIES, PARAM_NAMES

MAX_FILE_BYTES = 20_000_000  # 20 MB: far above any network the pages can draw
MAX_ARRAYS = 1000  # arrays in one file; a 4-layer bidirectional LSTM has 32

CONVERT_TO_SAFETENSORS = 'from safetensors.torch import save_file\nsave_file(model.state_dict(), "model.safetensors")'

KIND_OF_BLOCKS = {spec.G: key for key, spec in sorted(KINDS.items(), key=lambda kv: kv[1].G)}  # G -> kind
READOUT_NAMES = frozenset({"fc", "readout", "decoder", "linear", "out", "output", "head", "classifier", "dense"})
EMBEDDING_NAMES = frozenset({"embedding", "embeddings", "embed", "emb", "encoder"})
STRING_KEYS = ("vocab", "nonlinearity", "kind")

_STACK_KEY = re.compile(
    r"(?P<prefix>(?:.+\.)?)(?P<name>weight_ih|weight_hh|bias_ih|bias_hh)_l(?P<layer>0|[1-9][0-9]*)(?P<reverse>_reverse)?"
)
_ENGINE_KEY = re.compile(r"(?P<prefix>(?:.+\.)?)(?P<name>weight_ih|weight_hh|bias_ih|bias_hh)")
_PROJECTION_KEY = re.compile(r"(?:.+\.)?weight_hr_l[0-9]+(?:_reverse)?")
_MODULE_WEIGHT = re.compile(r"(?:(?P<module>.+)\.)?weight")

# safetensors dtypes that NumPy can hold, and their item sizes in bytes.
_SAFETENSORS_DTYPES = {"F64": 8, "F32": 4, "F16": 2, "I64": 8, "U64": 8, "I32": 4, "U32": 4, "I16": 2, "U16": 2,
                       "I8": 1, "U8": 1, "BOOL": 1, "C64": 8}
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}  # what np.savez / np.savez_compressed write


@dataclass(frozen=True)
class LoadedWeights:
    """A recurrent network read from a file: arrays are float64 and read-only."""

    kind: str  # "rnn", "lstm" or "gru", from the shapes
    nonlinearity: str  # "tanh" or "relu" (the RNN's; "tanh" for LSTM and GRU)
    params: dict[str, np.ndarray]  # the engine's keys, layer 0 forward: weight_ih (G*H, I), weight_hh
    #                                 (G*H, H), bias_ih, bias_hh (G*H,): what rnnviz.forward runs
    readout: dict[str, np.ndarray] | None  # weight_out (O, D*H), bias_out (O,), or None
    vocab: list[str] | None  # one entry per input, or None
    num_layers: int  # L
    bidirectional: bool  # D = 2 if True, else 1
    stack: dict[str, np.ndarray]  # every layer, keyed as nn.RNN/LSTM/GRU's state_dict (no prefix):
    #                               the input of rnnviz.forward_stack
    input_size: int  # I (V, the vocabulary size, when an embedding was folded in)
    hidden_size: int  # H
    file_format: str = "safetensors"  # "safetensors" or "npz", as detected from the content
    prefix: str = ""  # the module prefix dropped from the keys, e.g. "rnn."
    embedding: str | None = None  # the key of the embedding folded into weight_ih, or None
    ignored: tuple[str, ...] = ()  # keys in the file that were not used

    def describe(self) -> str:
        """One line, e.g. "LSTM, 2 layers, bidirectional, input 27, hidden 64, readout 27, ..."."""
        spec = KINDS[self.kind]
        kind = spec.label + (f" ({self.nonlinearity})" if len(spec.nonlinearities) > 1 else "")
        parts = [kind, f"{self.num_layers} layer{'s' if self.num_layers > 1 else ''}"]
        if self.bidirectional:
            parts.append("bidirectional")
        parts.append(f"input {self.input_size}" + (" (embedding folded in)" if self.embedding else ""))
        parts.append(f"hidden {self.hidden_size}")
        if self.readout is not None:
            parts.append(f"readout {self.readout['weight_out'].shape[0]}")
        if self.vocab is not None:
            unit = "characters" if all(len(v) == 1 for v in self.vocab) else "tokens"
            parts.append(f"vocabulary of {len(self.vocab)} {unit}")
        return ", ".join(parts)


def load_weights(source) -> LoadedWeights:
    """Read a recurrent network from `source`: a path, or the bytes of a .safetensors or .npz file.

    A binary file object (e.g. Streamlit's UploadedFile) works too. Raises ValueError, naming the
    key, the shape or the problem, for anything it cannot use; never unpickles.
    """
    data = _read_source(source)
    file_format, arrays, strings = _parse(data)
    return _interpret(file_format, arrays, strings)


# --- reading the bytes, within the size limit --------------------------------------------------


def _too_large(size: int | str) -> ValueError:
    shown = size if isinstance(size, str) else f"{size:,} bytes ({size / 1e6:.1f} MB)"
    return ValueError(
        f"the file is {shown}, over the size limit of {MAX_FILE_BYTES:,} bytes ({MAX_FILE_BYTES / 1e6:g} MB); "
        "rnnviz loads small networks only"
    )


def _read_limited(f, what: str) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes from a binary file object; the extra byte shows it is too large."""
    try:
        data = f.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read {what}: {err}") from err
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError(f"{what} must be opened in binary mode ('rb'), got {type(data).__name__} from read()")
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(f"more than {MAX_FILE_BYTES:,} bytes")
    return bytes(data)


def _read_source(source) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        size = memoryview(source).nbytes
        if size > MAX_FILE_BYTES:
            raise _too_large(size)
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        try:
            f = open(source, "rb")
        except (OSError, TypeError, ValueError) as err:  # missing, a folder, no permission; a NUL in the path
            reason = getattr(err, "strerror", None) or err
            raise ValueError(f"cannot read the weights file {str(source)!r}: {reason}") from err
        with f:
            size = os.fstat(f.fileno()).st_size  # 0 for a pipe or a device: then the read below stops it
            if size > MAX_FILE_BYTES:
                raise _too_large(size)
            return _read_limited(f, f"the weights file {str(source)!r}")
    if hasattr(source, "read"):
        return _read_limited(source, "the uploaded file")
    raise ValueError(
        f"source must be a path or the bytes of a .safetensors or .npz file, got {type(source).__name__}"
    )


# --- parsing: from bytes to named arrays and strings, by the content --------------------------


def _pickle_refused(what: str) -> ValueError:
    return ValueError(
        f"this is {what}; rnnviz never unpickles files, because loading a pickle can run any code its "
        "author put in it. Save the weights as .safetensors instead, in Python where your model is:\n"
        + CONVERT_TO_SAFETENSORS
    )


def _corrupt(what: str, err: BaseException) -> ValueError:
    return ValueError(f"the file is a truncated or corrupt {what}: {err}")


def _reraise_unless_parser_error(err: BaseException) -> None:
    """Parsers of hostile bytes may raise anything; pyo3's PanicException (a Rust panic) is a BaseException."""
    if not (isinstance(err, Exception) or type(err).__name__ == "PanicException"):
        raise err


def _parse(data: bytes) -> tuple[str, dict[str, np.ndarray], dict[str, object]]:
    """The file's format, its numeric arrays by key, and its strings (vocab, nonlinearity, kind)."""
    if not data:
        raise ValueError("the file is empty (0 bytes); expected a .safetensors or .npz file of weights")
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "npz", *_parse_zip(data)
    if data[:6] == b"\x93NUMPY":
        raise ValueError(
            "this is a single .npy array, not a file of named weights; save all of them in one .npz with "
            'np.savez("weights.npz", **arrays), or as .safetensors'
        )
    # safetensors: a u64 header length, then a JSON object. Its first byte may be 0x80, as a pickle's
    # is (protocol 2+, and torch.save's legacy format): a header length that fits tells them apart.
    safetensors_like = len(data) >= 9 and data[8:9] == b"{"
    if safetensors_like and int.from_bytes(data[:8], "little") <= len(data) - 8:
        return "safetensors", *_parse_safetensors(data)
    if data[0] == 0x80:
        raise _pickle_refused("a pickle (a PyTorch .pt/.pth file, or another pickled object)")
    if safetensors_like:
        return "safetensors", *_parse_safetensors(data)  # it reports the truncation
    raise ValueError(
        f"this is not a .safetensors or .npz file (it starts with the bytes {data[:8]!r}); "
        "save the state_dict with safetensors, or the arrays with np.savez"
    )


def _parse_safetensors(data: bytes):
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError(
            f"the file is a truncated or corrupt .safetensors file: its header says {n:,} bytes of JSON "
            f"follow, but only {len(data) - 8:,} bytes do"
        )
    try:
        header = json.loads(data[8 : 8 + n])
    except BaseException as err:  # not JSON, not UTF-8, nested too deep, an int too long
        _reraise_unless_parser_error(err)
        raise _corrupt(".safetensors file (its header is not valid JSON)", err) from err
    if not isinstance(header, dict):
        raise ValueError("the file is a corrupt .safetensors file: its header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError("the file is a corrupt .safetensors file: its __metadata__ must map names to strings")
    if len(header) > MAX_ARRAYS:
        raise ValueError(f"the file holds {len(header):,} arrays, more than the limit of {MAX_ARRAYS:,}")
    body = len(data) - 8 - n
    for key, info in header.items():
        _check_safetensors_entry(key, info, body)
    try:
        arrays = safetensors.numpy.load(data)
    except BaseException as err:
        _reraise_unless_parser_error(err)
        raise _corrupt(".safetensors file", err) from err
    strings = {k: v for k, v in metadata.items() if k in STRING_KEYS}
    return arrays, strings


def _check_safetensors_entry(key: str, info, body: int) -> None:
    """One tensor's header entry: a dtype NumPy can hold, a shape, and offsets inside the data."""
    if not isinstance(info, dict):
        raise ValueError(f"the file is a corrupt .safetensors file: the header entry of {key!r} is not an object")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(dtype, str):
        raise ValueError(f"the file is a corrupt .safetensors file: {key!r} has no dtype")
    if dtype not in _SAFETENSORS_DTYPES:
        raise ValueError(
            f"{key!r} is stored as {dtype}, which NumPy cannot read; save the weights as float32 or float64, "
            'e.g. save_file({k: v.float() for k, v in model.state_dict().items()}, "model.safetensors")'
        )
    if not _is_counts(shape) or not _is_counts(offsets) or len(offsets) != 2:
        raise ValueError(f"the file is a corrupt .safetensors file: {key!r} has a bad shape or data offsets")
    begin, end = offsets
    if not begin <= end <= body:
        raise ValueError(
            f"the file is a truncated or corrupt .safetensors file: the data of {key!r} (bytes {begin:,} to "
            f"{end:,}) runs past the end of the file ({body:,} bytes of data)"
        )
    if math.prod(shape) * _SAFETENSORS_DTYPES[dtype] != end - begin:
        raise ValueError(
            f"the file is a corrupt .safetensors file: {key!r} has shape {tuple(shape)} of {dtype} but "
            f"{end - begin:,} bytes of data"
        )


def _is_counts(value) -> bool:
    """A JSON list of non-negative integers (a shape, or data offsets)."""
    return isinstance(value, list) and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in value)


def _parse_zip(data: bytes):
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except BaseException as err:
        _reraise_unless_parser_error(err)
        raise _corrupt(".npz (zip) file", err) from err
    names = [info.filename for info in infos]
    if any(name.endswith(".pkl") for name in names):
        pickled = next(n for n in names if n.endswith(".pkl"))
        raise _pickle_refused(f"a PyTorch .pt/.pth file: a zip holding a pickle ({pickled!r})")
    members = [info for info in infos if info.filename.endswith(".npy")]
    if infos and not members:
        shown = ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
        raise ValueError(f"this is a zip file but not an .npz: it holds no .npy arrays (it holds {shown or 'nothing'})")
    if len(members) > MAX_ARRAYS:
        raise ValueError(f"the file holds {len(members):,} arrays, more than the limit of {MAX_ARRAYS:,}")
    unpacked = sum(info.file_size for info in members)
    if unpacked > MAX_FILE_BYTES:
        raise ValueError(
            f"the .npz's arrays unpack to {unpacked:,} bytes ({unpacked / 1e6:.1f} MB), over the size limit of "
            f"{MAX_FILE_BYTES:,} bytes ({MAX_FILE_BYTES / 1e6:g} MB); rnnviz loads small networks only"
        )
    arrays: dict[str, np.ndarray] = {}
    strings: dict[str, object] = {}
    for info in members:
        key = info.filename[: -len(".npy")]
        if info.flag_bits & 0x1:
            raise ValueError(f"the array {key!r} in the .npz is password-protected; save it without a password")
        if info.compress_type not in _ZIP_METHODS:
            raise ValueError(
                f"the array {key!r} in the .npz is compressed with zip method {info.compress_type}; "
                "save with np.savez or np.savez_compressed"
            )
        array = _load_npy(key, _read_member(zf, info, key))
        if key in STRING_KEYS:
            strings[key] = array
        else:
            arrays[key] = array
    return arrays, strings


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> bytes:
    """The member's bytes, read in chunks so that a member unpacking past its stated size stops early."""
    chunks, size = [], 0
    try:
        with zf.open(info) as f:
            while chunk := f.read(1 << 16):
                size += len(chunk)
                if size > info.file_size:
                    raise ValueError("more data than its stated size")
                chunks.append(chunk)
    except BaseException as err:
        _reraise_unless_parser_error(err)
        raise _corrupt(f".npz file (array {key!r})", err) from err
    return b"".join(chunks)


def _load_npy(key: str, raw: bytes) -> np.ndarray:
    """One .npy member: its header checked against its length before NumPy allocates anything."""
    fp = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(fp)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, _, dtype = read_header(fp)
    except BaseException as err:
        _reraise_unless_parser_error(err)
        raise _corrupt(f".npz file (array {key!r})", err) from err
    if dtype.hasobject:
        raise ValueError(
            f"the array {key!r} in the .npz holds Python objects, which only a pickle can load, and rnnviz "
            "never unpickles; save numbers as float arrays and strings as np.array(list_of_strings)"
        )
    expected = math.prod(shape) * dtype.itemsize
    if expected != len(raw) - fp.tell():
        raise ValueError(
            f"the file is a truncated or corrupt .npz file: the array {key!r} should have {expected:,} bytes of "
            f"data (shape {shape}, {dtype}), but has {len(raw) - fp.tell():,}"
        )
    try:
        return np.load(io.BytesIO(raw), allow_pickle=False)
    except BaseException as err:
        _reraise_unless_parser_error(err)
        raise _corrupt(f".npz file (array {key!r})", err) from err


# --- interpreting: which keys are the network, and do they fit together ------------------------


def _interpret(file_format: str, arrays: dict[str, np.ndarray], strings: dict[str, object]) -> LoadedWeights:
    kind_hint, nonlinearity, vocab = _read_strings(strings)
    prefix, found, engine_style = _find_recurrent(arrays)
    used = set(found.values())
    kind, layers, D, H, has_bias = _layout(prefix, engine_style, found, arrays)
    if kind_hint is not None and kind_hint != kind:
        w_hh = found[("weight_hh", 0, 0)]
        raise ValueError(
            f"the file says kind = {kind_hint!r}, but {w_hh!r} has shape {arrays[w_hh].shape}: "
            f"{arrays[w_hh].shape[0] // H} blocks of H = {H} rows, which is {KINDS[kind].named}'s shape"
        )
    if nonlinearity not in KINDS[kind].nonlinearities:
        takers = " or ".join(spec.named for spec in KINDS.values() if nonlinearity in spec.nonlinearities)
        raise ValueError(f"nonlinearity {nonlinearity!r} applies to {takers} only, but these weights are "
                         f"{KINDS[kind].named}'s")
    stack = {}
    for (name, layer, direction), key in found.items():
        stack[_stack_key(name, layer, direction)] = _float64(key, arrays[key])
    if not has_bias:  # nn.RNN/LSTM/GRU(bias=False): the equations with zero biases
        for layer in range(layers):
            for direction in range(D):
                rows = stack[_stack_key("weight_hh", layer, direction)].shape[0]
                for name in ("bias_ih", "bias_hh"):
                    stack[_stack_key(name, layer, direction)] = _frozen(np.zeros(rows))
    embedding = _find_embedding(arrays, stack["weight_ih_l0"].shape[1])
    if embedding is not None:
        used.add(embedding)
        table = _float64(embedding, arrays[embedding])  # (V, E)
        for direction in range(D):
            key = _stack_key("weight_ih", 0, direction)
            stack[key] = _frozen(stack[key] @ table.T)  # W_ih E[x] = (W_ih E^T) onehot(x): (G*H, V)
    readout, readout_keys = _find_readout(arrays, D, H)
    used |= readout_keys
    input_size = stack["weight_ih_l0"].shape[1]
    if vocab is not None and len(vocab) != input_size:
        raise ValueError(
            f"the vocabulary has {len(vocab)} entries but the network reads {input_size} inputs "
            f"({'weight_ih_l0 with the embedding folded in' if embedding else found[('weight_ih', 0, 0)]} has "
            f"{input_size} columns); with one-hot inputs there must be one entry per input"
        )
    params = {name: stack[f"{name}_l0"] for name in PARAM_NAMES}
    return LoadedWeights(
        kind=kind, nonlinearity=nonlinearity, params=params, readout=readout, vocab=vocab, num_layers=layers,
        bidirectional=D == 2, stack=dict(sorted(stack.items(), key=lambda kv: _stack_order(kv[0]))),
        input_size=input_size, hidden_size=H, file_format=file_format, prefix=prefix, embedding=embedding,
        ignored=tuple(sorted(set(arrays) - used)),
    )


def _stack_key(name: str, layer: int, direction: int) -> str:
    return f"{name}_l{layer}" + ("_reverse" if direction else "")


def _stack_order(key: str) -> tuple:
    """The order of nn.LSTM's state_dict: layer, direction, then weight_ih, weight_hh, bias_ih, bias_hh."""
    m = _STACK_KEY.fullmatch(key)
    return int(m["layer"]), bool(m["reverse"]), PARAM_NAMES.index(m["name"])


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    a.flags.writeable = False
    return a


def _float64(key: str, a: np.ndarray) -> np.ndarray:
    """A read-only float64 copy of a weight array, refusing non-numbers and inf/NaN."""
    if a.dtype.kind not in "fiu":
        raise ValueError(f"{key!r} must hold real numbers, got an array of {a.dtype}")
    out = np.array(a, dtype=np.float64)
    bad = int(np.count_nonzero(~np.isfinite(out)))
    if bad:
        raise ValueError(f"{key!r} has {bad} non-finite value{'s' if bad > 1 else ''} (inf or NaN) out of {out.size}")
    out.flags.writeable = False
    return out


def _read_strings(strings: Mapping[str, object]):
    """kind hint, nonlinearity and vocabulary from the file's strings (metadata or string arrays)."""
    texts = {}
    for key in ("kind", "nonlinearity"):
        value = strings.get(key)
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "US":
                raise ValueError(f"{key!r} must be a string, got an array of {value.dtype}")
            if value.size != 1:
                raise ValueError(f"{key!r} must be one string, got an array of shape {value.shape}")
            value = value.reshape(()).item()
            value = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        texts[key] = None if value is None else str(value).strip().lower()
    kind_hint, nonlinearity = texts["kind"], texts["nonlinearity"] or "tanh"
    if kind_hint is not None and kind_hint not in KINDS:
        raise ValueError(f"'kind' must be one of {tuple(KINDS)}, got {kind_hint!r}")
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"'nonlinearity' must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    return kind_hint, nonlinearity, _read_vocab(strings.get("vocab"))


def _read_vocab(value) -> list[str] | None:
    """A JSON list of strings (safetensors metadata, or a 0-d string array), or a 1-D array of strings."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "US":
            raise ValueError(f"'vocab' must hold strings, got an array of {value.dtype}")
        if value.ndim == 1:
            value = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in value.tolist()]
        elif value.ndim == 0:
            value = value.item()
            value = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        else:
            raise ValueError(f"'vocab' must be a list of strings, got an array of shape {value.shape}")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as err:
            raise ValueError(
                f"'vocab' must be a JSON list of strings, e.g. json.dumps(list(chars)); got {value[:40]!r}"
            ) from err
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"'vocab' must be a JSON list of strings, e.g. json.dumps(list(chars)); got {value!r:.60}")
    if not value:
        raise ValueError("'vocab' is an empty list; expected one string per input")
    seen: set[str] = set()
    for v in value:
        if v in seen:
            raise ValueError(f"'vocab' has {v!r} more than once; each input needs its own entry")
        seen.add(v)
    return value


def _find_recurrent(arrays: Mapping[str, np.ndarray]):
    """The module prefix, {(name, layer, direction): key} of the recurrent weights, and engine_style."""
    found: dict[str, dict[tuple[str, int, int], str]] = {}
    engine_style: set[str] = set()
    for key in arrays:
        if m := _STACK_KEY.fullmatch(key):
            found.setdefault(m["prefix"], {})[(m["name"], int(m["layer"]), int(bool(m["reverse"])))] = key
        elif m := _ENGINE_KEY.fullmatch(key):
            found.setdefault(m["prefix"], {})[(m["name"], 0, 0)] = key
            engine_style.add(m["prefix"])
        elif _PROJECTION_KEY.fullmatch(key):
            raise ValueError(
                f"{key!r} is the projection of an nn.LSTM with proj_size > 0, which rnnviz does not run; "
                "use an LSTM without proj_size"
            )
    if not found:
        shown = ", ".join(repr(k) for k in list(arrays)[:8]) + (", ..." if len(arrays) > 8 else "")
        raise ValueError(
            "missing the recurrent weights: expected the keys weight_ih_l0 and weight_hh_l0 of an nn.RNN, "
            "nn.LSTM or nn.GRU state_dict (or weight_ih and weight_hh); "
            f"the file has {shown or 'no arrays'}"
        )
    if len(found) > 1:
        shown = ", ".join(repr(p or "(no prefix)") for p in sorted(found))
        raise ValueError(
            f"the file holds the weights of several recurrent modules ({shown}); save the state_dict of one"
        )
    (prefix, keys), = found.items()
    if prefix in engine_style and any(key != f"{prefix}{name}" for (name, _, _), key in keys.items()):
        raise ValueError(
            f"the file mixes the engine's key names ({prefix}weight_ih, ...) with PyTorch's ({prefix}weight_ih_l0, "
            "...); use one naming"
        )
    return prefix, keys, prefix in engine_style


def _layout(prefix: str, engine_style: bool, found: dict[tuple[str, int, int], str], arrays):
    """kind, L, D, H and whether there are biases; checks that every key is there with its shape.

    found maps (name, layer, direction) to the file's key; engine_style: keys weight_ih, ... (a cell's).
    """
    layers = sorted({layer for _, layer, _ in found})
    for expected, layer in enumerate(layers):
        if layer != expected:
            raise ValueError(
                f"missing layer {expected}: no key {prefix}weight_ih_l{expected}, but the file has weights for "
                f"layers {layers[:6]}; layers are numbered 0, 1, 2, ... without gaps"
            )
    L = len(layers)
    D = 2 if any(direction for _, _, direction in found) else 1
    has_bias = any(name.startswith("bias") for name, _, _ in found)
    names = PARAM_NAMES if has_bias else PARAM_NAMES[:2]
    def key_of(name, layer, direction):
        return prefix + (name if engine_style else _stack_key(name, layer, direction))

    for layer in range(L):
        for direction in range(D):
            for name in names:
                if (name, layer, direction) not in found:
                    module = f"a {L}-layer{' bidirectional' if D == 2 else ''} module"
                    needed = ", ".join(key_of(n, layer, direction) for n in names)
                    raise ValueError(f"missing key {key_of(name, layer, direction)!r}: {module} needs {needed}")
    w_hh_key = key_of("weight_hh", 0, 0)
    w_hh = arrays[w_hh_key]
    if w_hh.ndim != 2 or w_hh.shape[1] == 0 or w_hh.shape[0] % w_hh.shape[1] or (
        w_hh.shape[0] // w_hh.shape[1] not in KIND_OF_BLOCKS
    ):
        blocks = [f"{G} ({KINDS[kind].label})" for G, kind in KIND_OF_BLOCKS.items()]
        raise ValueError(
            f"{w_hh_key!r} has shape {w_hh.shape}; expected (G*H, H): G = {', '.join(blocks[:-1])} or {blocks[-1]} "
            "blocks of H rows, one column per hidden unit"
        )
    H = w_hh.shape[1]
    G = w_hh.shape[0] // H
    kind = KIND_OF_BLOCKS[G]
    w_ih_key = key_of("weight_ih", 0, 0)
    w_ih = arrays[w_ih_key]
    if w_ih.ndim != 2 or w_ih.shape[0] != G * H or w_ih.shape[1] == 0:
        raise ValueError(
            f"{w_ih_key!r} has shape {w_ih.shape}; expected ({G * H}, I) for {KINDS[kind].named} with H = {H} "
            f"({w_hh_key} is {w_hh.shape}): {G * H} rows and one column per input"
        )
    I = w_ih.shape[1]
    for layer in range(L):
        for direction in range(D):
            for name in names:
                key = key_of(name, layer, direction)
                expected = {"weight_ih": (G * H, D * H if layer else I), "weight_hh": (G * H, H)}.get(name, (G * H,))
                got = arrays[key].shape
                if got != expected:
                    why = f"; layer {layer} reads the {D * H} outputs of layer {layer - 1}" if layer else ""
                    raise ValueError(
                        f"{key!r} has shape {got}; expected {expected} for {KINDS[kind].named} with input size "
                        f"I = {I} and H = {H} ({w_ih_key} is {w_ih.shape}, {w_hh_key} is {w_hh.shape}){why}"
                    )
    return kind, L, D, H, has_bias


def _module_weights(arrays: Mapping[str, np.ndarray], module_names: frozenset[str]) -> list[str]:
    """Keys "<...>.<module>.weight" whose module name is one of module_names."""
    out = []
    for key in arrays:
        if (m := _MODULE_WEIGHT.fullmatch(key)) and m["module"] and m["module"].rsplit(".", 1)[-1] in module_names:
            out.append(key)
    return out


def _find_embedding(arrays: Mapping[str, np.ndarray], input_size: int) -> str | None:
    keys = _module_weights(arrays, EMBEDDING_NAMES)
    if not keys:
        return None
    if len(keys) > 1:
        raise ValueError(f"the file holds several embeddings ({', '.join(map(repr, keys))}); keep one")
    key = keys[0]
    shape = arrays[key].shape
    if len(shape) != 2 or shape[1] != input_size or shape[0] == 0:
        raise ValueError(
            f"the embedding {key!r} has shape {shape}; expected (V, {input_size}): one row per token, "
            f"{input_size} columns as the recurrent layer reads {input_size} inputs"
        )
    return key


def _find_readout(arrays: Mapping[str, np.ndarray], D: int, H: int):
    """({"weight_out", "bias_out"} or None, the keys used). The readout reads the top layer's D*H outputs."""
    features = D * H
    pairs = []
    if "weight_out" in arrays or "bias_out" in arrays:
        pairs.append(("weight_out", "bias_out"))
    if "weight" in arrays or "bias" in arrays:
        pairs.append(("weight", "bias"))
    for key in _module_weights(arrays, READOUT_NAMES):
        pairs.append((key, key[: -len("weight")] + "bias"))
    for key in arrays:  # a Linear's bias without its weight
        if key.endswith(".bias") and key[: -len("bias")] + "weight" not in arrays:
            module = key[: -len(".bias")].rsplit(".", 1)[-1]
            if module in READOUT_NAMES:
                pairs.append((key[: -len("bias")] + "weight", key))
    if not pairs:
        return None, set()
    if len(pairs) > 1:
        shown = ", ".join(repr(w) for w, _ in pairs)
        raise ValueError(
            f"the file holds several possible readouts ({shown}); keep one nn.Linear, or name its arrays "
            "weight_out and bias_out"
        )
    (w_key, b_key), = pairs
    if w_key not in arrays:
        raise ValueError(f"missing key {w_key!r}: the readout has a bias {b_key!r} but no weight")
    weight = _float64(w_key, arrays[w_key])
    if weight.ndim != 2 or weight.shape[1] != features or weight.shape[0] == 0:
        reads = f"the hidden state h_t (H = {H})" if D == 1 else f"both directions' h_t side by side (2H = {features})"
        raise ValueError(
            f"the readout {w_key!r} has shape {weight.shape}; expected (O, {features}): it reads {reads}, "
            f"so it needs {features} columns"
        )
    used = {w_key}
    if b_key in arrays:
        bias = _float64(b_key, arrays[b_key])
        if bias.shape != (weight.shape[0],):
            raise ValueError(
                f"the readout bias {b_key!r} has shape {bias.shape}; expected ({weight.shape[0]},), "
                f"one per row of {w_key!r} {weight.shape}"
            )
        used.add(b_key)
    else:  # nn.Linear(bias=False)
        bias = _frozen(np.zeros(weight.shape[0]))
    return {"weight_out": weight, "bias_out": bias}, used


__all__ = ["CONVERT_TO_SAFETENSORS", "MAX_FILE_BYTES", "LoadedWeights", "load_weights"]
