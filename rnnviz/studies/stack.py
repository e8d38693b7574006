"""The stacked / bidirectional study: the scenario's input through L layers and D directions, and back.

The Step-through and Backprop pages add it to their own single-cell study when the shared controls
ask for more than one layer or for both directions. Layer 1's forward direction is exactly the
single cell those pages study (the same weights: studies.step.make_params), so what they show in
detail is that layer; the other layers and the reverse direction get weights of their own, drawn
the same way from seeds derived from the scenario's seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import analysis, tasks
from ..cells import CELLS, PARAM_NAMES, init_params
from ..config import Config
from ..readout import ReadoutResult, init_readout, readout_loss
from ..stack import StackBackward, StackTrace, bptt_stack, forward_stack, stack_key
from .bptt import loss_mask
from .step import make_params, make_sample
from .step import step_labels as sample_labels


@dataclass(frozen=True)
class StackStudy:
    """One configured stack over one input sequence: its weights and every layer and direction's Trace."""

    config: Config
    sample: tasks.Sample
    params: dict[str, np.ndarray]  # keyed like nn.LSTM's state_dict: weight_ih_l0, ..._reverse, ..._l1
    trace: StackTrace

    @property
    def T(self) -> int:
        return self.sample.T

    @property
    def L(self) -> int:
        return self.trace.num_layers

    @property
    def D(self) -> int:
        return self.trace.num_directions

    @property
    def step_labels(self) -> list[str]:
        """(T,) what each step reads, as the Step page labels it."""
        return sample_labels(self.sample)

    def h(self, layer: int, direction: int) -> np.ndarray:
        """(T, H) h_t of one layer (0-based) and direction (0 forward, 1 reverse), in the sequence's time order."""
        return self.trace.layers[layer, direction].h

    def c(self, layer: int, direction: int) -> np.ndarray | None:
        """(T, H) the LSTM's c_t of one layer and direction, else None."""
        return self.trace.layers[layer, direction].c


def stack_params(cfg: Config, input_size: int) -> dict[str, np.ndarray]:
    """The stack's weights, state_dict keys: layer 0 forward is the single cell's (make_params), the
    others drawn like it (same init options) from the seed sequence (seed, layer, direction)."""
    cell, D = CELLS[cfg.cell], cfg.num_directions
    radius = cfg.radius if cfg.init == "radius" else None
    forget = float(cfg.forget_bias) if cell.has_forget_gate and cfg.forget_bias != "default" else None
    params = {}
    for layer in range(cfg.layers):
        for d in range(D):
            if layer == d == 0:
                own = make_params(cfg, input_size)
            else:
                own = init_params(cell.kind, input_size if layer == 0 else D * cfg.hidden, cfg.hidden,
                                  seed=[cfg.seed, layer, d], spectral_radius=radius, forget_bias=forget, **cell.init)
            params |= {stack_key(name, layer, d): w for name, w in own.items()}
    return params


def build(cfg: Config, trained=None) -> StackStudy:
    """Sample, weights and the stack's forward pass for one Config. Trained weights (cfg.weights not
    random: a file's stack) come from `trained` (rnnviz.trained.Trained), or the gallery by name."""
    if cfg.trained:
        from ..trained import fitted, resolve, sample_for  # trained.py imports this module's neighbours

        trained = trained if trained is not None and trained.key == cfg.weights else resolve(cfg)
        cfg = fitted(cfg, trained)
        sample, params = sample_for(trained, cfg), dict(trained.weights.stack)
    else:
        sample = make_sample(cfg)
        params = stack_params(cfg, sample.xs.shape[-1])
    return StackStudy(cfg, sample, params, forward_stack(cfg.kind, params, sample.xs, nonlinearity=cfg.nonlinearity))


@dataclass(frozen=True)
class StackGradients:
    """A readout loss on the stack's output and the gradient back through every layer and direction."""

    study: StackStudy
    loss_on: str  # "last" or "all" (studies.bptt.LOSS_ON)
    readout: ReadoutResult  # on the output (T, D*H): both directions of the top layer
    backward: StackBackward
    h_norms: dict[tuple[int, int], np.ndarray]  # (layer, direction) -> (T,) ||dL/dh_t||, the total gradient
    c_norms: dict[tuple[int, int], np.ndarray]  # the same for the LSTM's ||dL/dc_t||; empty for other cells

    @property
    def loss_steps(self) -> np.ndarray:
        """(T,) bool: the steps where the loss applies."""
        return np.any(self.readout.dL_dh != 0, axis=1)

    @property
    def message(self) -> str | None:
        """Where the forward or the backward pass overflowed ("layer 1 exploded at step 7: …"), else None."""
        return self.study.trace.nonfinite_message or self.backward.nonfinite_message


def gradients(cfg: Config, loss_on: str = "last", study: StackStudy | None = None, trained=None) -> StackGradients:
    """Forward, readout loss on the top layer's output (every direction), and BPTT through the stack;
    a trained stack's own readout when it has one that scores this input's task."""
    study = study or build(cfg, trained)
    cfg, sample, tr = study.config, study.sample, study.trace
    own = trained.stack_readout if trained is not None else None
    readout = (own if own is not None and own["weight_out"].shape[0] == sample.n_out
               else init_readout(cfg.num_directions * cfg.hidden, sample.n_out, seed=cfg.seed))
    with np.errstate(over="ignore", invalid="ignore"):
        result = readout_loss(readout, np.nan_to_num(tr.output, nan=0.0, posinf=0.0, neginf=0.0), sample.targets,
                              loss_mask(sample, loss_on), sample.loss)
        back = bptt_stack(cfg.kind, study.params, sample.xs, result.dL_dh, nonlinearity=cfg.nonlinearity)
    h_norms = {key: analysis.hidden_grad_norms(bw) for key, bw in back.layers.items()}
    c_norms = {key: analysis.cell_grad_norms(bw) for key, bw in back.layers.items() if bw.dc is not None}
    return StackGradients(study, loss_on, result, back, h_norms, c_norms)


def inputs_reaching(study: StackStudy, layer: int, direction: int, t: int) -> np.ndarray:
    """(T,) bool: the inputs x_s that h_t of this layer and direction depends on (1-based t).

    Computed, not assumed: backprop a gradient placed on that h_t alone through the layers up to
    it, and see which dL/dx_s are not zero.
    """
    cfg = study.config
    D, H = study.D, cfg.hidden
    below = {stack_key(name, l, d): study.params[stack_key(name, l, d)]  # the stack up to this layer
             for l in range(layer + 1) for d in range(D) for name in PARAM_NAMES}
    dL_dout = np.zeros((study.T, D * H))
    dL_dout[t - 1, direction * H:(direction + 1) * H] = 1.0
    back = bptt_stack(cfg.kind, below, study.sample.xs, dL_dout, nonlinearity=cfg.nonlinearity)
    return np.any(back.dxs != 0, axis=1)
