"""deploy/serve.py without serving: its Streamlit flags and config, its HAProxy config, its errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib

from streamlit import config as st_config

from deploy.serve import CLASSROOM_FLAGS, proxy_config
from rnnviz.weights import MAX_FILE_BYTES
from tests.browser_helpers import ROOT


def test_classroom_flags_and_config_toml_name_real_streamlit_options():
    known = st_config.get_config_options()
    flags = [f.removeprefix("--") for f in CLASSROOM_FLAGS[::2]]
    toml = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    in_toml = [f"{section}.{name}" for section, options in toml.items() for name in options]
    assert [o for o in flags + in_toml if o not in known] == []
    assert dict(zip(flags, CLASSROOM_FLAGS[1::2], strict=True))["client.showErrorDetails"] == "none"


def test_an_upload_just_over_the_weights_limit_reaches_the_loader_and_its_message():
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["maxUploadSize"] * 2**20 > MAX_FILE_BYTES  # Streamlit counts MiB
    assert server["maxUploadSize"] * 2**20 < 2 * MAX_FILE_BYTES  # and refuses what the loader never wants


def test_proxy_config_lists_local_and_remote_workers_with_a_cookie_each(tmp_path):
    cfg = proxy_config("0.0.0.0", 8501, ["127.0.0.1:40001", "10.0.0.12:8601"])
    assert "bind 0.0.0.0:8501" in cfg
    assert "server w1 127.0.0.1:40001 cookie w1" in cfg and "server w2 10.0.0.12:8601 cookie w2" in cfg
    if shutil.which("haproxy"):  # HAProxy itself accepts it
        (tmp_path / "haproxy.cfg").write_text(cfg)
        check = subprocess.run(["haproxy", "-c", "-q", "-f", str(tmp_path / "haproxy.cfg")], capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_without_haproxy_the_launcher_names_the_package_to_install():
    run = subprocess.run([sys.executable, "-m", "deploy.serve"], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PATH": "/nonexistent"}, timeout=60)
    assert run.returncode == 1
    assert "HAProxy is not installed" in run.stderr and "apt-get install haproxy" in run.stderr


def test_no_workers_anywhere_is_refused_before_anything_starts():
    run = subprocess.run([sys.executable, "-m", "deploy.serve", "--workers", "0"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2 and "need at least one worker" in run.stderr
