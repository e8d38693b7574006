"""The shared sidebar's "Weights" control: random initialisation, a gallery model, your own file, or a
model trained on Clipping and training in this session.

A gallery model is public: its name goes in the URL (weights=lstm-brackets) and its studies are cached
for every session. A user's file and a session's run are private: they live in this session's state
only (UPLOAD_KEY, RUN_KEY), never in the URL, and their studies are kept in the session too
(STUDIES_KEY), never in the shared cache, so no other session can see them or what they compute.
Choosing a model brings its cell, its size and its best input into the scenario's controls.
"""

from __future__ import annotations

import streamlit as st

from .. import trained as tr
from ..config import PARAMS, RANDOM, WEIGHTS, Config, shown
from ..gallery import GALLERY
from ..weights import CONVERT_TO_SAFETENSORS, MAX_FILE_BYTES
from . import STEP_VERSION_KEY, _notes, _values, is_hidden, plain, show_notes, stored

UPLOAD, RUN = "upload", "session"  # the control's two private choices (never in a URL)
UPLOAD_KEY = "_weights_upload"  # the Trained read from the user's file
UPLOAD_ERROR_KEY = "_weights_upload_error"  # the message on the last file that could not be used
RUN_KEY = "_weights_run"  # the Trained of a run opened from Clipping and training
STUDIES_KEY = "_weights_studies"  # (study, Config, args) -> study, for the private weights only
FILE_KEY = "weights_file"  # the uploader's widget key
INPUTS = ("source", "text", "task", "length", "seed")  # the input controls a model's best input sets
MAX_MESSAGE = 600  # characters of a message on a file (its key names can be long)
LABELS = {**WEIGHTS, UPLOAD: "Your own file (upload below)", RUN: "Trained in this session"}


def current() -> tr.Trained | None:
    """The chosen trained network, or None for random weights (or a private choice with nothing in it)."""
    choice = _values().get("weights", RANDOM)
    if choice in GALLERY:
        return tr.from_gallery(choice)
    if choice == UPLOAD:
        return st.session_state.get(UPLOAD_KEY)
    if choice == RUN:
        return st.session_state.get(RUN_KEY)
    return None


def apply(trained: tr.Trained | None, keep=()) -> None:
    """Put a network's cell, size and best input into the scenario's controls (except the names in `keep`),
    the watched unit into the unit control, and t back to 1."""
    if trained is None:
        return
    values = _values()
    st.session_state[STEP_VERSION_KEY] = st.session_state.get(STEP_VERSION_KEY, 0) + 1  # the browser takes t = 1
    update = {"cell": trained.cell, "hidden": trained.hidden, **trained.best, "t": 1}
    if trained.watch is not None:
        update["unit"] = trained.watch.unit
    for name, value in update.items():
        if name not in keep:
            values[name] = value
            _notes().pop(name, None)


def _chosen() -> None:
    """on_change of the selectbox: keep the choice and bring in the network's own settings."""
    _values()["weights"] = st.session_state["weights"]
    _notes().pop("weights", None)
    apply(current())
    show_notes()


def _uploaded() -> None:
    """on_change of the uploader: read the file (never unpickled), keep it in this session, choose it."""
    file = st.session_state.get(FILE_KEY)
    st.session_state.pop(UPLOAD_ERROR_KEY, None)
    if file is None:
        return
    trained, error = read_upload(file.name, file.size, file.getvalue)
    if error is not None:
        st.session_state[UPLOAD_ERROR_KEY] = error
        return
    st.session_state[UPLOAD_KEY] = trained
    st.session_state.pop(STUDIES_KEY, None)
    _values()["weights"] = UPLOAD
    apply(trained)


def read_upload(name: str, size: int, data) -> tuple[tr.Trained | None, str | None]:
    """(the network, None) from an uploaded file's name, size and bytes (a callable: read only under the
    size limit), or (None, the message saying why rnnviz cannot use it)."""
    if size > MAX_FILE_BYTES:
        return None, (f"the file is {size:,} bytes, over the size limit of {MAX_FILE_BYTES:,} bytes "
                      f"({MAX_FILE_BYTES / 1e6:g} MB); rnnviz loads small networks only")
    try:
        return tr.from_upload(data(), name), None
    except ValueError as err:
        message = str(err)
        if name.lower().endswith((".pt", ".pth")) and CONVERT_TO_SAFETENSORS not in message:
            message += "\nA .pt / .pth file is a pickle, which rnnviz never opens. Convert it:\n"
            message += CONVERT_TO_SAFETENSORS
        return None, message


