"""The Compare-cells page's view: memory after a change at step k, the gradient through time, the gates
that carry memory and the numbers at step t, for an RNN, an LSTM and a GRU on one input."""

from __future__ import annotations

from ..cells import CELLS
from ..config import FORGET_BIASES, Config, Display, Param, slug
from ..figures import compare as fig
from ..gallery import GALLERY, TRIO, recipe_text
from ..studies.compare import CompareStudy, MemoryStudy, final_answers
from . import Item, Stepping, View
from .bptt import fraction_text

MODELS = {"gallery": "Trained on one task (gallery)", "random": "Random weights, same seed (the sidebar's)"}
PARAMS = {  # the page's own controls, kept in the URL (perturb's range and default depend on the input: see
    #          perturb_param)
    "models": Param("gallery", MODELS),
}
MODELS_HELP = ("Trained: the gallery's tanh RNN, LSTM and GRU, trained by rnnviz with one recipe on the temporal "
               "order task, on that task's input. Random: weights drawn from the sidebar's seed, on the sidebar's "
               "input, sizes and settings.")
GATE_TITLES = {"f": "forget gate f<sub>t</sub> (1 keeps c)", "z": "update gate z<sub>t</sub> (1 keeps h)"}


def perturb_param(T: int, default: int = 1) -> Param:
    """The step k whose input is changed: 1..T (URL name `perturb`); its default is the study's first_kept_step."""
    return Param(default, low=1, high=T, kind="int")


def stepping(study: CompareStudy) -> Stepping:
    """The shared cursor t; its view names the weights, so a switch of weights takes the server's t."""
    return Stepping(T=study.T, labels=tuple(study.step_labels), view="compare-trained" if study.trained else "compare")


def scenario(cfg: Config, k: int, models: str = "random") -> str:
    """The scenario's part of file names: the shared scenario without its cell (all three are drawn; a
    ReLU RNN is named), or the gallery's trio, and the changed step: "h8-text-hello_world-s0-k1",
    "rnn-order-lstm-order-gru-order-k10"."""
    if models == "gallery":
        return "-".join([*TRIO, f"k{k}"])
    name = slug(cfg.with_(cell="lstm")).removeprefix("lstm-")  # the LSTM's name keeps a forget-gate bias
    relu = "relu-" if CELLS[cfg.cell].kind == "rnn" and CELLS[cfg.cell].nonlinearity == "relu" else ""
    return f"{relu}{name}-k{k}"


def change_sentence(memory: MemoryStudy) -> str:
    """What was changed at step k, in plain words (the values quoted are user text: the page shows it literally)."""
    p = memory.perturbation
    if p.symbol:
        return f"Step {p.k} reads “{p.now}” instead of “{p.was}”."
    return f"Step {p.k} reads x = ({p.now}) instead of ({p.was}): 1/√I added to every channel, a change of size 1."


def answers_sentence(study: CompareStudy, memory: MemoryStudy) -> str:
    """What each trained readout answers at the end, before and after the change ("" when the task has none)."""
    answers = final_answers(study, memory)
    if not answers or not study.trained:
        return ""
    parts = []
    for cell, (before, after) in answers.items():
        label = study.cells[cell].label
        said = f"changes its answer from {before} to {after}" if after != before else f"still says {before}"
        parts.append(f"the {label} {said}")
    return f"At the end, {', '.join(parts[:-1])} and {parts[-1]}."


def trained_note(study: CompareStudy) -> str:
    """Which trained models these are, and how well each answers on this input (the engine's numbers)."""
    first = GALLERY[next(iter(study.trained.values()))]
    odds = ", ".join(f"{run.label} {run.answer_probability:.1%}" for run in study.cells.values())
    recipe = recipe_text(first.recipe).removeprefix(f"{CELLS[first.recipe.cell].label} with ")
    return (f"Trained by rnnviz, one recipe for all three ({recipe}; gallery models "
            f"{', '.join(study.trained.values())}). The task: name the order of the two symbols A/B hidden among c, d, "
            f"e, f, at the last step. On this input the probability each gives the right answer: {odds}. These "
            "models bring their own input and sizes: the sidebar's network and input apply to random weights.")


def unused_weights_sentence(study: CompareStudy, cfg: Config) -> str:
    """What the page runs instead of the sidebar's trained weights (a gallery model, a file, a session's run)."""
    if study.trained:
        return "It compares the gallery's RNN, LSTM and GRU trained on one task (below)."
    return (f"It compares one layer, one direction of an RNN, an LSTM and a GRU with random weights (PyTorch's "
            f"initialisation, seed {cfg.seed}, H = {cfg.hidden}) on the same input. Choose Trained above for "
            "the gallery's three.")


def kept_text(x: float) -> str:
    """A share of the change as the page says it: 7.1%, 2.6e-04, 2.29× (it grew), nothing (exactly 0)."""
    return "nothing (exactly 0)" if x == 0 else fraction_text(x)


