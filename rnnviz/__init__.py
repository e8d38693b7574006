"""rnnviz: an exact, fast RNN/LSTM/GRU engine and the analyses behind the rnnviz app."""

from .cells import BLOCKS, CELLS, GATES, KINDS, NONLINEARITIES, init_params
from .engine import (
    Backward,
    Trace,
    backward_from_trace,
    bptt,
    bptt_truncated,
    check_params,
    clip_grad_norm,
    clip_grad_value,
    forward,
    truncation_windows,
)
from .numerics import global_norm
from .readout import (
    ReadoutResult,
    every_step_mask,
    init_readout,
    last_step_mask,
    readout_loss,
)
from .stack import (
    NonFinite,
    ReverseTrace,
    StackBackward,
    StackTrace,
    bptt_stack,
    check_stack_params,
    forward_stack,
    init_stack,
    layer_params,
)
from .weights import LoadedWeights, load_weights

__all__ = [
    "BLOCKS", "CELLS", "GATES", "KINDS", "NONLINEARITIES", "Backward", "LoadedWeights", "NonFinite", "ReadoutResult",
    "ReverseTrace", "StackBackward", "StackTrace", "Trace", "backward_from_trace", "bptt", "bptt_stack",
    "bptt_truncated", "check_params", "check_stack_params", "clip_grad_norm", "clip_grad_value", "every_step_mask",
    "forward", "forward_stack", "global_norm", "init_params", "init_readout", "init_stack", "last_step_mask",
    "layer_params", "load_weights", "readout_loss", "truncation_windows",
]
