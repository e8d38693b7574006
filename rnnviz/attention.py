"""An encoder-decoder with attention, small enough for autograd, and what its gradients show.

The model is the RNN encoder-decoder of Cho et al. (2014, "Learning Phrase Representations using
RNN Encoder-Decoder for Statistical Machine Translation", section 2.2 and appendix A) with the
attention of Bahdanau, Cho and Bengio (2015, "Neural Machine Translation by Jointly Learning to
Align and Translate", eqs. 4-6 and appendix A.1.2), with either of two score functions, or none:

    encoder   k_1..k_T = RNN(x_1..x_T)                (T, K)   K = D*H_enc; a bidirectional encoder
              concatenates the forward and the reversed pass at each position, as PyTorch's
              bidirectional nn.GRU / nn.LSTM do: k_s = [h->_s ; h<-_s]
    start     s_0 = tanh(W_b k_fin + b_b)               (H_dec,)  k_fin = the final states, PyTorch's
              h_n: [h->_T ; h<-_1] (Cho: tanh(V c); Bahdanau: tanh(W_s h<-_1)); an LSTM decoder's c_0 = 0
    score     e_ts = v^T tanh(W_q s_{t-1} + W_k k_s)    "additive" (Bahdanau 2015, eq. 6, A.1.2)
              e_ts = s_{t-1}^T W_k k_s                  "general"  (Luong et al. 2015, eq. 8)
    weights   a_t = softmax_s(e_t)                      (T,)  sum_s a_ts = 1
    context   c_t = sum_s a_ts k_s                      (K,)
    step      s_t = cell([E_y y_{t-1} ; c_t], s_{t-1})  (H_dec,)  LSTM or GRU cell, PyTorch's equations
    output    z_t = W_o [s_t ; c_t] + b_o               (V,)  p(y_t | y_<t, x) = softmax(z_t)

The query is the previous decoder state s_{t-1} and the context enters both the cell and the
output, as in Bahdanau 2015 (whose output layer is a maxout; here it is linear, as in Cho 2014).
Luong's "general" score is used inside that same step; Luong's own placement (attend after the
step, an attentional state tanh(W_c [c_t; s_t])) is not. With attention "none" the context is
the constant c_t = k_fin: exactly Cho et al. 2014's decoder, h_t = f(h_{t-1}, y_{t-1}, c) and
p(y_t) = g(h_t, c), in which every input reaches the output only through the encoder's final
state. With attention, every x_s has a one-step path x_s -> k_s -> c_t -> z_t.

What the page shows comes from three functions: `decode` (the decoder stepped through: states,
contexts, attention weights a_ts, output distributions), `input_gradients` (||dL/dx_s|| for each
input position, each output's sensitivity to each input, and dL/dx_s split into the part that
arrives in one encoder step, through the decoder's own reads of k_s, and the part that arrives
through the encoder's recurrence), and `evaluate` (accuracy per input length). At PyTorch's
default initialisation, without attention ||dL/dx_s|| falls by about 10^4 over 20 inputs; with
attention it stays within a factor of about 3 (tests/test_attention.py pins both).

Parameters are a dict of named arrays keyed exactly as the state_dict of the PyTorch module the
tests rebuild (nn.Embedding "src_embedding", "tgt_embedding"; nn.GRU/nn.LSTM "encoder" with
"_l0" and "_l0_reverse" keys; nn.Linear "bridge", "out"; nn.GRUCell/nn.LSTMCell "decoder";
bias-free nn.Linear "attention.query", "attention.key", "attention.v"). Everything here is pure:
(params, inputs) -> arrays; training is seeded and follows torch.optim.Adam with
clip_grad_norm_ and, by default, CosineAnnealingLR. GALLERY names the trained models shipped in
gallery_data/attention (build_gallery rebuilds them, about 40 s of one core each).

The task is reversal of digit strings: "31415" -> "51413" then "</s>". Output t needs input
T + 1 - t, so the first output needs the last input and the last output the first: the answer
needs the whole input, and the alignment is the anti-diagonal.

Shapes: T encoder steps, U decoder steps (T + 1 for reversal), B sequences in a batch, E
embedding size, H encoder units per direction, D directions, K = D*H, H_dec decoder units, A the
additive score's size, V vocabulary size. Batched arrays are time-major: (T, B, ...).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import autograd.numpy as anp
import numpy as np
from autograd import grad, jacobian, value_and_grad
from autograd.tracer import getval

from .cells import KINDS, PARAM_NAMES
from .engine import clip_grad_norm
from .training import OptimizerState

# --- vocabulary and the task ------------------------------------------------------------------------

VOCAB = (*"0123456789", "<s>", "</s>")  # one vocabulary for source and target
SOS, EOS = VOCAB.index("<s>"), VOCAB.index("</s>")
N_DIGITS = 10

ATTENTIONS = {
    "additive": "Additive (Bahdanau)",
    "general": "Dot-product, general (Luong)",
    "none": "None (final encoder state only)",
}
CELLS = {key: kind.label for key, kind in KINDS.items()}  # encoder and decoder: a kind of cells.KINDS (RNN: tanh)


@dataclass(frozen=True)
class ModelConfig:
    """The architecture: cells, sizes and the attention's score function."""

    attention: str = "additive"  # a key of ATTENTIONS
    encoder: str = "lstm"  # a key of CELLS
    decoder: str = "lstm"  # a key of CELLS
    bidirectional: bool = False  # D = 2 when True
    embed: int = 8  # E
    hidden: int = 24  # H, encoder units per direction
    decoder_hidden: int = 24  # H_dec
    attention_size: int = 32  # A, for "additive" only
    vocab: int = len(VOCAB)  # V

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def key_size(self) -> int:
        """K = D*H: the size of each encoder output k_s (and of the context c_t)."""
        return self.directions * self.hidden

    def with_(self, **changes) -> ModelConfig:
        return replace(self, **changes)


