"""Guided lessons: short walks through the pages that ask the learner to predict before they reveal.

A lesson is a list of steps. Each step opens a page on a scenario (its URL parameters: so every step
has a link), says in a sentence or two what to look at, and may ask a question — a choice — whose
answer is revealed with the reason. Every number a step states is a *fact*: computed by the engine
for that step's scenario when the step is shown, never written into the text (the text has no
digits; tests check it). So a lesson, a home card and the page they open can never disagree.

Nothing here imports Streamlit: rnnviz.ui.lessons plays the lessons.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .config import from_query, parse_param
from .numerics import sigmoid
from .registry import Registry

Facts = dict[str, object]  # name -> number (or text) for the step's templates


@dataclass(frozen=True)
class Question:
    """A prediction the learner makes before the step reveals the answer."""

    prompt: str  # template: {fact} placeholders
    choices: tuple[str, ...]  # templates
    answer: Callable[[Facts], int]  # index of the right choice, from the facts
    why: str  # template: the reveal's explanation


@dataclass(frozen=True)
class Step:
    """One step of a lesson: a view of a page, what to look at, and maybe a question first."""

    page: str  # a key of ui.pages.PAGES
    params: dict[str, str]  # the view's URL parameters (controls not named take their defaults)
    title: str  # template
    say: str  # template: one or two sentences, {fact} placeholders; Markdown without links or images
    ask: Question | None = None
    facts: Callable[[dict[str, str]], Facts] | None = None  # the engine's numbers for this scenario
    hide: tuple[str, ...] = ()  # what shows the answer (views' item names or their prefixes, e.g. "bptt-"):
    #                             held back until the learner has answered


@dataclass(frozen=True)
class Lesson:
    key: str  # in the URL: lesson=<key>
    title: str
    summary: str  # one sentence for the home page
    steps: tuple[Step, ...]

    @property
    def label(self) -> str:
        return self.title


# --- facts: the engine's numbers for a scenario --------------------------------------------------------


def fraction_text(x: float) -> str:
    """A fraction as the pages print it (views.bptt.fraction_text)."""
    from .views.bptt import fraction_text as text

    return text(x)


def _step_facts(params: dict[str, str]) -> Facts:
    from .studies.step import build

    cfg, _ = from_query(params)
    study = build(cfg)
    tr = study.trace
    t = int(params.get("t", 1))
    k = t - 1
    facts: Facts = {"T": study.T, "t": t, "H": tr.H, "steps": study.T - 1, "n_values": tr.h.size,
                    "max_abs_h": float(np.max(np.abs(tr.h))), "char": study.step_labels[k]}
    facts |= {f"pre_h_{b}": float(v[k, 0]) for b, v in tr.pre_h.items()}
    facts |= {f"pre_x_{b}": float(v[k, 0]) for b, v in tr.pre_x.items()}
    facts |= {f"{g}0": float(v[k, 0]) for g, v in tr.gates.items()}
    facts |= {"h0": float(tr.h[k, 0]), "b_hh0": float(study.params["bias_hh"][0])}
    if tr.c is not None:
        f = tr.gates["f"]
        facts |= {"c0": float(tr.c[k, 0]), "c_prev0": float(tr.c_prev[k, 0]), "mean_f": float(np.mean(f)),
                  "kept": float(np.prod(f[1:, 0])), "kept_text": fraction_text(float(np.prod(f[1:, 0]))),
                  "fb": cfg.forget_bias, "sigma_fb": float(sigmoid(float(cfg.forget_bias)))}
    return facts


def _bptt_facts(params: dict[str, str]) -> Facts:
    from .studies.bptt import build

    cfg, _ = from_query(params)
    study = build(cfg, params.get("loss", "last"))
    reach, main = study.reach, study.main
    facts: Facts = {
        "T": main.scenario.T, "steps": main.scenario.T - 1, "regime": reach.regime,
        "fraction": reach.fraction, "fraction_text": fraction_text(reach.fraction), "factor": reach.factor,
        "tiny": 1e-6, "tiny_text": "10⁻⁶", "radius": cfg.radius, "fb": cfg.forget_bias, "scale": cfg.input_scale,
        "sat": float(np.mean(study.saturation["all"])),
        "saliency_first": float(study.saliency[0] / study.saliency[-1]) if study.saliency[-1] > 0 else math.nan,
    }
    facts["saliency_first_text"] = fraction_text(facts["saliency_first"])
    facts["power"] = cfg.radius ** (main.scenario.T - 1)
    facts["power_text"] = fraction_text(facts["power"])
    if study.gamma_sigma is not None:
        facts |= {"gamma_sigma": study.gamma_sigma, "dead": study.dead_units}
    for cell, other in study.others.items():
        facts[f"{cell.replace('-', '_')}_fraction_text"] = fraction_text(other.reach.fraction)
        facts[f"{cell.replace('-', '_')}_regime"] = other.reach.regime
    tr = main.scenario.trace
    if tr.kind == "rnn" and tr.nonlinearity == "tanh":
        facts["mean_slope"] = float(np.mean(1.0 - tr.h**2))  # tanh' = 1 - h^2, averaged over units and steps
    if main.c_norms is not None:
        f = tr.gates["f"]
        best = float(np.max(np.prod(f[1:], axis=0)))  # the unit whose forget gates keep the most
        facts |= {"mean_f": float(np.mean(f)), "f_best_text": fraction_text(best)}
    return facts


# Where the training facts get their runs: train() unless the app sets its server's run store
# (rnnviz.ui.training), so a lesson quotes exactly the runs its page shows, and trains nothing the
# store keeps. The same settings give the same run either way (training is seeded).
_runs: Callable | None = None


def use_runs(runs: Callable | None) -> None:
    """runs(cfg) -> the finished TrainingRun of cfg, for the training facts (None: train them)."""
    global _runs
    _runs = runs


def _training_facts(params: dict[str, str]) -> Facts:
    from .studies import training as page
    from .training import outcome, train

    values = {name: param.default for name, param in page.PARAMS.items()}
    values |= {name: parse_param(name, raw, page.PARAMS[name])[0] for name, raw in params.items()
               if name in page.PARAMS}
    facts: Facts = {}
    if values.get("part") == "cliff":
        start = page.wall_point(float(values["cl_b"])) if values["cl_snap"] else (float(values["cl_w"]),
                                                                                  float(values["cl_b"]))
        cliff = page.cliff_study(start, float(values["cl_lr"]), int(values["cl_steps"]), float(values["cl_tau"]))
        return {"grad": cliff.start_grad_norm, "raw_step": cliff.first_steps["no clipping"],
                "clipped_step": cliff.first_steps["clipped"], "tau": float(values["cl_tau"])}
    runs = [(_runs or train)(cfg) for cfg in page.run_configs(values)]
    for k, run in enumerate(runs, start=1):
        end = outcome(run)  # the same verdict the page's run summary prints
        facts |= {f"run{k}_clip": run.config.clip, f"run{k}_diverged": run.diverged_at,
                  f"run{k}_cos": float(np.nanmin(run.cosine)) if run.updates_done else math.nan,
                  f"run{k}_first": end.first, f"run{k}_last": end.last, f"run{k}_tau": run.config.threshold,
                  f"run{k}_learned": end.learned, f"run{k}_fate": end.phrase, f"run{k}_verdict": end.verdict,
                  "constant": end.constant}
    return facts


def _compare_facts(params: dict[str, str]) -> Facts:
    from .studies import compare
    from .views.compare import PARAMS, kept_text, perturb_param

    cfg, _ = from_query(params)
    models = parse_param("models", params.get("models", PARAMS["models"].default), PARAMS["models"])[0]
    study = compare.build_trained() if models == "gallery" else compare.build(cfg)
    default = study.first_kept_step
    k = int(parse_param("perturb", params.get("perturb", str(default)), perturb_param(study.T, default))[0])
    memory = compare.memory(study, k)
    facts: Facts = {"T": study.T, "k": k, "later": study.T - k, "fb": cfg.forget_bias}
    answers = compare.final_answers(study, memory)
    for cell, run in study.cells.items():
        name = run.kind  # "rnn", "lstm", "gru": one of each
        facts |= {f"{name}_kept": memory.kept(cell), f"{name}_kept_text": kept_text(memory.kept(cell))}
        if run.memory_gate is not None:
            facts[f"mean_{run.memory_gate}"] = float(np.mean(run.gate_values))
        if cell in answers:
            facts[f"{name}_before"], facts[f"{name}_after"] = answers[cell]
    return facts


def _attention_facts(params: dict[str, str]) -> Facts:
    from . import attention as at
    from .studies import attention as page
    from .views.attention import ratio_text, share_text

    values = {name: param.default for name, param in page.PARAMS.items()}
    values |= {name: parse_param(name, raw, page.PARAMS[name])[0] for name, raw in params.items()
               if name in page.PARAMS}
    study = page.build(page.Scenario(values["attention"], values["digits"], values["model"]))
    with_ = next(run for key, run in study.runs.items() if key != "none")  # the model with attention
    none = study.runs["none"]
    a = with_.decoding.attention  # (U, T)
    T, want = study.T, study.alignment
    peak = a[:T].argmax(axis=1)
    facts: Facts = {
        "T": T, "steps": T - 1, "digits": values["digits"], "first": study.input_tokens[0],
        "last": study.input_tokens[-1], "answer": " ".join(study.output_tokens[:-1]),
        "with_answer": " ".join(at.tokens(with_.answer)), "none_answer": " ".join(at.tokens(none.answer)),
        "with_right": with_.right, "none_right": none.right,
        "first_peak": int(peak[0]), "first_peak_weight": float(a[0].max()), "first_last_weight": float(a[0, -1]),
        "near": int(np.sum(np.abs(peak - want) <= 1)), "exact": int(np.sum(peak == want)),
        "with_fade": with_.fade, "none_fade": none.fade, "with_fade_text": ratio_text(with_.fade),
        "none_fade_text": ratio_text(none.fade), "with_share": share_text(with_.fade),
        "none_share": share_text(none.fade), "weights": values["model"],
    }
    return facts


def _accuracy(params: dict[str, str]) -> Facts:
    """Greedy decoding's exact-sequence accuracy of both trained models on fresh strings as long as the
    longest they were trained on (rnnviz.attention.evaluate)."""
    from . import attention as at
    from .studies.attention import MODELS

    T = at.GALLERY[MODELS["additive"]].max_length
    exact = {}
    for key in ("additive", "none"):  # the lesson's two models
        saved = at.load_gallery(MODELS[key])
        exact[key] = float(at.evaluate(saved.model, saved.params, lengths=[T], n=100).exact[0])
    return {"acc_with": exact["additive"], "acc_none": exact["none"], "train_max": T}


FACTS = {"step": _step_facts, "bptt": _bptt_facts, "training": _training_facts, "compare": _compare_facts,
         "attention": _attention_facts}


def facts(step: Step) -> Facts:
    """The engine's numbers for a step's scenario (the page's own facts, and the step's)."""
    own = FACTS[step.page](step.params) if step.page in FACTS else {}
    own |= step.facts(step.params) if step.facts else {}
    return own


def render(template: str, facts_: Facts) -> str:
    """A template with its facts filled in ({name} or {name:format})."""
    return template.format(**facts_)


# --- the lessons ---------------------------------------------------------------------------------------

TEXT = "hello"
PANGRAM = "the quick brown fox jumps over the lazy dog"
RNN = {"cell": "rnn-tanh", "source": "text", "text": TEXT, "hidden": "4"}
LSTM = {"cell": "lstm", "source": "text", "text": "hello world", "hidden": "8"}
NOISE_RNN = {"cell": "rnn-tanh", "source": "noise", "length": "60", "hidden": "16"}
RELU = {"cell": "rnn-relu", "source": "noise", "length": "60", "hidden": "16", "init": "radius"}
ADDING = {"source": "task", "task": "adding", "length": "80", "hidden": "16"}
EXPLODE_RUNS = {"part": "train", "r1_clip": "none", "r2_clip": "norm", "r3_clip": "off"}
REVERSE = {"attention": "additive", "digits": "4829107356", "model": "trained"}
LONG_DIGITS = "482910735619283746"  # longer than any string the models were trained on


def _scale_one(params: dict[str, str]) -> Facts:
    """The same scenario at input scale one, for comparison."""
    one = _bptt_facts({**params, "input_scale": "1"})
    return {"fraction_one": one["fraction_text"], "fraction_one_value": one["fraction"], "slope_one": one["mean_slope"]}


STACK = {"cell": "lstm", "source": "text", "text": "the cat sat", "hidden": "8", "layers": "2",
         "direction": "bidirectional"}
DEEP = {"cell": "gru", "source": "noise", "length": "40", "hidden": "16", "layers": "3"}
BIDI = {"cell": "lstm", "source": "noise", "length": "30", "hidden": "8", "direction": "bidirectional"}


def _reading_facts(params: dict[str, str]) -> Facts:
    """What the stack's states at step t have read: the inputs that can change them, found by the engine."""
    from .studies.stack import build, inputs_reaching

    cfg, _ = from_query(params)
    study = build(cfg)
    t = int(params.get("t", 1))
    steps = np.arange(1, study.T + 1)
    reverse = inputs_reaching(study, 0, 1, t)
    reads = [np.array_equal(reverse, steps <= t), np.array_equal(reverse, steps >= t), bool(reverse.all())]
    top = inputs_reaching(study, study.L - 1, 0, t)
    return {"L": study.L, "fwd_seen": int(inputs_reaching(study, 0, 0, t).sum()), "rev_seen": int(reverse.sum()),
            "rev_reads": reads.index(True) if any(reads) else -1, "top_seen": int(top.sum()),
            "top_all": bool(top.all())}


