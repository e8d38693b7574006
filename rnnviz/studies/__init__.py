"""One study per page, named after it: what that page shows, computed from its controls.

studies/step.py (Step through), studies/bptt.py (Backprop through time), studies/training.py
(Clipping and training) line up with pages/ and figures/ by name. A study is pure: no Streamlit,
no Plotly; rnnviz.ui caches it, the page lays out its figures.
"""