SCHEDULES = {
    "constant": "Constant learning rate",
    "cosine": "Cosine decay to 0 (torch.optim.lr_scheduler.CosineAnnealingLR, T_max = updates)",
}


@dataclass(frozen=True)
class TrainConfig:
    """One seeded training run on digit reversal."""

    model: ModelConfig = field(default_factory=ModelConfig)
    min_length: int = 5  # each mini-batch draws one length T in [min_length, max_length]
    max_length: int = 12
    batch: int = 64  # B
    updates: int = 1500
    lr: float = 0.01  # Adam's (peak) learning rate (betas 0.9, 0.999, eps 1e-8)
    schedule: str = "cosine"  # a key of SCHEDULES
    clip: float = 1.0  # max global gradient norm (torch.nn.utils.clip_grad_norm_)
    seed: int = 0  # initial weights and every mini-batch

    def with_(self, **changes) -> TrainConfig:
        return replace(self, **changes)


@dataclass(frozen=True)
class ReversalBatch:
    """Source digits and their reversal, time-major; a single sequence drops the B axis."""

    src: np.ndarray  # (T, B) digit ids
    tgt_in: np.ndarray  # (U, B) decoder inputs: <s>, then the answer shifted right; U = T + 1
    tgt_out: np.ndarray  # (U, B) decoder targets: the reversed digits, then </s>


def reversal_target(src) -> np.ndarray:
    """(T + 1, ...) the answer to src (T, ...): the digits reversed along time, then </s>."""
    src = np.asarray(src)
    end = np.full((1, *src.shape[1:]), EOS, dtype=np.int64)
    return np.concatenate([src[::-1], end]).astype(np.int64)


def reversal_batch(length: int, batch: int | None = None, seed: int = 0) -> ReversalBatch:
    """Random digit strings of one length and their reversals: (T, B), or (T,) if batch is None."""
    length = _check_int("length", length, 1)
    B = 1 if batch is None else _check_int("batch", batch, 1)
    src = np.random.default_rng(seed).integers(0, N_DIGITS, (length, B))  # (T, B)
    tgt_out = reversal_target(src)  # (U, B)
    tgt_in = np.concatenate([np.full((1, B), SOS), tgt_out[:-1]])  # teacher forcing: y_0 = <s>
    if batch is None:
        src, tgt_in, tgt_out = src[:, 0], tgt_in[:, 0], tgt_out[:, 0]
    return ReversalBatch(src, tgt_in, tgt_out)


def reversal_alignment(length: int) -> np.ndarray:
    """(T,) the input position (0-based) that each answer digit copies: output t needs input T-1-t.

    The </s> step (t = T) copies nothing and has no entry.
    """
    length = _check_int("length", length, 1)
    return np.arange(length - 1, -1, -1)


def digits(text: str) -> np.ndarray:
    """(T,) ids of a digit string such as "31415"."""
    if not isinstance(text, str) or not text or not text.isascii() or not text.isdigit():
        raise ValueError(f"text must be a non-empty string of digits 0-9, got {text!r}")
    return np.array([int(ch) for ch in text], dtype=np.int64)


def tokens(ids) -> tuple[str, ...]:
    """The vocabulary's names of ids (..., ) flattened: ("3", "1", "</s>")."""
    return tuple(VOCAB[int(i)] for i in np.ravel(ids))


# --- parameters ---------------------------------------------------------------------------------------


def param_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The name and shape of every parameter of cfg's model (PyTorch state_dict keys)."""
    _check_model(cfg)
    E, H, Hd, K, V, A = cfg.embed, cfg.hidden, cfg.decoder_hidden, cfg.key_size, cfg.vocab, cfg.attention_size
    Ge, Gd = KINDS[cfg.encoder].G, KINDS[cfg.decoder].G
    shapes = {"src_embedding.weight": (V, E), "tgt_embedding.weight": (V, E)}
    for suffix in _direction_suffixes(cfg):
        shapes |= {
            f"encoder.weight_ih{suffix}": (Ge * H, E),
            f"encoder.weight_hh{suffix}": (Ge * H, H),
            f"encoder.bias_ih{suffix}": (Ge * H,),
            f"encoder.bias_hh{suffix}": (Ge * H,),
        }
    shapes |= {"bridge.weight": (Hd, K), "bridge.bias": (Hd,)}
    if cfg.attention == "additive":
        shapes |= {"attention.query.weight": (A, Hd), "attention.key.weight": (A, K), "attention.v.weight": (1, A)}
    elif cfg.attention == "general":
        shapes |= {"attention.key.weight": (Hd, K)}
    shapes |= {
        "decoder.weight_ih": (Gd * Hd, E + K),
        "decoder.weight_hh": (Gd * Hd, Hd),
        "decoder.bias_ih": (Gd * Hd,),
        "decoder.bias_hh": (Gd * Hd,),
        "out.weight": (V, Hd + K),
        "out.bias": (V,),
    }
    return shapes