def _depth_facts(params: dict[str, str]) -> Facts:
    """The stack's gradient by layer: each layer's ||dL/dh_t|| against the top layer's at t = T."""
    from .studies.stack import gradients

    cfg, _ = from_query(params)
    g = gradients(cfg, params.get("loss", "last"))
    L, top = cfg.layers, g.h_norms[cfg.layers - 1, 0]
    bottom = g.h_norms[0, 0]
    facts: Facts = {"L": L, "down": L - 1, "bottom_last": float(bottom[-1] / top[-1]),
                    "bottom_first": float(bottom[0] / top[-1]), "top_first": float(top[0] / top[-1])}
    for name in ("bottom_last", "bottom_first", "top_first"):
        facts[f"{name}_text"] = fraction_text(facts[name])
    # each layer fades back in time at its own rate (the mean factor a step back, t = T to t = 1), so
    # the lines may cross: the last step t, counted back from T, from which the bottom one is the larger
    T = bottom.size
    facts["bottom_factor"], facts["top_factor"] = (float((a[0] / a[-1]) ** (1 / (T - 1))) for a in (bottom, top))
    larger = bottom >= top  # (T,) where the bottom layer's is the larger
    cross = int(np.flatnonzero(larger).max()) + 1 if larger.any() else 0  # the last such t (1-based)
    facts["crossing_text"] = ("and it stays the smaller one all the way back" if not cross
                              else f"so from t = {cross} back the bottom layer's gradient is the larger one"
                              if larger[:cross].all() else "so the two lines cross more than once")
    if cfg.num_directions == 2:
        for layer in range(L):
            facts[f"rev{layer}_receiving"] = int(np.sum(g.h_norms[layer, 1] > 0))
            facts[f"fwd{layer}_receiving"] = int(np.sum(g.h_norms[layer, 0] > 0))
    return facts


