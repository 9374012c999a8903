"""The shipper against a server with a small body limit (batches are split, nothing lost), many
concurrent senders against one intake (one Ingestor, serialised, exactly once), and journald
when this machine has a journal to read."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from core.graph.falkordb_server import EmbeddedFalkorDB
from tests.integration.core.intake.intake_server import intake_settings, running_intake

PROJECT_ROOT = Path(__file__).resolve().parents[4]


def test_batches_over_the_server_limit_are_split_until_they_fit(
    tmp_path: Path, falkordb_server: EmbeddedFalkorDB
) -> None:
    settings = intake_settings(tmp_path / "server", falkordb_server, max_body_bytes=16 * 1024)
    log = tmp_path / "wide.log"
    # random text compresses poorly, so a 500-line batch is far over 16 KiB even gzipped
    lines = [f"request {i} trace {uuid.uuid4().hex}{uuid.uuid4().hex} done" for i in range(1500)]
    log.write_text("".join(line + "\n" for line in lines))
    with running_intake(settings) as srv:
        out = subprocess.run(
            [
                sys.executable, "-m", "core.cli.ship", "--file", str(log), "--server", srv.url,
                "--state-dir", str(tmp_path / "state"), "--batch-lines", "500", "--once",
            ],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180,
            env={"PATH": "/usr/bin:/bin", "SHERLOG_CONFIG": "/nonexistent", "SHERLOG_DATA_DIR": str(tmp_path / "d")},
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        stored = Counter(row.message for row in srv.stack.db.log_lines())
    assert stored == Counter(lines)
    sent = re.search(r"(\d+) batch\(es\) sent", out.stdout)
    assert sent is not None and int(sent.group(1)) > 1500 // 500, out.stdout  # the 413s were answered by splitting


def test_concurrent_senders_store_each_event_once(tmp_path: Path, falkordb_server: EmbeddedFalkorDB) -> None:
    settings = intake_settings(tmp_path / "server", falkordb_server)
    events = [
        {"source": "t", "kind": "log", "ts": "2024-05-01T10:00:00Z", "body": f"concurrent {i}", "ingest_id": f"c-{i}"}
        for i in range(400)
    ]
    results: list[dict] = []
    errors: list[BaseException] = []

    def send(offset: int) -> None:
        # every sender posts an overlapping window: each event is sent by 4 senders
        try:
            with httpx.Client(timeout=120) as c:
                for start in range(offset, offset + 400, 100):
                    batch = [events[j % 400] for j in range(start, start + 100)]
                    r = c.post(f"{url}/ingest/logs", json={"events": batch})
                    results.append(r.json() | {"status": r.status_code})
        except BaseException as e:
            errors.append(e)

    with running_intake(settings) as srv:
        url = srv.url
        threads = [threading.Thread(target=send, args=(k * 100,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stored = Counter(row.message for row in srv.stack.db.log_lines())
    assert not errors
    assert all(r["status"] == 200 for r in results)
    assert sum(r["accepted"] for r in results) == 400
    assert sum(r["duplicates"] for r in results) == 3 * 400
    assert stored == Counter(e["body"] for e in events)


def _journal_has_entries() -> bool:
    if shutil.which("journalctl") is None:
        return False
    try:
        out = subprocess.run(["journalctl", "-o", "json", "-n", "1", "--no-pager"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip().startswith(b"{")


@pytest.mark.skipif(not _journal_has_entries(), reason="journalctl finds no journal on this machine")
def test_journald_once_ships_recent_entries_then_resumes_after_the_cursor(
    tmp_path: Path, falkordb_server: EmbeddedFalkorDB
) -> None:
    settings = intake_settings(tmp_path / "server", falkordb_server)
    recent = subprocess.run(
        ["journalctl", "-o", "json", "--no-pager", "--since", "-10min"], capture_output=True, check=True
    ).stdout.splitlines()
    cmd = [
        sys.executable, "-m", "core.cli.ship", "--journald", "--since", "-10min", "--once",
        "--state-dir", str(tmp_path / "state"),
    ]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "SHERLOG_CONFIG": "/nonexistent", "SHERLOG_DATA_DIR": str(tmp_path / "d")}
    with running_intake(settings) as srv:
        first = subprocess.run([*cmd, "--server", srv.url], cwd=PROJECT_ROOT, capture_output=True, text=True, env=env)
        assert first.returncode == 0, first.stderr
        cursor = json.loads((tmp_path / "state" / "cursor.json").read_text())["sources"]["journald"]["cursor"]
        assert cursor
        second = subprocess.run([*cmd, "--server", srv.url], cwd=PROJECT_ROOT, capture_output=True, text=True, env=env)
        assert second.returncode == 0, second.stderr
        assert "duplicates 0" in second.stdout  # resumed after the cursor, not from --since again
        stored = srv.stack.db.log_lines()
    assert len(stored) >= min(len(recent), 1)