def init_seq2seq(cfg: ModelConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """PyTorch's default init, seeded: embeddings N(0, 1); every other array U(-1/sqrt(n), 1/sqrt(n))
    with n = the recurrent layer's hidden size (encoder, decoder) or the input size (nn.Linear)."""
    rng = np.random.default_rng([seed, 13])
    params = {}
    for name, shape in param_shapes(cfg).items():
        if name.endswith("embedding.weight"):
            params[name] = rng.standard_normal(shape)
            continue
        if name.startswith("encoder."):
            fan = cfg.hidden
        elif name.startswith("decoder."):
            fan = cfg.decoder_hidden
        else:  # nn.Linear: weight (out, in), bias (out,) both from U(-1/sqrt(in), 1/sqrt(in))
            fan = param_shapes(cfg)[name.replace(".bias", ".weight")][1]
        k = 1.0 / np.sqrt(fan)
        params[name] = rng.uniform(-k, k, shape)
    return params


def check_params(cfg: ModelConfig, params) -> dict[str, np.ndarray]:
    """params as float64 arrays, after checking they have exactly cfg's keys and shapes."""
    expected = param_shapes(cfg)
    missing, extra = sorted(set(expected) - set(params)), sorted(set(params) - set(expected))
    if missing or extra:
        raise ValueError(f"params must have the keys of {cfg}; missing {missing}, unexpected {extra}")
    out = {}
    for name, shape in expected.items():
        value = np.asarray(params[name], dtype=np.float64)
        if value.shape != shape:
            raise ValueError(f"params[{name!r}] must have shape {shape}, got {value.shape}")
        out[name] = value
    return out


# --- the equations (autograd.numpy: every function below is differentiable) ----------------------


def cell_step(kind: str, p, x, h, c=None):
    """One step of nn.RNNCell (tanh) / nn.LSTMCell / nn.GRUCell on x (..., I), h (..., H), c (..., H).

    p holds weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh (G*H,); returns (h', c'), c'
    None but for the LSTM. Any leading axes broadcast: one sequence, a batch, or every step at once.
    The same equations as reference.plain_step, which is written for one (I,) vector.
    """
    return gates_step(kind, x @ p["weight_ih"].T + p["bias_ih"], h @ p["weight_hh"].T + p["bias_hh"], h, c)


def gates_step(kind: str, gx, gh, h, c=None):
    """cell_step from its two projections gx = W_ih x + b_ih and gh = W_hh h + b_hh (..., G*H).

    Blocks in PyTorch's order: LSTM i, f, g, o; GRU r, z, n. Split out so that a loop can compute
    every step's gx at once, before it starts. The equations are the cell's own, cells.KINDS[kind].step.
    """
    return KINDS[kind].step(gx, gh, h, c)


def _layer(params, prefix, suffix=""):
    """The four arrays of one recurrent layer, keyed as cell_step reads them (weight_ih, ...)."""
    return {name: params[f"{prefix}.{name}{suffix}"] for name in PARAM_NAMES}


def _direction_suffixes(cfg: ModelConfig) -> tuple[str, ...]:
    return ("_l0", "_l0_reverse") if cfg.bidirectional else ("_l0",)


def _encode(cfg: ModelConfig, params, x):
    """The encoder on x (T, B, E). Returns keys (T, B, K) and, per direction, (h, c) (T, B, H) in
    the sequence's own time order (c None but for the LSTM)."""
    T, B = x.shape[0], x.shape[1]
    runs = []
    for d, suffix in enumerate(_direction_suffixes(cfg)):
        p = _layer(params, "encoder", suffix)
        gx = x @ p["weight_ih"].T + p["bias_ih"]  # W_ih x_s + b_ih for every s at once: (T, B, G*H)
        h = np.zeros((B, cfg.hidden))  # h_0 = 0, as PyTorch's default
        c = np.zeros((B, cfg.hidden)) if KINDS[cfg.encoder].has_cell_state else None
        hs, cs = [], []
        order = range(T) if d == 0 else range(T - 1, -1, -1)  # the reverse pass reads x_T..x_1
        for t in order:
            h, c = gates_step(cfg.encoder, gx[t], h @ p["weight_hh"].T + p["bias_hh"], h, c)
            hs.append(h)
            cs.append(c)
        if d == 1:  # back to the sequence's own order: h<-_s at position s
            hs, cs = hs[::-1], cs[::-1]
        runs.append((anp.stack(hs), anp.stack(cs) if c is not None else None))
    keys = runs[0][0] if len(runs) == 1 else anp.concatenate([runs[0][0], runs[1][0]], axis=-1)
    return keys, runs


def _final_state(cfg: ModelConfig, keys):
    """k_fin (B, K): each direction's last state, PyTorch's h_n: [h->_T ; h<-_1]."""
    if not cfg.bidirectional:
        return keys[-1]
    return anp.concatenate([keys[-1, :, : cfg.hidden], keys[0, :, cfg.hidden :]], axis=-1)


def _softmax_over_steps(e):
    """softmax over axis 0 of e (T, B); the max shift is a constant (no gradient, exact)."""
    w = anp.exp(e - np.max(getval(e), axis=0))
    return w / anp.sum(w, axis=0)


def _log_softmax(z):
    """log softmax over the last axis; the max shift is a constant."""
    shifted = z - np.max(getval(z), axis=-1, keepdims=True)
    return shifted - anp.log(anp.sum(anp.exp(shifted), axis=-1, keepdims=True))


def _decode(cfg: ModelConfig, params, keys, tgt_in=None, steps=None):
    """The decoder over keys (T, B, K): teacher-forced on tgt_in (U, B) ids, or greedy for `steps`.

    Returns a dict of per-step arrays: "s" (U, B, H_dec), "cell" (U, B, H_dec) or None, "context"
    (U, B, K), "scores" and "attention" (U, B, T) or None, "logits" (U, B, V), "tokens_in" (U, B).
    """
    B = keys.shape[1]
    dec = _layer(params, "decoder")
    E = cfg.embed
    # every token's share of the cell's input projection, W_ih[:, :E] E_y[y] + b_ih, once: (V, G*H_dec)
    emb_proj = params["tgt_embedding.weight"] @ dec["weight_ih"][:, :E].T + dec["bias_ih"]
    w_ih_context = dec["weight_ih"][:, E:]  # (G*H_dec, K)
    k_fin = _final_state(cfg, keys)  # (B, K)
    s = anp.tanh(k_fin @ params["bridge.weight"].T + params["bridge.bias"])  # s_0 (B, H_dec)
    cell = np.zeros((B, cfg.decoder_hidden)) if KINDS[cfg.decoder].has_cell_state else None
    if cfg.attention != "none":  # W_k k_s for every s, once: (T, B, A) additive, (T, B, H_dec) general
        keys_proj = keys @ params["attention.key.weight"].T
    U = tgt_in.shape[0] if tgt_in is not None else steps
    y_prev = tgt_in[0] if tgt_in is not None else np.full(B, SOS)
    out = {k: [] for k in ("s", "cell", "context", "scores", "attention", "logits", "tokens_in")}
    for t in range(U):
        if cfg.attention == "none":
            context, e, a = k_fin, None, None  # Cho et al. 2014: c_t = c for every t
        else:
            if cfg.attention == "additive":  # e_ts = v^T tanh(W_q s_{t-1} + W_k k_s)
                q = s @ params["attention.query.weight"].T  # (B, A)
                e = anp.tanh(keys_proj + q) @ params["attention.v.weight"][0]  # (T, B)
            else:  # e_ts = s_{t-1}^T W_k k_s
                e = anp.sum(keys_proj * s, axis=-1)  # (T, B)
            a = _softmax_over_steps(e)  # (T, B), sums to 1 over s
            context = anp.sum(a[:, :, None] * keys, axis=0)  # c_t = sum_s a_ts k_s: (B, K)
        # the cell's input is [E_y y_{t-1} ; c_t] (B, E + K); W_ih [e; c] = W_ih[:, :E] e + W_ih[:, E:] c
        gx = emb_proj[y_prev] + context @ w_ih_context.T  # (B, G*H_dec)
        s, cell = gates_step(cfg.decoder, gx, s @ dec["weight_hh"].T + dec["bias_hh"], s, cell)
        logits = anp.concatenate([s, context], axis=-1) @ params["out.weight"].T + params["out.bias"]  # (B, V)
        for name, value in (("s", s), ("cell", cell), ("context", context), ("scores", e), ("attention", a),
                            ("logits", logits), ("tokens_in", y_prev)):
            out[name].append(value)
        if t + 1 < U:
            y_prev = tgt_in[t + 1] if tgt_in is not None else np.argmax(getval(logits), axis=-1)
    stacked = {k: (None if v[0] is None else anp.stack(v)) for k, v in out.items()}
    for name in ("scores", "attention"):  # (U, T, B) -> (U, B, T): decoder step x encoder step
        if stacked[name] is not None:
            stacked[name] = anp.transpose(stacked[name], (0, 2, 1))
    return stacked


def _target_log_probs(cfg: ModelConfig, params, keys, tgt_in, tgt_out):
    """(U, B) log p(y_t = tgt_out[t] | y_<t, x) under teacher forcing."""
    logits = _decode(cfg, params, keys, tgt_in)["logits"]  # (U, B, V)
    one_hot = (tgt_out[..., None] == np.arange(cfg.vocab)).astype(float)  # (U, B, V)
    return anp.sum(_log_softmax(logits) * one_hot, axis=-1)


def _embed(params, src):
    """x = E_x src: (T, B, E)."""
    return params["src_embedding.weight"][src]


def sequence_loss(cfg: ModelConfig, params, batch: ReversalBatch):
    """Mean cross-entropy over every target token of the batch (teacher forcing); differentiable."""
    src, tgt_in, tgt_out = (np.atleast_2d(a.T).T for a in (batch.src, batch.tgt_in, batch.tgt_out))  # (., B)
    keys, _ = _encode(cfg, params, _embed(params, src))
    return -anp.mean(_target_log_probs(cfg, params, keys, tgt_in, tgt_out))


def loss_and_grads(cfg: ModelConfig, params, batch: ReversalBatch) -> tuple[float, dict[str, np.ndarray]]:
    """(loss, dL/dparam for every key) of sequence_loss, by autograd."""
    params = check_params(cfg, params)
    loss, g = value_and_grad(lambda p: sequence_loss(cfg, p, batch))(params)
    return float(loss), g


# --- training -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seq2SeqRun:
    """A finished training run (U = updates)."""

    config: TrainConfig
    params: dict[str, np.ndarray]  # the trained weights
    loss: np.ndarray  # (U,) each mini-batch's loss, before its update
    grad_norm: np.ndarray  # (U,) global gradient norm before clipping
    lengths: np.ndarray  # (U,) each mini-batch's source length T
    seconds: float  # wall-clock time of the run
    diverged_at: int | None = None  # 1-based update whose loss or weights were not finite, else None


def training_batch(cfg: TrainConfig, index: int) -> ReversalBatch:
    """Mini-batch `index` (1-based) of a run: its length and digits seeded by (seed, index)."""
    rng = np.random.default_rng([cfg.seed, 7, index])
    length = int(rng.integers(cfg.min_length, cfg.max_length + 1))
    return reversal_batch(length, cfg.batch, seed=int(rng.integers(2**63)))


def learning_rate(cfg: TrainConfig, update: int) -> float:
    """The learning rate of update `update` (1-based): cfg.lr, or cosine-annealed from cfg.lr to 0.

    Cosine: lr (1 + cos(pi (update - 1) / updates)) / 2, as CosineAnnealingLR(T_max=updates,
    eta_min=0) stepped once after every optimizer step.
    """
    if cfg.schedule == "constant":
        return cfg.lr
    return cfg.lr * (1.0 + np.cos(np.pi * (update - 1) / cfg.updates)) / 2.0


def train_seq2seq(cfg: TrainConfig, keep_going: Callable[[int, float], bool] | None = None) -> Seq2SeqRun:
    """Train cfg.model on digit reversal with Adam and global-norm clipping. Same cfg, same run.

    keep_going(update, loss) -> False stops after that update. A run whose loss or weights stop
    being finite ends there and says at which update (diverged_at).
    """
    _check_train(cfg)
    model = cfg.model
    params = init_seq2seq(model, seed=cfg.seed)
    optimizer = OptimizerState("adam", cfg.lr, list(params))
    step = value_and_grad(lambda p, b: sequence_loss(model, p, b))
    losses, norms, lengths = [], [], []
    diverged_at = None
    start = time.perf_counter()
    for u in range(1, cfg.updates + 1):
        optimizer.lr = learning_rate(cfg, u)
        batch = training_batch(cfg, u)
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below, not raised
            loss, grads = step(params, batch)
            clipped, total = clip_grad_norm(grads, cfg.clip)
            delta = optimizer.delta(clipped)
            params = {n: params[n] + delta[n] for n in params}
        losses.append(float(loss))
        norms.append(total)
        lengths.append(batch.src.shape[0])
        if not (np.isfinite(loss) and all(np.all(np.isfinite(p)) for p in params.values())):
            diverged_at = u
            break
        if keep_going is not None and not keep_going(u, float(loss)):
            break
    return Seq2SeqRun(cfg, params, np.array(losses), np.array(norms), np.array(lengths, dtype=np.int64),
                      time.perf_counter() - start, diverged_at)


def greedy_decode(cfg: ModelConfig, params, src, steps: int | None = None) -> np.ndarray:
    """(U, B) or (U,) greedy predictions for src (T, B) or (T,), U = steps (default T + 1)."""
    params = check_params(cfg, params)
    src = _check_src(cfg, src)
    single = src.ndim == 1
    src2 = src[:, None] if single else src
    steps = src2.shape[0] + 1 if steps is None else _check_int("steps", steps, 1)
    keys, _ = _encode(cfg, params, _embed(params, src2))
    logits = _decode(cfg, params, keys, steps=steps)["logits"]
    pred = np.argmax(logits, axis=-1)
    return pred[:, 0] if single else pred


@dataclass(frozen=True)
class Evaluation:
    """Greedy-decoding accuracy on fresh reversal samples, per source length."""

    lengths: np.ndarray  # (L,) source lengths T
    exact: np.ndarray  # (L,) fraction of sequences whose T digits and </s> are all right
    token: np.ndarray  # (L,) fraction of right tokens (digits and </s>)


def evaluate(cfg: ModelConfig, params, lengths=range(5, 13), n: int = 200, seed: int = 12345) -> Evaluation:
    """Exact-sequence and per-token accuracy of greedy decoding on n fresh samples per length.

    The samples come from a seed stream apart from training's (training_batch seeds by
    (seed, 7, index)). Long strings are then new to the model; short ones may not be: the default
    run draws about 12 000 strings of length 5, of the 10^5 there are.
    """
    exact, token = [], []
    lengths = np.array(list(lengths), dtype=np.int64)
    for T in lengths:
        batch = reversal_batch(int(T), n, seed=int(np.random.default_rng([seed, 99, int(T)]).integers(2**63)))
        pred = greedy_decode(cfg, params, batch.src)  # (T + 1, n)
        right = pred == batch.tgt_out
        exact.append(float(np.mean(right.all(axis=0))))
        token.append(float(np.mean(right)))
    return Evaluation(lengths, np.array(exact), np.array(token))


# --- analysis for the page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Decoding:
    """The decoder stepped through on one source sequence (T encoder steps, U decoder steps)."""

    src: np.ndarray  # (T,) source ids
    tokens_in: np.ndarray  # (U,) decoder inputs y_{t-1}: <s>, then the previous answer token
    predicted: np.ndarray  # (U,) argmax of each step's output distribution
    keys: np.ndarray  # (T, K) encoder outputs k_s, the vectors attention reads
    s: np.ndarray  # (U, H_dec) decoder hidden states s_1..s_U
    cell: np.ndarray | None  # (U, H_dec) LSTM decoder cell states, else None
    context: np.ndarray  # (U, K) context vectors c_t (k_fin at every step without attention)
    scores: np.ndarray | None  # (U, T) scores e_ts before the softmax; None without attention
    attention: np.ndarray | None  # (U, T) weights a_ts, each row sums to 1; None without attention
    probs: np.ndarray  # (U, V) output distributions p(y_t | y_<t, x)
    teacher_forced: bool  # True: tokens_in came from a given target; False: greedy


def decode(cfg: ModelConfig, params, src, target=None, max_steps: int | None = None) -> Decoding:
    """Run the model on one source src (T,): teacher-forced on target (U,), or greedy.

    Greedy decoding feeds back each argmax and stops after the step that emits </s>, or after
    max_steps (default T + 1) steps.
    """
    params = check_params(cfg, params)
    src = _check_src(cfg, src, single=True)
    keys, _ = _encode(cfg, params, _embed(params, src[:, None]))
    if target is not None:
        target = _check_target(cfg, target)
        tgt_in = np.concatenate([[SOS], target[:-1]])[:, None]
        run = _decode(cfg, params, keys, tgt_in=tgt_in)
    else:
        steps = src.shape[0] + 1 if max_steps is None else _check_int("max_steps", max_steps, 1)
        run = _decode(cfg, params, keys, steps=steps)
    predicted = np.argmax(run["logits"][:, 0], axis=-1)
    U = len(predicted)
    if target is None and np.any(predicted == EOS):
        U = int(np.argmax(predicted == EOS)) + 1
    logits = run["logits"][:U, 0]
    probs = np.exp(_log_softmax(logits))

    def rows(name):
        return None if run[name] is None else np.ascontiguousarray(run[name][:U, 0])

    return Decoding(src=src, tokens_in=run["tokens_in"][:U, 0], predicted=predicted[:U], keys=keys[:, 0],
                    s=rows("s"), cell=rows("cell"), context=rows("context"), scores=rows("scores"),
                    attention=rows("attention"), probs=probs, teacher_forced=target is not None)


def attention_matrix(cfg: ModelConfig, params, src, target=None) -> np.ndarray | None:
    """(U, T) attention weights a_ts (decoder step x encoder step) of decode(); None without attention."""
    return decode(cfg, params, src, target).attention


@dataclass(frozen=True)
class InputGradients:
    """How the loss and each output depend on each input embedding x_s (T inputs, U outputs)."""

    loss: float  # L = -(1/U) sum_t log p(y_t | y_<t, x), teacher-forced on the target
    dx: np.ndarray  # (T, E) dL/dx_s
    norm: np.ndarray  # (T,) ||dL/dx_s||
    per_output: np.ndarray  # (U, T) ||d log p(y_t) / dx_s||: row t is output t's sensitivity
    direct: np.ndarray  # (T,) ||the part of dL/dx_s through one encoder step|| (x_s -> k_s -> decoder)
    through_recurrence: np.ndarray  # (T,) ||the rest||: x_s -> k_s -> k_{s+1} -> ... -> decoder

    @property
    def per_output_share(self) -> np.ndarray:
        """(U, T) each row of per_output divided by its sum: where output t's input gradient goes.

        A ratio within one output, so it does not shrink as the model grows confident (the
        gradient of log p scales with 1 - p); with reversal_alignment it reads "how much of
        output t's gradient reaches the digit it must copy".
        """
        total = self.per_output.sum(axis=1, keepdims=True)
        return np.divide(self.per_output, total, out=np.zeros_like(self.per_output), where=total > 0)


def input_gradients(cfg: ModelConfig, params, src, target=None) -> InputGradients:
    """The gradient of the loss with respect to each input position's embedding x_s, and its paths.

    src (T,); target (U,) defaults to the reversal of src then </s>. `direct` is the part that
    reaches x_s in one encoder step: the decoder's own reads of k_s (the attention, and k_fin),
    chained through dk_s/dx_s with the previous encoder state held fixed. `through_recurrence`
    = dL/dx_s - direct: what reaches x_s through later (for the reverse pass: earlier) encoder
    states. Without attention only k_fin is read, so every other input has only the recurrent path.
    """
    params = check_params(cfg, params)
    src = _check_src(cfg, src, single=True)
    target = reversal_target(src) if target is None else _check_target(cfg, target)
    tgt_in = np.concatenate([[SOS], target[:-1]])[:, None]  # (U, 1)
    tgt_out = target[:, None]
    x = _embed(params, src[:, None])  # (T, 1, E)

    def log_probs_of_x(x):
        keys, _ = _encode(cfg, params, x)
        return _target_log_probs(cfg, params, keys, tgt_in, tgt_out)[:, 0]  # (U,)

    jac = jacobian(log_probs_of_x)(x)[:, :, 0]  # (U, T, E): d log p(y_t) / dx_s
    dx = -np.mean(jac, axis=0)  # (T, E): L is minus the mean of the log-probs

    keys, runs = _encode(cfg, params, x)  # the forward pass, for the one-step (direct) path
    # the decoder's gradient on each k_s, the encoder held fixed: (T, 1, K)
    loss, dL_dkeys = value_and_grad(lambda k: -anp.mean(_target_log_probs(cfg, params, k, tgt_in, tgt_out)))(keys)
    local = lambda x: _keys_one_step(cfg, params, x, runs)  # noqa: E731  k_s with the previous state fixed
    direct = grad(lambda x: anp.sum(local(x) * dL_dkeys))(x)[:, 0]  # (T, E)
    return InputGradients(loss=float(loss), dx=dx, norm=_norms(dx), per_output=_norms(jac), direct=_norms(direct),
                          through_recurrence=_norms(dx - direct))


def _keys_one_step(cfg: ModelConfig, params, x, runs):
    """k_s recomputed from x_s (T, B, E) in one step, each direction's previous state held fixed."""
    parts = []
    for d, (suffix, (h, c)) in enumerate(zip(_direction_suffixes(cfg), runs, strict=True)):
        p = _layer(params, "encoder", suffix)
        h_prev = _states_read(getval(h), reverse=d == 1)
        c_prev = None if c is None else _states_read(getval(c), reverse=d == 1)
        parts.append(cell_step(cfg.encoder, p, x, h_prev, c_prev)[0])
    return parts[0] if len(parts) == 1 else anp.concatenate(parts, axis=-1)


def _states_read(states: np.ndarray, reverse: bool) -> np.ndarray:
    """(T, B, H): the state each step reads, h_{s-1} (zeros at s = 1), or h_{s+1} for the reverse pass."""
    zero = np.zeros_like(states[:1])
    return np.concatenate([states[1:], zero]) if reverse else np.concatenate([zero, states[:-1]])


def _norms(a: np.ndarray) -> np.ndarray:
    """2-norm over the last axis."""
    return np.sqrt(np.sum(np.asarray(a) ** 2, axis=-1))


# --- saving, loading and the gallery ----------------------------------------------------------------


@dataclass(frozen=True)
class SavedModel:
    """Weights read from an .npz, with how they were made when the file says."""

    model: ModelConfig
    params: dict[str, np.ndarray]  # name -> array, shapes as param_shapes(model)
    training: TrainConfig | None  # the run that trained them, if recorded
    loss: np.ndarray | None  # (U,) that run's per-update loss (stored in float32), if recorded


def save_weights(path_or_file, cfg: ModelConfig, params, run: Seq2SeqRun | None = None) -> None:
    """Write params to a compressed .npz (np.savez_compressed; np.load reads it like np.savez's):
    one float64 array per key, cfg as JSON text under "__config__"; with a run, also its
    TrainConfig ("__training__") and its loss history in float32 ("__loss__", a plot's worth)."""
    params = check_params(cfg, params)
    extra = {}
    if run is not None:
        if run.config.model != cfg:
            raise ValueError(f"run.config.model must be cfg, got {run.config.model} for cfg {cfg}")
        extra = {"__training__": np.array(json.dumps(asdict(run.config))), "__loss__": run.loss.astype(np.float32)}
    np.savez_compressed(path_or_file, __config__=np.array(json.dumps(asdict(cfg))), **extra, **params)


def load_weights(source) -> SavedModel:
    """The model in an .npz written by save_weights: a path or its bytes. Never unpickles."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    with np.load(source, allow_pickle=False) as data:
        files = set(data.files)
        if "__config__" not in files:
            raise ValueError("the file must hold a '__config__' entry (written by save_weights); it has none")
        model = _config_from_json(ModelConfig, data["__config__"])
        training = None
        if "__training__" in files:
            training = _config_from_json(TrainConfig, data["__training__"])
        loss = np.array(data["__loss__"], dtype=np.float64) if "__loss__" in files else None
        params = {k: data[k] for k in files if not k.startswith("__")}
    return SavedModel(model, check_params(model, params), training, loss)


def _config_from_json(kind, text):
    """A ModelConfig or TrainConfig from its asdict() JSON; ValueError if it is anything else."""
    try:
        fields = json.loads(str(text))
        if kind is TrainConfig:
            fields["model"] = ModelConfig(**fields["model"])
        cfg = kind(**fields)
        _check_model(cfg if kind is ModelConfig else cfg.model)
    except (TypeError, KeyError, ValueError) as err:
        raise ValueError(f"the file's config must describe a {kind.__name__}, got {str(text)!r}") from err
    return cfg


# The trained weights the page (and the tests) use: the default run, with and without attention.
GALLERY = {
    "reversal-additive": TrainConfig(),
    "reversal-general": TrainConfig(model=ModelConfig(attention="general")),
    "reversal-none": TrainConfig(model=ModelConfig(attention="none")),
}
GALLERY_DIR = Path(__file__).parent / "gallery_data" / "attention"


def gallery_path(name: str, folder=GALLERY_DIR) -> Path:
    """Where build_gallery writes the model `name` (a key of GALLERY)."""
    if name not in GALLERY:
        raise ValueError(f"name must be one of {tuple(GALLERY)}, got {name!r}")
    return Path(folder) / f"{name}.npz"


def build_gallery(folder=GALLERY_DIR, names=None) -> dict[str, Path]:
    """Train GALLERY's models (all, or `names`) and save each with its run; same code, same arrays."""
    names = tuple(GALLERY) if names is None else tuple(names)
    Path(folder).mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names:
        path = gallery_path(name, folder)
        run = train_seq2seq(GALLERY[name])
        save_weights(path, run.config.model, run.params, run)
        paths[name] = path
    return paths


def load_gallery(name: str, folder=GALLERY_DIR) -> SavedModel:
    """The trained model `name` (a key of GALLERY), as build_gallery saved it."""
    path = gallery_path(name, folder)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: build it with rnnviz.attention.build_gallery()")
    return load_weights(path)


# --- checks ---------------------------------------------------------------------------------------------


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_model(cfg: ModelConfig) -> None:
    if cfg.attention not in ATTENTIONS:
        raise ValueError(f"attention must be one of {tuple(ATTENTIONS)}, got {cfg.attention!r}")
    for name in ("encoder", "decoder"):
        if getattr(cfg, name) not in CELLS:
            raise ValueError(f"{name} must be one of {tuple(CELLS)}, got {getattr(cfg, name)!r}")
    if not isinstance(cfg.bidirectional, bool):
        raise ValueError(f"bidirectional must be True or False, got {cfg.bidirectional!r}")
    for name in ("embed", "hidden", "decoder_hidden", "attention_size"):
        _check_int(name, getattr(cfg, name), 1)
    _check_int("vocab", cfg.vocab, len(VOCAB))


def _check_train(cfg: TrainConfig) -> None:
    _check_model(cfg.model)
    _check_int("min_length", cfg.min_length, 1)
    _check_int("max_length", cfg.max_length, cfg.min_length)
    _check_int("batch", cfg.batch, 1)
    _check_int("updates", cfg.updates, 1)
    if cfg.schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {tuple(SCHEDULES)}, got {cfg.schedule!r}")
    for name in ("lr", "clip"):
        value = getattr(cfg, name)
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value!r}")


def _check_src(cfg: ModelConfig, src, single=False) -> np.ndarray:
    src = np.asarray(src)
    ndim_ok = src.ndim == 1 if single else src.ndim in (1, 2)
    if not ndim_ok or src.shape[0] < 1 or not np.issubdtype(src.dtype, np.integer):
        expected = "(T,)" if single else "(T,) or (T, B)"
        raise ValueError(f"src must be integer ids of shape {expected} with T >= 1, got {src.dtype} {src.shape}")
    if src.min() < 0 or src.max() >= cfg.vocab:
        raise ValueError(f"src ids must be in [0, {cfg.vocab - 1}], got {src.min()} to {src.max()}")
    return src.astype(np.int64)


def _check_target(cfg: ModelConfig, target) -> np.ndarray:
    target = np.asarray(target)
    if target.ndim != 1 or target.shape[0] < 1 or not np.issubdtype(target.dtype, np.integer):
        raise ValueError(f"target must be integer ids of shape (U,) with U >= 1, got {target.dtype} {target.shape}")
    if target.min() < 0 or target.max() >= cfg.vocab:
        raise ValueError(f"target ids must be in [0, {cfg.vocab - 1}], got {target.min()} to {target.max()}")
    return target.astype(np.int64)
