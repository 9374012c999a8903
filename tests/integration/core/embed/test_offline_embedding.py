"""The local embedder works with no network at all, in a fresh process (nothing cached in-process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[4]

# Runs in the child before anything else: every socket connect to a non-loopback address raises,
# and an audit hook records every connect attempt that reaches the socket layer at all.
_CHILD = textwrap.dedent(
    """
    import ipaddress, json, socket, sys

    attempts = []

    def _audit(event, args):
        if event == "socket.connect":
            attempts.append(repr(args[1]))

    sys.addaudithook(_audit)

    def _loopback(address):
        host = address[0] if isinstance(address, tuple) else address
        if not isinstance(host, str):
            return False
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False  # a host name would need DNS, which is the network

    class NetworkBlocked(OSError):
        pass

    _real_connect = socket.socket.connect
    _real_connect_ex = socket.socket.connect_ex
    _real_create_connection = socket.create_connection

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            raise NetworkBlocked(f"blocked non-loopback connect to {address!r}")
        return _real_connect(self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address):
            raise NetworkBlocked(f"blocked non-loopback connect to {address!r}")
        return _real_connect_ex(self, address)

    def create_connection(address, *args, **kwargs):
        if not _loopback(address):
            raise NetworkBlocked(f"blocked non-loopback connection to {address!r}")
        return _real_create_connection(address, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.create_connection = create_connection

    import numpy as np
    from core.embed import build_embedder
    from core.settings import Settings

    embedder = build_embedder(Settings())
    vecs = embedder.embed(["disk full on node-3", "the disk on node 3 is full", "tomatoes grow in summer"])
    print(json.dumps({
        "blocker_installed": socket.socket.connect is connect and socket.create_connection is create_connection,
        "torch_imported": "torch" in sys.modules,
        "sentence_transformers_imported": "sentence_transformers" in sys.modules,
        "shape": list(vecs.shape),
        "dtype": str(vecs.dtype),
        "norms": [float(n) for n in np.linalg.norm(vecs, axis=1)],
        "paraphrase": float(vecs[0] @ vecs[1]),
        "unrelated": float(vecs[0] @ vecs[2]),
        "connect_attempts": attempts,
    }))
    """
)


def test_local_embedder_runs_offline_in_a_fresh_process(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHERLOG_")}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        SHERLOG_CONFIG=str(tmp_path / "absent.toml"),
        HOME=str(tmp_path),  # no developer cache or config can help the child
        PYTHONPATH=str(PROJECT_ROOT),
    )
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["blocker_installed"]
    assert not report["torch_imported"] and not report["sentence_transformers_imported"]
    assert report["shape"] == [3, 384] and report["dtype"] == "float32"
    assert all(abs(n - 1.0) < 1e-5 for n in report["norms"])
    assert report["paraphrase"] > report["unrelated"]
    # not merely survived a blocked attempt: it never tried to reach anything
    assert report["connect_attempts"] == []
