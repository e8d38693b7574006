"""Serve rnnviz for a class: W Streamlit workers on loopback ports behind HAProxy on one public port.

    python -m deploy.serve                                  # W = number of cores, http://127.0.0.1:8501
    python -m deploy.serve --workers 4 --address 0.0.0.0    # a classroom LAN (what `make serve` runs)
    python -m deploy.serve --remote 10.0.0.12:8601 10.0.0.12:8602   # plus workers on another machine
    python -m deploy.serve --workers-only --address 10.0.0.12 --port 8601   # ... started there like this

HAProxy (deploy/haproxy.cfg) pins each browser to one worker by a cookie of its own, proxies Streamlit's
websocket and health-checks every worker. A worker that dies is restarted. Ctrl-C or SIGTERM stops
everything this started; if this process is killed outright, its children get SIGTERM from the kernel.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parents[1]

# Settings for a class, on top of .streamlit/config.toml (which `make run` uses too): students see a
# generic message instead of a traceback with server paths (the traceback still goes to this terminal),
# with no "Ask Google / ChatGPT" links about it; and nobody edits the app during a lesson, so no file
# watcher, which costs every worker CPU.
CLASSROOM_FLAGS = [
    "--server.headless", "true",
    "--client.showErrorDetails", "none",
    "--client.showErrorLinks", "false",
    "--server.fileWatcherType", "none",
    "--server.runOnSave", "false",
    "--server.enableXsrfProtection", "true",
    "--browser.gatherUsageStats", "false",
]
# One worker per core: NumPy's BLAS must not start a thread per core in every worker as well.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def worker_command(address: str, port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", address,
            "--server.port", str(port), "--logger.hideWelcomeMessage", "true", *CLASSROOM_FLAGS]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child: the kernel sends SIGTERM when the launcher dies, even by SIGKILL (Linux)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def spawn(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    # Own process group: Ctrl-C reaches only the launcher, which stops the proxy, then the workers.
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, preexec_fn=_die_with_parent)


def wait_healthy(url: str, proc: subprocess.Popen, name: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"rnnviz: {name} exited with code {proc.returncode} while starting; see its output above")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"rnnviz: {name} did not answer {url}/_stcore/health within {timeout:.0f} s")


def proxy_config(address: str, port: int, servers: list[str]) -> str:
    """deploy/haproxy.cfg with the public address and one `server` line per worker (HOST:PORT)."""
    lines = [f"    server w{k} {hostport} cookie w{k}" for k, hostport in enumerate(servers, start=1)]
    template = Template((Path(__file__).parent / "haproxy.cfg").read_text())
    return template.substitute(address=address, port=port, servers="\n".join(lines))


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def stop(procs: list[subprocess.Popen], timeout: float = 15.0) -> None:
    """SIGTERM to each in turn, then SIGKILL to whatever is left after `timeout` seconds."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main(argv: list[str] | None = None) -> None:
    cores = len(os.sched_getaffinity(0))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=cores, help=f"Streamlit processes here (default: {cores} cores)")
    ap.add_argument("--address", default="127.0.0.1", help="public address (0.0.0.0: every interface)")
    ap.add_argument("--port", type=int, default=8501, help="public port (with --workers-only: the first worker's)")
    ap.add_argument("--remote", nargs="*", default=[], metavar="HOST:PORT", help="workers on other machines")
    ap.add_argument("--workers-only", action="store_true", help="no proxy: workers on --address, ports --port...")
    args = ap.parse_args(argv)
    if args.workers < (0 if args.remote else 1):
        ap.error(f"--workers {args.workers}: need at least one worker, here or --remote")
    haproxy = shutil.which("haproxy") or ""
    if not (haproxy or args.workers_only):
        raise SystemExit("rnnviz: HAProxy is not installed. On Debian or Ubuntu: sudo apt-get install haproxy")

    # Workers signing cookies must share a secret (docs.streamlit.io/replication): set the same
    # STREAMLIT_SERVER_COOKIE_SECRET on every machine when workers run on several.
    env = {**os.environ, **ONE_THREAD, "PYTHONUNBUFFERED": "1",
           "STREAMLIT_SERVER_COOKIE_SECRET": os.environ.get("STREAMLIT_SERVER_COOKIE_SECRET") or secrets.token_hex()}
    if args.workers_only:
        bind, ports = args.address, [args.port + k for k in range(args.workers)]
    else:
        bind, ports = "127.0.0.1", [free_port() for _ in range(args.workers)]
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # all unwind like Ctrl-C: `finally` cleans up
        signal.signal(sig, _interrupt)  # SIGINT too: a shell starts background jobs with it ignored
    workers: list[subprocess.Popen] = []
    proxy: list[subprocess.Popen] = []
    tmp = tempfile.mkdtemp(prefix="rnnviz-haproxy-")
    try:
        workers = [spawn(worker_command(bind, port), env) for port in ports]
        for k, (proc, port) in enumerate(zip(workers, ports, strict=True), start=1):
            wait_healthy(f"http://{bind}:{port}", proc, f"worker w{k}")
            print(f"rnnviz: worker w{k} on http://{bind}:{port}", flush=True)
        if not args.workers_only:
            cfg = Path(tmp) / "haproxy.cfg"
            cfg.write_text(proxy_config(args.address, args.port, [f"127.0.0.1:{p}" for p in ports] + args.remote))
            check = subprocess.run([haproxy, "-c", "-q", "-f", str(cfg)], capture_output=True, text=True)
            if check.returncode:
                raise SystemExit(f"rnnviz: HAProxy refused {cfg}:\n{check.stdout}{check.stderr}")
            proxy = [spawn([haproxy, "-db", "-f", str(cfg)])]
            wait_healthy(f"http://{'127.0.0.1' if args.address == '0.0.0.0' else args.address}:{args.port}",
                         proxy[0], "HAProxy", timeout=30)
            shown = "<this machine's address>" if args.address == "0.0.0.0" else args.address
            print(f"rnnviz: serving http://{shown}:{args.port} with {args.workers} worker(s) here"
                  f"{f' and {len(args.remote)} elsewhere' if args.remote else ''}. Ctrl-C stops it.", flush=True)
        else:
            print(f"rnnviz: {args.workers} worker(s) ready for a proxy on another machine. Ctrl-C stops them.",
                  flush=True)
        supervise(workers, ports, bind, env, proxy)
    except KeyboardInterrupt:
        pass
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second Ctrl-C must not cut the cleanup
            signal.signal(sig, signal.SIG_IGN)
        stop(proxy + workers)  # the proxy first, so no browser is sent to a worker that is stopping
        shutil.rmtree(tmp, ignore_errors=True)


def supervise(workers: list[subprocess.Popen], ports: list[int], bind: str, env: dict,
              proxy: list[subprocess.Popen]) -> None:
    """Until the proxy exits: restart a worker that dies (e.g. killed for memory), unless it died at start."""
    started = [time.monotonic()] * len(workers)
    while not proxy or proxy[0].poll() is None:
        for k, proc in enumerate(workers):
            if proc.poll() is None:
                continue
            if time.monotonic() - started[k] < 60:
                raise SystemExit(f"rnnviz: worker w{k + 1} exited with code {proc.returncode} within a minute "
                                 "of starting; not restarting it (see its output above)")
            print(f"rnnviz: worker w{k + 1} exited with code {proc.returncode}; restarting it", flush=True)
            workers[k], started[k] = spawn(worker_command(bind, ports[k]), env), time.monotonic()
        time.sleep(1)
    raise SystemExit(f"rnnviz: HAProxy exited with code {proxy[0].returncode}; stopping the workers")


if __name__ == "__main__":
    main()
