"""A page's export panel: "Export this view" (one zip) and "Export the numbers" (CSV).

Both files are made only when their button is clicked: Streamlit's deferred download data runs the
callable on the server, in a thread, while the button shows a spinner, and nothing is computed on
the page's reruns. They are made by rnnviz.export from the view's link at that moment, exactly as
`python -m rnnviz.export` makes them: the session's control values, the step t as the browser last
told the server (t moves in the session's store without a rerun of this panel), the training page's
runs as the page shows them (the server's kept runs, or the session's stopped ones), never trained again.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from .. import export
from . import VALUES_KEY
from .training import kept_runs
from .weights import RUN, UPLOAD

PRIVATE_WEIGHTS = (UPLOAD, RUN)  # the Weights control's choices that live in the session only

ZIP_HELP = ("Every figure as PNG (3×, white background) and SVG at the current step, the equations, an "
            "interactive HTML page of the whole view that opens offline, the numbers (CSV) and the view's link. "
            "Takes a few seconds: a browser draws the images on the server.")
CSV_HELP = ("Every number of the view for a spreadsheet: one row per step t and unit j with the input, the "
            "pre-activations split into their input and recurrent parts, every gate, c, h, dL/dh and dL/dc.")
CSV_HELP_COMPARE = ("Every number of the view for a spreadsheet: one row per step t with each cell's ||h′_t − h_t|| "
                    "after the change at step k, its ||dL/dh_t|| and the memory gates' mean.")
CSV_HELP_TRAINING = "The per-update history of every run (loss, gradient norms, clipping, update norm, cosine)."
CSV_HELP_ATTENTION = ("One row per input position s: ||dL/dx_s|| with and without attention, each split into the "
                      "part through one encoder step and the part through the recurrence (the zip also has every "
                      "decoder step's attention weights).")
CSV_HELPS = {"training": CSV_HELP_TRAINING, "compare": CSV_HELP_COMPARE,  # pages whose numbers
             "attention": CSV_HELP_ATTENTION}  # are not CSV_HELP's


def export_panel(page: str) -> None:
    """The export buttons of the page `page` (a key of PAGES), for the view its controls describe."""
    values = st.session_state.setdefault(VALUES_KEY, {})  # the live store: read again when a button is clicked
    if page != "training" and values.get("weights") in PRIVATE_WEIGHTS:
        st.subheader("Export", anchor=False)
        st.caption("Exports are made from the view's link, and your own file's or this session's weights never go "
                   "in a link: export works with random weights and the gallery's models.")
        return
    runs = kept_runs()  # read in the download's thread, where the session is out of reach
    link = export.link_from_values(page, values)
    scenario = export.scenario_name(link)
    main_table = export.main_table(link)

    base = export.app_base(st.context.url or "") or export.DEFAULT_BASE  # the host the browser reached

    def current() -> export.Export:
        return export.build(replace(export.link_from_values(page, dict(values)), base=base), runs=runs)

    def zipped() -> bytes:
        return export.zip_bytes(current())

    def numbers() -> bytes:
        return export.numbers_csv(current(), main_table)

    st.subheader("Export", anchor=False)
    row = st.container(horizontal=True)
    row.download_button("Export this view (zip)", data=zipped, file_name=f"rnnviz-{page}-{scenario}.zip",
                            mime="application/zip", on_click="ignore", icon=":material/folder_zip:",
                            key=f"export-zip-{page}", help=ZIP_HELP)
    row.download_button("Export the numbers (CSV)", data=numbers, file_name=f"rnnviz-{main_table}-{scenario}.csv",
                            mime="text/csv", on_click="ignore", icon=":material/table_view:",
                            key=f"export-csv-{page}", help=CSV_HELPS.get(page, CSV_HELP))
    st.caption("For slides in bulk, from a terminal: python -m rnnviz.export \"PAGE?QUERY\" --out DIR, with the "
               "page and query of any rnnviz link (see the README).")
