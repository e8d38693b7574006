"""The app's map: one table of pages, which feeds the sidebar's links, the home page and the export command."""

from __future__ import annotations

from dataclasses import dataclass

from .registry import Registry
from .studies.attention import PARAMS as ATTENTION_PARAMS
from .studies.training import PARAMS as TRAINING_PARAMS


@dataclass(frozen=True)
class Page:
    """One page of the app."""

    key: str  # "step", "bptt", "training"; pages, studies and figures share it as a module name
    file: str  # the script, as st.page_link and AppTest.switch_page take it
    label: str  # in the sidebar, the browser tab and the home page's "Open in …" links
    icon: str  # a Material icon, ":material/…:"
    description: str  # one line: what the page teaches (the home page's section heading)
    params: tuple[str, ...] = ()  # the URL parameters of the page's own controls (beside config.PARAMS)
    terms: tuple[str, ...] = ()  # glossary keys of the technical terms the page uses


LESSON_PARAMS = ("lesson", "step")  # every page can be a lesson's step (ui.lessons)
STEP_TERMS = ("rnn", "cell", "hidden_state", "cell_state", "unit", "input", "one_hot", "weights", "pre_activation",
              "tanh", "sigmoid", "relu", "gate", "forget_gate", "input_gate", "output_gate", "candidate",
              "update_gate", "reset_gate", "forget_bias", "random_weights", "stacked", "bidirectional")
BPTT_TERMS = ("loss", "readout", "gradient", "norm", "log_scale", "bptt", "unrolled", "jacobian", "spectral_norm",
              "singular_value", "eigenvalue", "spectral_radius", "pascanu_bound", "vanishing", "exploding", "survival",
              "per_step_factor", "saturation", "dead_relu", "highway", "saliency", "forget_bias", "random_weights",
              "stacked", "bidirectional")
SETUPS_TERMS = ("setup", "encoder_decoder", "teacher_forcing", "loss", "readout", "gradient", "norm", "log_scale",
                "bptt", "unrolled", "vanishing", "random_weights")
TRAINING_TERMS = ("loss", "gradient", "norm", "log_scale", "exploding", "clipping", "cosine", "learning_rate",
                  "update", "optimiser", "cliff", "adding_problem", "temporal_order", "delayed_recall",
                  "spectral_radius")
COMPARE_TERMS = ("rnn", "cell", "hidden_state", "cell_state", "gate", "forget_gate", "update_gate", "candidate",
                 "forget_bias", "perturbation", "norm", "log_scale", "gradient", "loss", "readout", "bptt",
                 "vanishing", "highway", "weights", "random_weights")
ATTENTION_TERMS = ("encoder_decoder", "encoder", "decoder", "attention", "attention_weights", "context_vector",
                   "softmax", "reversal_task", "teacher_forcing", "embedding", "loss", "gradient",
                   "norm", "log_scale", "vanishing", "saliency", "random_weights")


PAGES: Registry[Page] = Registry("page", [
    Page("home", "app.py", "Home", ":material/home:", "What is here, and lessons that open a prepared scenario.",
         params=LESSON_PARAMS, terms=("rnn", "cell", "hidden_state", "gate", "cell_state", "gradient", "bptt",
                                      "vanishing", "exploding", "highway", "clipping")),
    Page("step", "pages/1_Step_through.py", "Step through", ":material/footprint:",
         "The forward pass, step by step", params=("t", "unit", "play", "speed", *LESSON_PARAMS), terms=STEP_TERMS),
    Page("bptt", "pages/2_Backprop_through_time.py", "Backprop through time", ":material/undo:",
         "Backprop through time: vanishing and exploding gradients",
         params=("t", "reached", "loss", "mode", "window", *LESSON_PARAMS), terms=BPTT_TERMS),
    Page("training", "pages/3_Clipping_and_training.py", "Clipping and training", ":material/content_cut:",
         "Clipping and training: exploding gradients in real runs, and the cliff",
         params=(*TRAINING_PARAMS, *LESSON_PARAMS), terms=TRAINING_TERMS),
    Page("compare", "pages/4_Compare_cells.py", "Compare cells", ":material/compare_arrows:",
         "Compare cells: how long an RNN, an LSTM and a GRU remember, side by side",
         params=("t", "perturb", *LESSON_PARAMS), terms=COMPARE_TERMS),
    Page("setups", "pages/5_Input_and_output_setups.py", "Input and output setups", ":material/account_tree:",
         "Input and output setups: where inputs enter, where the loss is, which steps get gradient",
         params=("setup", *LESSON_PARAMS), terms=SETUPS_TERMS),
    Page("attention", "pages/6_Attention.py", "Attention", ":material/center_focus_strong:",
         "Attention: every input one step from the output, so its gradient does not fade",
         params=(*ATTENTION_PARAMS, "t", *LESSON_PARAMS), terms=ATTENTION_TERMS),
])