def _which_learned(first: bool, second: bool) -> int:
    """The choice index of ("only the first", "only the second", "both", "neither") learned."""
    return {(True, False): 0, (False, True): 1, (True, True): 2, (False, False): 3}[(first, second)]


def _pick(value: float, edges: tuple[float, ...]) -> int:
    """The index of the interval of `value` between edges (choices ordered low to high)."""
    return int(np.searchsorted(edges, value, side="right"))


ATTENTION_LESSON = Lesson(
    "attention", "Attention: a short path from every input",
    "An encoder-decoder reverses digits; attention lets every output look at every input, and the gradient "
    "follow the same short path back.", (
        Step("attention", {**REVERSE, "t": "1"}, "Writing it backwards",
             "The encoder reads the {T} digits {digits} one at a time; then the decoder writes them backwards, one "
             "token per step, and stops with </s>. With attention the model writes {with_answer}; without "
             "attention, {none_answer}. The first token needs the last digit, the last token the first digit: the "
             "answer needs the whole input."),
        Step("attention", {**REVERSE, "t": "1"}, "Where does the first step look?",
             "Decoder step one must write the last digit, ‘{last}’.",
             ask=Question("Where will decoder step one put most of its attention?",
                          ("On the first digit", "On the last digit", "Spread evenly over all of them"),
                          lambda f: 1 if f["first_peak"] == f["T"] - 1 else (0 if f["first_peak"] == 0 else 2),
                          "On the last digit: it gives the last position {first_last_weight:.0%} of its attention. "
                          "Attention learned where to look, from the task alone: nobody told it."),
             hide=("attention-matrix", "attention-decoder-step")),
        Step("attention", {**REVERSE, "t": "4"}, "The anti-diagonal",
             "Move t with ▶ and watch the orange box go down the matrix: each step looks one position further to "
             "the left. {near} of the {T} digit steps look hardest within one position of the digit they copy, "
             "{exact} exactly on it: a one-way encoder's vector at the next position still holds the digit before "
             "it, and the model may read that digit there."),
        Step("attention", {**REVERSE, "attention": "none"}, "Without attention",
             "The same model without attention reads the encoder's last vector at every step: the first digit "
             "must travel through every encoder step after it to get there.",
             ask=Question("Of the gradient that reaches the last digit, how much reaches the first, {steps} encoder "
                          "steps further back?",
                          ("Less than a fifth of it", "Between a fifth and five times as much",
                           "More than five times as much"),
                          lambda f: _pick(f["none_fade"], (0.2, 5.0)),
                          "{none_share}: each encoder step back multiplies the gradient by its Jacobian, and "
                          "the factors compound over the distance, as in any recurrent network."),
             hide=("attention-input-gradients",)),
        # Not a question: the previous step's reveal already drew both models' lines, digit by digit.
        Step("attention", REVERSE, "With attention",
             "With attention every digit's encoder vector is read directly into every step's context. Without it "
             "the first digit got {none_fade_text} the last digit's gradient; with it, {with_share}: every digit is "
             "one encoder step from the context, so its gradient does not fade with its distance."),
        Step("attention", {**REVERSE, "digits": LONG_DIGITS, "model": "untrained"}, "Where training starts",
             "Before training, on {T} digits, the difference is starker: without attention the first digit gets "
             "{none_fade_text} the last digit's gradient, with attention {with_fade_text} it. A gradient that faded "
             "cannot teach the far digits: trained on strings of up to {train_max} digits, the model with attention "
             "reverses {acc_with:.0%} of fresh {train_max}-digit strings exactly, the one without {acc_none:.0%}.",
             facts=_accuracy),
    ))


