"""Generic header detection: one rule set for every source, no per-system formats."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from core.logs.header import message_of, split_header


@pytest.mark.parametrize(
    ("line", "kind", "message", "fields"),
    [
        (
            "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0",
            "syslog",
            "authentication failure; logname= uid=0",
            {"host": "combo", "component": "sshd(pam_unix)", "pid": "19939", "ts": "Jun 14 15:16:01"},
        ),
        (
            "<13>Jun  3 04:08:03 combo syslogd 1.4.1: restart.",
            "syslog",
            "restart.",
            {"host": "combo", "component": "syslogd 1.4.1"},
        ),
        (
            "I0102 15:04:05.123456   12345 controller.go:42] Reconciling deployment",
            "klog",
            "Reconciling deployment",
            {"level": "I", "pid": "12345", "component": "controller.go:42"},
        ),
        (
            "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
            "delimited",
            "onStandStepChanged 3579",
            {"ts": "20171223-22:15:29:606"},
        ),
        (
            "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster",
            "leveled",
            "Created MRAppMaster",
            {"level": "INFO", "thread": "main", "component": "org.apache.hadoop.mapreduce.v2.app.MRAppMaster"},
        ),
        (
            "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - "
            "Notification time out: 3200",
            "leveled",
            "Notification time out: 3200",
            {"level": "INFO", "thread": "QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774"},
        ),
        (
            "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_3 terminating",
            "leveled",
            "PacketResponder 1 for block blk_3 terminating",
            {"level": "INFO", "component": "dfs.DataNode$PacketResponder"},
        ),
        (
            "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
            "leveled",
            "workerEnv.init() ok /etc/httpd/conf/workers2.properties",
            {"level": "notice"},
        ),
        (
            "2024-03-01 12:00:00,123 - myapp.db - ERROR - connection lost",
            "leveled",
            "connection lost",
            {"level": "ERROR"},
        ),
        ("WARNING:urllib3.connectionpool:Retrying", "python", "Retrying", {"component": "urllib3.connectionpool"}),
        ("2024/01/02 15:04:05 listening on :8080", "timestamp", "listening on :8080", {"ts": "2024/01/02 15:04:05"}),
        ("Server INFO cache warmed", "none", "Server INFO cache warmed", {}),  # no number before the level
        ("plain message without header", "none", "plain message without header", {}),
    ],
)
def test_split_header(line: str, kind: str, message: str, fields: dict[str, str]) -> None:
    parts = split_header(line)
    assert parts.kind == kind
    assert parts.message == message
    assert message_of(line) == message
    for key, value in fields.items():
        assert getattr(parts, key) == value


@pytest.mark.shared_data
def test_loghub_headers_leave_the_ground_truth_content(shared_data: Path) -> None:
    """On every Loghub system the detected message equals the labelled Content for >= 98% of lines."""
    for folder in sorted(p for p in (shared_data / "loghub").iterdir() if p.is_dir()):
        system = folder.name
        raw = (folder / f"{system}_2k.log").read_text(encoding="utf-8").split("\n")
        with (folder / f"{system}_2k.log_structured_corrected.csv").open(encoding="utf-8", newline="") as f:
            contents = [row["Content"] for row in csv.DictReader(f)]
        same = sum(message_of(line) == content.strip() for line, content in zip(raw, contents, strict=False))
        assert same / len(contents) >= 0.98, (system, same)
