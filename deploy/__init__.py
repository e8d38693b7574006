"""Serving rnnviz to a class: the launcher (serve.py), its HAProxy template and a container image."""