def control(sb) -> tr.Trained | None:
    """The Weights selectbox and the uploader under it; returns the chosen network (None: random)."""
    fresh = "weights" not in _values()  # read from the URL on this run: a link that names a model
    choice = stored("weights", PARAMS["weights"])
    if fresh and choice in GALLERY:  # the link's own input controls win over the model's best input
        apply(tr.from_gallery(choice), keep=tuple(name for name in INPUTS if name in st.query_params))
    options = [*WEIGHTS, UPLOAD, *([RUN] if RUN_KEY in st.session_state else [])]
    if choice not in options:
        choice = _values()["weights"] = RANDOM
    st.session_state["weights"] = choice
    if is_hidden("weights"):  # a student link: the weights stay as the link set them, with no control
        return current()
    sb.selectbox("Weights", options, format_func=LABELS.get, key="weights", on_change=_chosen,
                 help="Random: PyTorch's initialisation from the seed, nothing learned. A gallery model: a small "
                      "network rnnviz trained until a unit does something you can watch. Your own file: "
                      "PyTorch's nn.RNN / nn.LSTM / nn.GRU (any number of layers, one or both directions) saved "
                      "as .safetensors or .npz.")
    sb.file_uploader("Your own weights (.safetensors or .npz)", key=FILE_KEY, on_change=_uploaded,
                     help="A state_dict of nn.RNN / nn.LSTM / nn.GRU (weight_ih_l0, weight_hh_l0, bias_ih_l0, "
                          "bias_hh_l0), optionally an nn.Linear readout and a vocabulary. Kept in your session "
                          "only. Pickles (.pt, .pth) are never opened.")
    error = st.session_state.get(UPLOAD_ERROR_KEY)
    if error is not None:  # the file's key names are the user's: shown literally
        words = " ".join(error.replace(CONVERT_TO_SAFETENSORS, "").split())
        sb.error(f"rnnviz cannot use this file: {plain(shown(words, MAX_MESSAGE))}", icon=":material/error:")
        if CONVERT_TO_SAFETENSORS in error:
            sb.code(CONVERT_TO_SAFETENSORS, language="python")
    trained = current()
    if choice == UPLOAD and trained is None:
        sb.info("Upload a file above; until then the weights are random.")
    if trained is not None and trained.stacked:
        w = trained.weights
        sb.info(f"This file has {w.num_layers} layer{'s' if w.num_layers > 1 else ''}"
                f"{', both directions' if w.bidirectional else ''}: Step through and Backprop through time show "
                "the whole stack at the top; their single-cell sections, and the other pages, study layer 1's "
                "forward direction alone.")
    return trained


def public(choice) -> bool:
    """Can this choice go in a URL?"""
    return choice in WEIGHTS


def offer_run(run, label: str) -> None:
    """A button under a finished run of Clipping and training that opens its weights on the other pages
    (Step through first), as the sidebar's "Trained in this session" weights."""
    if run.diverged_at is not None or run.stopped_at is not None:
        return
    trained = tr.from_run(run, label)
    if st.button("Open this model on the other pages", key=f"open-{trained.key}", icon=":material/open_in_new:",
                 help="Puts this run's trained weights into the Weights control of the sidebar (this session only)."):
        st.session_state[RUN_KEY] = trained
        st.session_state.pop(STUDIES_KEY, None)
        _values()["weights"] = RUN
        apply(trained)
        st.switch_page("pages/1_Step_through.py")


def private_study(study, cfg: Config, *args, trained: tr.Trained):
    """study(cfg, *args, trained=trained), kept in this session only (a user's file or a session's run)."""
    store = st.session_state.setdefault(STUDIES_KEY, {})
    key = (study.__module__, study.__qualname__, cfg, args)
    if key not in store:
        if len(store) > 8:  # a few views of one network: enough for moving between pages
            store.clear()
        store[key] = study(cfg, *args, trained=trained)
    return store[key]