LESSONS: Registry[Lesson] = Registry("lesson", [
    Lesson("cell", "What a recurrent cell computes",
           "The same small network at every step, a state that carries the past: read one RNN step by step.", (
        Step("step", {**RNN, "t": "1"}, "One character at a time",
             "A vanilla RNN reads “{word}” one character at a time. At each step t it combines the character "
             "x_t with its previous state h_t−1 into a new state h_t = tanh(W_ih x_t + b_ih + W_hh h_t−1 + b_hh). "
             "In the cell diagram x_t enters from below and h_t−1 from the left.",
             facts=lambda p: {"word": TEXT}),
        Step("step", {**RNN, "t": "1"}, "No past yet",
             "Look at the equations under the diagram, unit j = {zero}.",
             ask=Question("At t = {t} there is no past: h_0 is all zeros. What is unit {zero}'s recurrent part "
                          "W_hh h_0 + b_hh?",
                          ("Zero", "Just the bias b_hh[{zero}]", "The same as its input part"),
                          lambda f: 1,
                          "W_hh times a vector of zeros is zero, so only the bias is left: the recurrent part is "
                          "{pre_h_h:.3g}, and b_hh[{zero}] is {b_hh0:.3g}."),
             facts=lambda p: {"zero": 0}, hide=("step-equations",)),
        Step("step", {**RNN, "t": "2"}, "The past arrives",
             "Now at t = {t} the state h_1 is no longer zero: the recurrent part of unit {zero} is {pre_h_h:.3g}, "
             "carrying what the cell computed at t = {one} into this step. Press ▶ or the → key to read on.",
             facts=lambda p: {"zero": 0, "one": 1}),
        Step("step", {**RNN, "t": "3"}, "Squashed",
             "Every unit of h_t is a tanh of its sum.",
             ask=Question("Over the whole text, can any unit of h_t be larger than one in size?",
                          ("Yes, when the inputs are large", "No, never"), lambda f: 1,
                          "tanh maps every number into the range from minus one to one. Here the largest |h_t| over "
                          "all {n_values} numbers is {max_abs_h:.3f}."),
             hide=("step-vectors", "step-equations", "step-heatmaps")),
        Step("step", {**RNN, "t": "5"}, "Random weights",
             "The same weights are used at every step: that is what makes the network recurrent. These weights "
             "are random, so no unit means anything yet. Scroll down to the heatmaps: every state over the whole "
             "text, one row per unit, the current step marked.",
             facts=lambda p: {}),
    )),
    Lesson("lstm", "The LSTM's gates and cell state",
           "Three gates between zero and one decide what the cell state forgets, writes and shows.", (
        Step("step", {**LSTM, "t": "1"}, "A second memory",
             "The LSTM keeps a second memory, the cell state c_t, running along the top of the diagram. Three gates, "
             "each a vector of numbers between zero and one, decide what happens to it: f (forget) multiplies the old "
             "c, i (input) lets the candidate g in, o (output) decides how much of tanh(c) becomes h."),
        Step("step", {**LSTM, "forget_bias": "3", "t": "4"}, "The forget gate's bias",
             "Look at the f strip in the diagram and at f's row in the heatmaps.",
             ask=Question("The forget gate's bias is {fb}. Before you look: where will the forget gate's values sit?",
                          ("Near zero: it forgets", "Near one half", "Near one: it keeps"),
                          lambda f: _pick(f["mean_f"], (0.35, 0.65)),
                          "σ({fb}) = {sigma_fb:.2f}: the bias is added inside the sigmoid, so f sits at {mean_f:.2f} "
                          "on average here, and the cell keeps most of its memory from step to step."),
             hide=("step-cell", "step-vectors", "step-equations", "step-heatmaps")),
        Step("step", {**LSTM, "forget_bias": "3", "t": "4"}, "Writing into the cell state",
             "Read unit {zero}'s line for c in the equations at t = {t}: c_t = f·c_t−1 + i·g = {f0:.3g} × "
             "{c_prev0:.3g} + {i0:.3g} × {g0:.3g} = {c0:.3g}. Move t and watch which term wins.",
             facts=lambda p: {"zero": 0}),
        Step("step", {**LSTM, "forget_bias": "0", "t": "11"}, "Forgetting adds up",
             "Step through with ▶ and watch f at every step.",
             ask=Question("With the forget bias at {fb}, how much of unit {zero}'s c_1 survives in c_T after {steps} "
                          "steps of forgetting (the product of its forget gates)?",
                          ("Almost none: less than a tenth of a percent", "A few percent", "Most of it: over half"),
                          lambda f: _pick(f["kept"], (1e-3, 0.5)),
                          "The forget gates multiply: their product over the {steps} steps is {kept_text}. With the "
                          "bias at {fb}, f hovers near one half, and halves add up fast."),
             facts=lambda p: {"zero": 0}, hide=("step-equations", "step-heatmaps")),
    )),
    Lesson("vanishing", "Why gradients vanish",
           "Backprop through time multiplies the gradient at every step back: watch it shrink to nothing.", (
        Step("bptt", {**NOISE_RNN, "mode": "backward"}, "Carrying the gradient back",
             "To learn, the network needs the gradient of the loss with respect to every earlier state. Backprop "
             "through time carries it back from the loss at the last step, one step at a time: press ◁ Play "
             "backward and watch the edges fade."),
        Step("bptt", {**NOISE_RNN, "mode": "backward"}, "How much arrives?",
             "Look at the plot of ||dL/dh_t|| under the graph, then at the numbers beside it.",
             ask=Question("Of the gradient at the last step, will more or less than {tiny_text} reach t = 1, "
                          "{steps} steps back?", ("More", "Less"), lambda f: int(f["fraction"] < f["tiny"]),
                          "{fraction_text} of it arrives: each step back multiplies it by about {factor:.3g}. "
                          "On the log axis that is a straight line falling towards t = 1."),
             hide=("bptt-",)),
        Step("bptt", {**RELU, "radius": "0.8", "mode": "backward"}, "Stretch and loss",
             "A ReLU RNN whose W_hh is scaled to spectral radius {radius}. Look at W_hh's singular values in "
             "“Why it happens”: the largest, σ_max, is the most one step can stretch the gradient.",
             ask=Question("Here γσ_max = {gamma_sigma:.3g}, above one: a step back may stretch the gradient. Will it "
                          "still vanish on its way to t = 1?",
                          ("No: it can grow at every step", "Yes, it still vanishes"),
                          lambda f: int(f["regime"] == "vanishing"),
                          "{fraction_text} arrives, × {factor:.3g} a step back. σ_max only bounds the stretch in "
                          "W_hh's best direction. {dead:.0%} of the ReLU units are off at a step (slope zero), so the "
                          "gradient loses those directions at every step, and the product shrinks: Pascanu's bound "
                          "holds, but it does not bind."),
             hide=("bptt-graph", "bptt-grad-norms", "bptt-jacobians", "bptt-saturation", "bptt-contributions",
                   "bptt-saliency")),
        Step("bptt", {**NOISE_RNN, "input_scale": "5", "mode": "backward"}, "Saturation",
             "The inputs are now multiplied by {scale:g}, the same tanh RNN otherwise.",
             ask=Question("At scale one, {fraction_one} of the gradient reached t = 1. With bigger inputs, will "
                          "more or less reach it?", ("More", "Less"),
                          lambda f: int(f["fraction"] < f["fraction_one_value"]),
                          "{fraction_text}. Bigger inputs push the tanh units towards ±1, where its slope is small: "
                          "the average slope falls from {slope_one:.2f} to {mean_slope:.2f}, and the gradient is "
                          "multiplied by that slope at every step back."),
             facts=lambda p: _scale_one(p), hide=("bptt-",)),
        Step("bptt", {**NOISE_RNN, "mode": "backward"}, "What the network cannot learn",
             "Scroll to the saliency plot: ||dL/dx_t|| says how much each input can still change the loss. The "
             "first input's is {saliency_first_text} of the last one's: whatever it held, the network cannot "
             "learn that it mattered."),
    )),
    Lesson("exploding", "Why gradients explode, and what clipping does",
           "Above one the gradient grows at every step back; clipping keeps one huge step from wrecking training.", (
        Step("bptt", {**RELU, "radius": "1.2", "mode": "backward"}, "A radius above one",
             "The same network with W_hh scaled to spectral radius {radius}.",
             ask=Question("Which way will the gradient go as it travels back to t = 1?",
                          ("It vanishes", "It is carried", "It explodes"),
                          lambda f: ("vanishing", "carried", "exploding").index(f["regime"]),
                          "It is {regime}: {fraction_text} of the gradient at t = T arrives at t = 1, × {factor:.3g} "
                          "a step back. Each step back stretches it a little; {steps} steps compound."),
             hide=("bptt-",)),
        Step("training", EXPLODE_RUNS, "Exploding gradients in training",
             "Two runs of the same tanh RNN on the same data: run one without clipping, run two with the "
             "gradient's norm clipped at τ = {run2_tau:g}.",
             ask=Question("Which run learns the task, ending clearly below the loss of the best constant answer "
                          "(one answer for every input)?",
                          ("Only the unclipped run", "Only the clipped run", "Both", "Neither"),
                          lambda f: _which_learned(f["run1_learned"], f["run2_learned"]),
                          "The unclipped run {run1_fate}. The clipped run {run2_fate} (the best constant answer "
                          "scores {constant:.3g}). Clipping keeps one huge step from throwing the weights away; "
                          "whether the run then learns the task is up to the rest of its training."),
             hide=("train-",)),
        Step("training", {"part": "train", "r1_clip": "norm", "r1_th": "1", "r2_clip": "value", "r2_th": "0.05",
                          "r3_clip": "none"}, "Norm or value?",
             "Norm clipping scales the whole gradient down to length τ = {run1_tau:g}: its direction is kept (the "
             "cosine between the raw and the clipped gradient is {run1_cos:.3g} at its lowest). Value clipping cuts "
             "every entry into [−v, v] with v = {run2_tau:g}: the direction turns, down to a cosine of {run2_cos:.2f}. "
             "Both tame the explosion: compare the loss curves with the unclipped run's."),
        Step("training", {"part": "cliff"}, "The cliff",
             "A one-unit recurrent net whose loss has a wall (Pascanu, Mikolov and Bengio). The descent starts right "
             "next to the wall, where the gradient's norm is {grad:.3g}.",
             ask=Question("How far will one plain gradient step move the weights?",
                          ("Less than one", "Between one and a thousand", "More than a thousand"),
                          lambda f: _pick(f["raw_step"], (1.0, 1e3)),
                          "It moves them {raw_step:.3g}: far off the map. Clipped at τ = {tau:g}, the same step "
                          "moves them {clipped_step:.3g}."),
             hide=("train-cliff",)),
    )),
    Lesson("highway", "The LSTM's gradient highway",
           "Along its cell state the LSTM multiplies the gradient only by the forget gate: it can carry it far.", (
        Step("bptt", {**ADDING, "cell": "rnn-tanh", "mode": "backward"}, "The adding problem",
             "In the adding problem the answer depends on two numbers far back in a sequence of {T} steps. A tanh "
             "RNN is {regime}: {fraction_text} of its gradient reaches t = 1."),
        Step("bptt", {**ADDING, "cell": "lstm", "forget_bias": "0", "mode": "backward"}, "An LSTM, forget bias {fb}",
             "The same input, an LSTM whose forget bias is {fb}.",
             ask=Question("The tanh RNN kept {rnn_tanh_fraction_text}. What will this LSTM carry back to t = 1?",
                          ("Much more: it is carried", "A little more, but it still vanishes", "Less"),
                          lambda f: 0 if f["regime"] == "carried" else (1 if f["fraction"] > f["rnn_tanh_fraction"]
                                                                         else 2),
                          "{fraction_text} reaches t = 1: with its forget gates near one half the cell state forgets "
                          "at every step, and so does its gradient."),
             facts=lambda p: {"rnn_tanh_fraction": _bptt_facts({**p, "cell": "rnn-tanh"})["fraction"]},
             hide=("bptt-",)),
        Step("bptt", {**ADDING, "cell": "lstm", "forget_bias": "3", "mode": "backward"}, "Forget bias {fb}",
             "Now the forget bias is {fb}: the gate starts almost open.",
             ask=Question("What fraction of the gradient at t = T reaches t = 1 along the cell state?",
                          ("Less than a tenth of a percent", "Between a tenth of a percent and ten percent",
                           "More than ten percent"),
                          lambda f: _pick(f["fraction"], (1e-3, 0.1)),
                          "{fraction_text}, × {factor:.3g} a step back. Along the cell state the gradient is "
                          "multiplied only by the forget gate, unit by unit, with no squashing function in the way: "
                          "the best-kept unit's forget gates multiply to {f_best_text} over the {steps} steps, and the "
                          "gates that write into c add more on top. The dashed line on the plot is this highway."),
             hide=("bptt-",)),
        Step("bptt", {**ADDING, "cell": "gru", "mode": "backward"}, "The GRU's update gate",
             "The GRU has no separate cell state: its update gate z mixes h_t = (1 − z)·n + z·h_t−1, so where z is "
             "near one the old state, and its gradient, pass through unchanged. Here it is {regime}: "
             "{fraction_text} reaches t = 1."),
    )),
    Lesson("stack", "Deeper and both ways: stacked and bidirectional layers",
           "Layers on top of layers, and a second cell reading backwards: what each state has seen, and where the "
           "gradient can go.", (
        Step("step", {**STACK, "t": "1"}, "A stack of {L} layers",
             "This LSTM has {L} layers, and each reads the sentence both ways. Look at the stack at the top of the "
             "page: the input x_t at the bottom, then layer one, then layer two, which reads both of layer one's "
             "states at the same step. In each layer the forward direction (left) reads from the first character "
             "on, the reverse direction (right) from the last character back.",
             facts=_reading_facts),
        Step("step", {**STACK, "t": "3"}, "The reverse direction",
             "Step t = {t}: the forward state of layer one has read the characters so far.",
             ask=Question("At step {t}, which characters has layer one's reverse state read?",
                          ("The characters up to this one", "The characters from this one to the end", "All of them"),
                          lambda f: f["rev_reads"],
                          "It has read the {rev_seen} characters from the end of the sentence back to this one: the "
                          "engine finds that exactly those inputs can change it. The forward state has read the "
                          "first {fwd_seen}. Look at the shaded bands in the heatmaps: move t and they move."),
             facts=_reading_facts, hide=("step-stack",)),
        Step("step", {**STACK, "t": "3"}, "The layer above",
             "Layer two reads layer one's forward and reverse states side by side.",
             ask=Question("How many of the {T} characters can change layer two's forward state at step {t}?",
                          ("Only the characters up to this one, like layer one's forward state", "All of them"),
                          lambda f: int(f["top_all"]),
                          "All {top_seen}: at step {t} layer two reads layer one's reverse state too, which has read "
                          "to the end. From the second layer up, every state of a bidirectional stack has seen the "
                          "whole sentence."),
             facts=_reading_facts, hide=("step-stack",)),
        Step("bptt", {**DEEP, "mode": "backward"}, "Depth multiplies too",
             "A GRU with {L} layers, one way, the loss on the last step only. The gradient reaches a lower layer "
             "only through the layers above it.",
             ask=Question("At t = T, how does the bottom layer's gradient compare with the top layer's?",
                          ("Larger", "Smaller", "About the same"),
                          lambda f: 0 if f["bottom_last"] > 2 else (1 if f["bottom_last"] < 0.5 else 2),
                          "The bottom layer gets {bottom_last_text} of the top layer's: on its way down it is "
                          "multiplied by the Jacobians of the {down} layers above. Going back in time multiplies as "
                          "well, and each layer at its own rate: the bottom layer's gradient fades by × "
                          "{bottom_factor:.2f} a step back on average, the top layer's by × {top_factor:.2f}, "
                          "{crossing_text}. At t = 1 the bottom layer keeps {bottom_first_text} of the top layer's "
                          "gradient at t = T, the top layer {top_first_text}. A path may step down a layer at any "
                          "step, so depth and time are two directions of one grid of Jacobians: see both plots at "
                          "the top."),
             facts=_depth_facts, hide=("bptt-stack",)),
        Step("bptt", {**BIDI, "mode": "backward"}, "Two directions, one loss at the end",
             "A bidirectional LSTM, one layer, the loss on the last step only: it reads the forward and the "
             "reverse state at t = T.",
             ask=Question("Of the reverse direction's {T} states, how many receive any gradient?",
                          ("All of them, fading towards t = 1", "Only the one at t = T"),
                          lambda f: int(f["rev0_receiving"] == 1),
                          "{rev0_receiving} of them, against {fwd0_receiving} for the forward direction. The reverse "
                          "direction computes its state at t = T first, from the last input alone; its other states "
                          "come after it and never reach the loss. A gradient only flows to the states that computed "
                          "what the loss reads."),
             facts=_depth_facts, hide=("bptt-stack",)),
        Step("bptt", {**BIDI, "layers": "2", "mode": "backward"}, "A layer above changes that",
             "With a second layer on top, layer one's reverse direction receives gradient at {rev0_receiving} of "
             "its {T} steps: layer two's forward direction reads it at every step and carries the loss back "
             "through time. In the lower panel the two flows meet: the forward direction's gradient runs towards "
             "t = 1, the reverse direction's towards t = T.",
             facts=_depth_facts),
    )),
    ATTENTION_LESSON,
])


