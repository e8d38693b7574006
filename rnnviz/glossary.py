"""Plain-language explanations of every technical term the pages use: one home for them.

Each entry is (term, explanation). Explanations are written for someone who has read one blog post
about RNNs: no term is explained with another unexplained term, and each says what to look for in
rnnviz. Pages list the terms they use (`terms_for`), so a learner is one click away from each.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    key: str
    term: str  # as written on the pages
    plain: str  # the explanation, plain text (no markup)


TERMS = [
    Term("rnn", "Recurrent neural network (RNN)",
         "A network that reads a sequence one item at a time (a character, a number) and keeps a memory "
         "of what it has read so far: its hidden state. The same small network, the cell, is applied at "
         "every step."),
    Term("cell", "Cell",
         "The small network applied at every step. It takes the current input x_t and the previous "
         "state, and computes the new state. rnnviz has three: the vanilla RNN, the LSTM and the GRU."),
    Term("hidden_state", "Hidden state h_t",
         "The cell's memory after reading step t: a list of numbers, one per hidden unit. It is passed "
         "on to the next step and read by the output layer. In rnnviz each number is one coloured square "
         "(red positive, blue negative)."),
    Term("cell_state", "Cell state c_t (LSTM)",
         "The LSTM's second memory, kept apart from h_t. It is changed only by multiplying with the "
         "forget gate and adding new content, so it can carry a value across many steps unchanged."),
    Term("unit", "Hidden unit",
         "One number in the hidden state. With hidden size H = 8 the state has 8 units; each is one row "
         "of the heatmaps and one square of the strips."),
    Term("input", "Input x_t",
         "What the cell reads at step t. A character is fed as a one-hot vector: all zeros except a 1 "
         "in the position of that character."),
    Term("one_hot", "One-hot vector",
         "A list of zeros with a single 1 that marks which symbol it is: with the vocabulary a, b, c the "
         "letter b is [0, 1, 0]."),
    Term("weights", "Weights W_ih, W_hh and biases b",
         "The numbers the network learns. W_ih multiplies the input, W_hh multiplies the previous hidden "
         "state (the recurrence), and the biases b are added. The same weights are used at every step."),
    Term("pre_activation", "Pre-activation",
         "The weighted sum before the squashing function: W_ih x_t + b_ih (the input part) plus "
         "W_hh h_(t-1) + b_hh (the recurrent part). The equations on Step through show both parts."),
    Term("tanh", "tanh",
         "A squashing function: it maps any number into the range −1 to 1, nearly linear around 0 and "
         "flat far from it. Its slope is at most 1."),
    Term("sigmoid", "Sigmoid σ",
         "A squashing function into the range 0 to 1, used for gates: 0 means closed, 1 means open. Its "
         "slope is at most 1/4."),
    Term("relu", "ReLU",
         "max(0, x): negative numbers become 0, positive numbers pass unchanged. Its slope is 1 for "
         "positive inputs and 0 for negative ones."),
    Term("gate", "Gate",
         "A vector of numbers between 0 and 1 (a sigmoid output) that multiplies another vector, unit by "
         "unit: where the gate is 1 the value passes, where it is 0 it is blocked. The LSTM has three "
         "gates, the GRU two."),
    Term("forget_gate", "Forget gate f (LSTM)",
         "Decides, unit by unit, how much of the old cell state to keep: c_t = f · c_(t-1) + i · g. "
         "f near 1 keeps the memory; f near 0 erases it."),
    Term("input_gate", "Input gate i (LSTM)",
         "Decides how much of the new candidate g is written into the cell state."),
    Term("output_gate", "Output gate o (LSTM)",
         "Decides how much of the cell state, squashed by tanh, is shown as the hidden state: "
         "h_t = o · tanh(c_t)."),
    Term("candidate", "Candidate g (LSTM) / n (GRU)",
         "The new content the cell proposes to write at this step, computed from the input and the "
         "previous hidden state, squashed by tanh."),
    Term("update_gate", "Update gate z (GRU)",
         "Mixes old and new: h_t = (1 − z) · n + z · h_(t-1). z near 1 keeps the old state (and lets "
         "the gradient through unchanged); z near 0 replaces it."),
    Term("reset_gate", "Reset gate r (GRU)",
         "Decides how much of the previous state is used when computing the candidate n."),
    Term("forget_bias", "Forget-gate bias",
         "A constant added inside the forget gate. A bias of 1 to 3 starts the gate near open (σ(3) = "
         "0.95), so an untrained LSTM already remembers, and its gradient already survives."),
    Term("readout", "Readout (output layer)",
         "A linear layer y_t = W_out h_t + b_out that turns the hidden state into a prediction, for "
         "example scores for the next character."),
    Term("loss", "Loss L",
         "One number that says how wrong the predictions are (0 is perfect). Training changes the "
         "weights to make it smaller."),
    Term("gradient", "Gradient dL/dh_t",
         "How much the loss would change if h_t changed a little: a list with one number per unit. "
         "A large gradient means step t matters for the loss; a tiny one means the loss cannot 'see' it."),
    Term("norm", "Norm ||v||",
         "The length of a vector: the square root of the sum of its squared entries. rnnviz plots the "
         "norm of each step's gradient to show its size in one number."),
    Term("log_scale", "Log scale",
         "An axis where each tick is ten times the one below (10⁻⁶, 10⁻⁵, …). A quantity that shrinks "
         "by the same factor every step is a straight line on it."),
    Term("bptt", "Backpropagation through time (BPTT)",
         "How an RNN is trained: the loss's gradient is carried backwards from the last step to the "
         "first, step by step, through the same cell each time. Each step back multiplies it by that "
         "step's Jacobian."),
    Term("unrolled", "Unrolled graph",
         "The RNN drawn as one copy of the cell per step, left to right, with the state passed along. "
         "It shows that a recurrent network is a very deep network whose layers share their weights."),
    Term("jacobian", "Jacobian dh_t/dh_(t-1)",
         "A table (matrix) that says how much each unit of h_t moves when each unit of h_(t-1) moves a "
         "little. The gradient going one step back is multiplied by it."),
    Term("spectral_norm", "Spectral norm ||A||",
         "The most a matrix can stretch a vector: its largest singular value. If every step's Jacobian "
         "has spectral norm below 1, the gradient must shrink going back."),
    Term("singular_value", "Singular values σ_i",
         "How much a matrix stretches vectors along each of its principal directions, largest first. "
         "σ_max is the largest: the most it can stretch anything."),
    Term("eigenvalue", "Eigenvalue λ",
         "A direction that a matrix only scales, never turns, is scaled by its eigenvalue. Multiplying "
         "by the same matrix again and again grows vectors along eigenvalues with |λ| > 1 and shrinks "
         "them along |λ| < 1."),
    Term("spectral_radius", "Spectral radius",
         "The largest |eigenvalue| of W_hh. Below 1, repeating the recurrence shrinks things (memories "
         "and gradients fade); above 1 it can grow them. rnnviz can rescale W_hh to a chosen radius."),
    Term("pascanu_bound", "Pascanu's bound (γ σ_max)",
         "Pascanu, Mikolov and Bengio (2013): each step back multiplies the gradient by at most γ · σ_max, "
         "where γ is the largest slope of the activation (1 for tanh and ReLU) and σ_max the largest "
         "singular value of W_hh. If γ · σ_max < 1 the gradient must vanish at least that fast; if it "
         "is above 1 the bound says nothing, and the gradient may still vanish."),
    Term("vanishing", "Vanishing gradient",
         "The gradient shrinks by a factor at every step back, so after tens of steps almost nothing "
         "reaches the early inputs: the network cannot learn that they matter."),
    Term("exploding", "Exploding gradient",
         "The gradient grows by a factor at every step back and becomes enormous; one training update "
         "with it throws the weights far away."),
    Term("survival", "Fraction that reaches t = 1",
         "||dL/dh_1|| divided by ||dL/dh_T||: how much of the gradient that leaves the last step "
         "arrives at the first. rnnviz names the regime by it: below 10⁻² vanishing, above 10² "
         "exploding, in between carried."),
    Term("per_step_factor", "Per-step factor",
         "The average factor the gradient is multiplied by at each step back: the fraction that reaches "
         "t = 1, to the power 1/(T − 1)."),
    Term("saturation", "Saturation",
         "A squashing unit pushed far from 0 sits on the flat part of its curve (tanh near ±1, a gate "
         "near 0 or 1): its slope is nearly 0, so it passes almost no gradient back."),
    Term("dead_relu", "Dead ReLU unit",
         "A ReLU unit whose input is negative outputs 0 and has slope 0: no gradient passes through it "
         "at that step."),
    Term("highway", "Gradient highway (LSTM)",
         "Going back along the cell state, the gradient is multiplied only by the forget gate f: with "
         "f near 1 it travels many steps almost undiminished, while through h it is squashed at every "
         "step."),
    Term("saliency", "Saliency ||dL/dx_t||",
         "How much the loss would change if input x_t changed: which inputs the network can still learn "
         "from. Inputs with a vanished saliency cannot teach the network anything."),
    Term("clipping", "Gradient clipping",
         "Capping the gradient before a training update. By norm: if ||g|| > τ the whole gradient is "
         "scaled down to length τ (same direction). By value: every entry is cut into [−v, v] (the "
         "direction can turn)."),
    Term("cosine", "Cosine between gradients",
         "1 if two gradients point the same way, 0 if at right angles, −1 if opposite. rnnviz compares "
         "the raw and the clipped gradient: norm clipping keeps 1."),
    Term("learning_rate", "Learning rate",
         "How far each training update moves the weights along the (negative) gradient."),
    Term("update", "Update (training step)",
         "One change of the weights: compute the loss on a mini-batch of sequences, its gradient, "
         "optionally clip it, and move the weights."),
    Term("optimiser", "Optimiser (SGD, momentum, Adam)",
         "The rule that turns gradients into updates. SGD moves by learning rate × gradient; momentum "
         "keeps a running direction; Adam scales each weight's step by its recent gradient size."),
    Term("cliff", "The cliff",
         "A place in weight space where the loss changes abruptly: a wall. Next to it the gradient is "
         "enormous, so a plain gradient step is thrown far away (Pascanu et al. 2013)."),
    Term("adding_problem", "Adding problem",
         "A test of long memory: two of many numbers are marked, and at the end the network must output "
         "their mean. The marked numbers can be far back in the sequence."),
    Term("temporal_order", "Temporal order task",
         "Two symbols (A or B) appear far apart among distractors; at the end the network must say in "
         "which order they came."),
    Term("delayed_recall", "Delayed recall",
         "The network sees a few symbols, waits through blank steps, and must then repeat them: memory "
         "over a chosen delay."),
    Term("perturbation", "Perturbation",
         "A small change made on purpose, here to the input at one step k. Running the network again and "
         "comparing its states with the first run shows how long the change is remembered."),
    Term("encoder_decoder", "Encoder-decoder (sequence to sequence)",
         "Two recurrent networks in a row: the encoder reads the whole input, then the decoder writes the "
         "output one token at a time, starting from the encoder's last state. It is how a network turns one "
         "sequence into another of a different length, as in translation. Without attention, every gradient "
         "that reaches the encoder passes through that one state. rnnviz's Attention page reverses digits."),
    Term("encoder", "Encoder",
         "The recurrent network that reads the input. At each input position s it leaves a vector k_s (its "
         "hidden state there); its last state is where a decoder without attention gets everything from."),
    Term("decoder", "Decoder",
         "The recurrent network that writes the output, one token per step. At step t it reads the token "
         "it wrote before and a context c_t, updates its state s_t and gives a probability to every token."),
    Term("attention", "Attention",
         "A way for the decoder to look back at every input position at every step, instead of only at the "
         "encoder's last state: it scores each encoder vector k_s against its own state, and reads a "
         "weighted sum of them. So every input is one step away from every output."),
    Term("attention_weights", "Attention weights a_ts",
         "How much decoder step t reads from input position s: numbers between 0 and 1 that sum to 1 over "
         "the input (a softmax of the scores). In rnnviz's matrix each row is one decoder step."),
    Term("context_vector", "Context vector c_t",
         "What the decoder reads from the input at step t: the sum of the encoder's vectors k_s, each "
         "weighted by a_ts. Without attention it is the encoder's last state at every step."),
    Term("softmax", "Softmax",
         "Turns a list of scores into positive numbers that sum to 1, the largest score getting the largest "
         "share: exp(e_s) divided by the sum of all exp(e_j)."),
    Term("reversal_task", "Reversal task",
         "Write the input digits backwards, then an end token </s>. The first output needs the last input "
         "and the last output the first, so the answer needs the whole input, and the right alignment is "
         "the anti-diagonal of the attention matrix."),
    Term("teacher_forcing", "Teacher forcing",
         "Feeding the decoder the right previous token at each step (rather than the one it wrote), as in "
         "training. rnnviz steps its decoders this way, so every step is about the right answer."),
    Term("embedding", "Embedding",
         "A learned vector for each token (each digit), looked up in a table: what the encoder reads as its "
         "input x_s. The gradient dL/dx_s is taken with respect to it."),
    Term("random_weights", "Random (untrained) weights",
         "Weights drawn at random, before any training: the numbers are real computations, but no unit "
         "has learned to mean anything yet. Gates hover around 0.5 and states are small."),
    Term("stacked", "Stacked layers",
         "Several recurrent layers on top of each other: the first reads the input, each layer above reads "
         "the hidden states of the layer below at the same step. The gradient must go down through every "
         "layer above to reach a lower one."),
    Term("bidirectional", "Bidirectional layer",
         "Two cells reading the same sequence: one from the first step to the last (forward), one from the "
         "last to the first (reverse). At step t the forward state has seen the past, the reverse state the "
         "future; the layer above reads both side by side."),
    Term("setup", "Input-output setup",
         "Where inputs enter and where the loss applies: one to many (one input, a sequence out), many to one "
         "(a sequence in, one answer), many to many (an answer at every step), or encoder-decoder."),
]

BY_KEY = {term.key: term for term in TERMS}
if len(BY_KEY) != len(TERMS):
    raise ValueError("glossary: two terms share a key")


def terms_for(keys) -> list[Term]:
    """The terms with these keys, in the order given; an unknown key raises ValueError naming it."""
    unknown = [k for k in keys if k not in BY_KEY]
    if unknown:
        raise ValueError(f"unknown glossary terms {unknown}; known: {sorted(BY_KEY)}")
    return [BY_KEY[k] for k in keys]
