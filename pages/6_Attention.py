"""Attention: an encoder-decoder reverses digits; attention puts every input one step from the output."""

import numpy as np
import streamlit as st

from rnnviz import ui
from rnnviz.studies import attention as studies
from rnnviz.ui import lessons
from rnnviz.ui.export import export_panel
from rnnviz.ui.pages import PAGES
from rnnviz.views import attention as view

_, display = ui.page("attention", scenario_controls=False)
st.title("Attention: a short path from every input")
st.markdown(
    "An **encoder** reads a string of digits, and a **decoder** writes it backwards, one digit per step. Without "
    "attention everything the decoder knows about the input must squeeze through the encoder's last state, so "
    "the first digit is many steps away from the output, and its gradient fades on the way back, as in any "
    "recurrent network. With **attention** the decoder looks at every input position at every step: each digit "
    "is one step from every output, at any distance. Both models here were trained on the same task."
)
lessons.player("attention")
lessons.terms(PAGES["attention"].terms)

kind_col, weights_col = st.columns(2)
attention = ui.choice(kind_col.radio, "Step through the model", "attention", param=studies.PARAMS["attention"],
                      horizontal=True, help="The model you step through and one more are computed: without "
                                            "attention (or, when you choose none, with additive attention), so the "
                                            "gradients below compare the two.")
kind_col.caption(studies.SCORES[attention])
weights = ui.choice(weights_col.radio, "Weights", "model", param=studies.PARAMS["model"], horizontal=True,
                    help=studies.WEIGHTS_HELP)
digits_col, random_col = st.columns([3, 1], vertical_alignment="bottom")
digits = ui.page_control(digits_col.text_input, f"Input: up to {studies.MAX_DIGITS} digits for the model to reverse",
                         "digits", studies.PARAMS["digits"])  # longer: cut by the control, with a note
if not ui.is_hidden("digits") and random_col.button("Random digits", help="New random digits, as many as now."):
    n = len(digits) if digits and len(digits) <= studies.MAX_DIGITS else len(studies.DEFAULT_DIGITS)
    ui.set_values({"digits": "".join(str(d) for d in np.random.default_rng().integers(0, 10, n))})
    st.rerun()

study = ui.attention_study(studies.Scenario(attention=attention, digits=digits, weights=weights))
shown = view.build(study, display.present)
if not lessons.is_held("attention-answers"):
    st.markdown(ui.plain(view.answers_sentence(study)))

st.subheader("The decoder, step by step")
if study.shown.decoding.attention is not None and not lessons.is_held("attention-matrix"):
    st.markdown(ui.plain(view.looks_sentence(study)))
steps = view.stepping(study)
step = ui.step(steps, speed=int(ui.stored("speed", studies.PARAMS["speed"])),
               autoplay=bool(ui.stored("play", studies.PARAMS["play"])))
ui.show(shown, "stepped", display, key="attention-stepped", step=step)
ui.sync_step(steps.view, steps.T, steps.param)

st.subheader("Why it helps: the gradient reaches every input")
ui.show(shown, "gradients", display, key="attention-gradients")
if not lessons.is_held("attention-input-gradients"):
    st.markdown(ui.plain(view.fade_sentence(study)))
export_panel("attention")
