"""What rnnviz's figure element loads in the browser (rnnviz/ui/client.py): plotly.js's cartesian bundle of
the same version as the Python package's full one, both as content-named static files."""

from __future__ import annotations

import re

from rnnviz.ui import client


def test_the_cartesian_bundle_is_plotly_js_of_the_python_packages_version():
    assert client.plotly_version(client.PLOTLY_JS) is not None
    assert client.plotly_version(client.CARTESIAN_JS) == client.plotly_version(client.PLOTLY_JS)
    assert client.CARTESIAN and client.CARTESIAN_NAME


def test_the_loader_names_both_bundles_and_each_is_published_whole_under_its_content_name():
    assert f"app/static/{client.CLIENT_NAME}" in client.LOADER
    assert f'"cartesian": "app/static/{client.CARTESIAN_NAME}"' in client.LOADER
    assert f'"plotly": "app/static/{client.PLOTLY_NAME}"' in client.LOADER
    for name, source in ((client.CARTESIAN_NAME, client.CARTESIAN_JS), (client.PLOTLY_NAME, client.PLOTLY_JS)):
        published = (client.STATIC / name).read_text(encoding="utf-8")
        assert published.startswith("(function (module) {\n") and published.endswith("\n})({ exports: {} });\n")
        assert source.read_text(encoding="utf-8") in published  # the bundle, unchanged
        assert (client.STATIC / name).stat().st_mtime_ns == source.stat().st_mtime_ns  # its age is its source's
    assert re.fullmatch(r"rnnviz-plotly-cartesian-[0-9a-f]{12}\.js", client.CARTESIAN_NAME)