def step_facts(lesson: Lesson, k: int) -> Facts:
    """The facts of step k (0-based) of a lesson."""
    return facts(lesson.steps[k])


# --- prepared scenarios: the home page's cards, one step each -------------------------------------------


@dataclass(frozen=True)
class Scenario:
    step: Step  # its page, link, title and sentence (facts from the engine, like a lesson step's)


SCENARIOS = (
    Scenario(Step("step", {"cell": "lstm", "source": "text", "text": "hello world", "hidden": "8"},
                  "Step through an LSTM reading text",
                  "Watch the gates and the cell state, one character at a time; the forget gate averages "
                  "{mean_f:.2f} over this text.")),
    Scenario(Step("step", {"cell": "rnn-tanh", "source": "sine", "length": "40", "hidden": "6"},
                  "A vanilla RNN on a sine wave",
                  "The simplest recurrence, a tanh of the input part plus the recurrent part, over {T} steps of a "
                  "noisy sine wave.")),
    Scenario(Step("step", {"cell": "gru", "source": "task", "task": "adding", "length": "30", "hidden": "8"},
                  "A GRU on the adding problem",
                  "Two marked numbers far apart in {T} steps: see which units react to the markers.")),
    Scenario(Step("step", {"cell": "rnn-tanh", "source": "noise", "length": "40", "init": "radius", "radius": "1.8",
                           "hidden": "16"},
                  "An RNN that saturates",
                  "W_hh at spectral radius {radius:g} drives the tanh units towards ±1: the largest |h_t| is "
                  "{max_abs_h:.2f}.",
                  facts=lambda p: {"radius": float(p["radius"])})),
    Scenario(Step("bptt", {**RELU, "radius": "0.8"}, "Vanishing: a ReLU RNN at spectral radius {radius:g}",
                  "Every step back multiplies the gradient by about {factor:.2g}: {fraction_text} of it reaches t = 1, "
                  "{steps} steps back.")),
    Scenario(Step("bptt", {**RELU, "radius": "1.2"}, "Exploding: the same RNN at {radius:g}",
                  "Now each step back multiplies the gradient by about {factor:.3g}: {fraction_text} of it arrives at "
                  "t = 1, and it grows without bound.")),
    Scenario(Step("bptt", {**ADDING, "cell": "lstm", "forget_bias": "3"}, "The LSTM's gradient highway",
                  "With its forget gate open, the LSTM carries {fraction_text} of the gradient back along its cell "
                  "state, {steps} steps; the tanh RNN keeps {rnn_tanh_fraction_text}.")),
    Scenario(Step("bptt", {**NOISE_RNN, "input_scale": "5"}, "Saturation stops a tanh RNN",
                  "Inputs multiplied by {scale:g} push tanh units towards ±1, where the slope is small: the average "
                  "slope is {mean_slope:.2f} and {fraction_text} of the gradient reaches t = 1.")),
    Scenario(Step("compare", {"models": "gallery"}, "Trained on one task: the RNN forgets, the LSTM remembers",
                  "Change the first symbol the task asks about (step {k} of {T}). What is left of the change at the "
                  "end: RNN {rnn_kept_text}, LSTM {lstm_kept_text}. The RNN still answers {rnn_after}; the LSTM's "
                  "answer turns from {lstm_before} to {lstm_after}.")),
    Scenario(Step("compare", {"models": "random", "source": "noise", "length": "40", "hidden": "16",
                              "perturb": "5"},
                  "Random weights: the RNN forgets fastest",
                  "Change the input at step {k} and look {later} steps later: the RNN keeps {rnn_kept_text} of the "
                  "change, the GRU {gru_kept_text}, the LSTM {lstm_kept_text}.")),
    Scenario(Step("compare", {"models": "random", "source": "noise", "length": "40", "hidden": "16", "perturb": "5",
                              "forget_bias": "3"},
                  "An LSTM whose forget gate starts open",
                  "With a forget-gate bias of {fb} its forget gates average {mean_f:.2f}: {later} steps after a "
                  "change the LSTM still keeps {lstm_kept_text} of it, the RNN {rnn_kept_text}.")),
    Scenario(Step("training", {}, "Clipping tames an explosion",
                  "Two runs on the same data: without clipping the loss {run1_fate}; with the gradient's norm clipped "
                  "at τ = {run2_tau:g} it {run2_fate} (the best constant answer scores {constant:.3g}).",
                  facts=lambda p: {})),
    Scenario(Step("training", {"part": "cliff"}, "The cliff",
                  "A one-unit recurrent net whose loss has a wall: one plain gradient step from next to it moves the "
                  "weights {raw_step:.3g}, a clipped one {clipped_step:.3g}.")),
    Scenario(Step("attention", REVERSE, "Reversing digits, with and without attention",
                  "Both trained models reverse {digits}; without attention the first digit gets {none_fade_text} the "
                  "last digit's gradient, with attention {with_fade_text} it.")),
)