def kept_sentence(study: CompareStudy, memory: MemoryStudy) -> str:
    """"What is left at the last step (10 steps later) of the change in h at step 1: RNN (tanh) 0.026%, …"."""
    k, T = memory.k, study.T
    if k == T:
        return "The change is at the last step: move k earlier to see what each cell keeps of it."
    left = ", ".join(f"{run.label} {kept_text(memory.kept(cell))}" for cell, run in study.cells.items())
    later = f"{T - k} step{'s' if T - k > 1 else ''} later"
    return f"What is left at the last step ({later}) of the change in h at step {k}: {left}."


def random_note(study: CompareStudy, cfg: Config) -> str:
    """Why random weights remember at all, with this study's numbers: nothing learned, only structure."""
    rnn, lstm, gru = (study.by_kind(kind) for kind in ("rnn", "lstm", "gru"))
    return (f"Nothing is learned yet, so each cell's memory comes from its structure alone: all of them forget "
            f"in the end, at different speeds. The RNN multiplies its state by W_hh at every step (spectral radius "
            f"{rnn.spectral_radius:.2f} here) and squashes it; the LSTM's forget gates average "
            f"{lstm.gate_values.mean():.2f} (forget-gate bias: {FORGET_BIASES[cfg.forget_bias]}) and the GRU's update "
            f"gates {gru.gate_values.mean():.2f}: each step keeps about that share of the old state.")


def broken_sentence(study: CompareStudy, memory: MemoryStudy) -> str:
    """Which cells' states overflowed to inf/NaN, and where ("" if none did)."""
    broken = []
    for cell, run in study.cells.items():
        steps = [s for s in (run.trace.nonfinite_step, memory.perturbed[cell].nonfinite_step) if s is not None]
        if steps:
            broken.append(f"the {run.label}'s at step {min(steps)}")
    if not broken:
        return ""
    return (f"A state overflowed to inf/NaN: {', '.join(broken)}. The plots stop there. Lower the input scale "
            "or the spectral radius.")


SIZE_NOTE = ("I is the input size, H the hidden size. Each of a cell's G blocks (the RNN's 1; the LSTM's 4: i, f, "
             "g, o; the GRU's 3: r, z, n) has a W_ih (H × I), a W_hh (H × H) and two biases of H: H(I + H + 2) "
             "numbers. The count after the formula adds up the sizes of the weight arrays themselves. The times "
             "are the engine's, measured on this server (the fastest of repeated runs), and change with its load.")


def time_line(timing) -> str:
    """The engine's measured time per step, labelled as measured here."""
    return f"Measured on this server ({timing.steps} steps of this size): " + fig.time_text(timing.forward_us,
                                                                                            timing.bptt_us)


def build(study: CompareStudy, memory: MemoryStudy, cfg: Config, display: Display) -> View:
    """Every item of the page: memory and gradients with the numbers at t, then the memory gates."""
    present, labels = display.present, study.step_labels
    runs = list(study.cells.values())
    drift = [fig.Curve(run.cell, f"{run.label}: ||h′ − h||", memory.drift_h[cell]) for cell, run in study.cells.items()]
    drift += [fig.Curve(cell, f"{study.cells[cell].label}: ||c′ − c||", values, dash="dash")
              for cell, values in memory.drift_c.items()]
    grads = [fig.Curve(run.cell, f"{run.label}: ||dL/dh<sub>t</sub>||", run.h_norms) for run in runs]
    gated = [run for run in runs if run.memory_gate is not None]
    gates = [fig.GateRows(f"{run.label} {GATE_TITLES[run.memory_gate]}", run.memory_gate, run.gate_values)
             for run in gated]
    numbers = [
        fig.Reading("change left ||h′<sub>t</sub> − h<sub>t</sub>||",
                    {run.label: memory.drift_h[cell] for cell, run in study.cells.items()}),
        fig.Reading("gradient ||dL/dh<sub>t</sub>||", {run.label: run.h_norms for run in runs}),
        fig.Reading("mean memory gate", {f"{run.label} {run.memory_gate}<sub>t</sub>": run.gate_values.mean(axis=1)
                                         for run in gated}),
    ]
    figures = [
        Item("compare-memory", fig.memory_curves(drift, memory.k, labels, present), caption=fig.MEMORY_CAPTION),
        Item("compare-gradients", fig.gradient_flow(grads, labels, present),
             caption=fig.gradients_caption(bool(study.trained)), half=True),
        Item("compare-readings", block=fig.readings(numbers, labels), title="The numbers at step t",
             caption=fig.READINGS_CAPTION, half=True),
        Item("compare-gates", fig.memory_gates(gates, labels, present),
             caption=fig.gates_caption(gated[0].label, gated[1].label)),
    ]
    models = "gallery" if study.trained else "random"
    return View("compare", {"figures": figures}, stepping(study), scenario=scenario(cfg, memory.k, models))


def count_lines(study: CompareStudy) -> dict[str, str]:
    """cell key -> its parameter count as the formula with its sizes, from its weight arrays."""
    return {cell: fig.count_text(run.label, *run.sizes, run.n_params) for cell, run in study.cells.items()}
