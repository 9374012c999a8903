"""Alert rules: `for:` delays, names and runbooks that exist."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chaos.alerts import RULES, RULES_BY_NAME, SHERLOG_RUNBOOKS, RuleInput, evaluate, fingerprint, local_runbooks
from chaos.faults import FAULTS


def _input(values: list[float]) -> RuleInput:
    v = np.array(values)
    return RuleInput("x", "Service", {"http_error_ratio": v, "http_requests_per_second": np.full(len(v), 10.0)}, {})


def test_for_delay_and_resolution() -> None:
    rule = RULES_BY_NAME["HighErrorRate"]  # for: 2m at 30 s steps: the condition must hold 5 samples
    assert [t.status for t in evaluate(rule, _input([0, 0.1, 0.1, 0.1, 0.1, 0, 0]), 30)] == []
    trs = evaluate(rule, _input([0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.0, 0.0]), 30)
    assert [(t.status, t.index, t.starts_index) for t in trs] == [("firing", 5, 5), ("resolved", 7, 5)]


def test_rule_names_are_unique_and_severities_known() -> None:
    assert len(RULES_BY_NAME) == len(RULES)
    assert {r.severity for r in RULES} <= {"critical", "warning", "info"}


def test_every_service_level_rule_has_a_shipped_runbook() -> None:
    shipped = local_runbooks()
    for rule in RULES:
        if rule.runbook_url.startswith(SHERLOG_RUNBOOKS):
            name = rule.runbook_url.removeprefix(SHERLOG_RUNBOOKS)
            assert name == rule.alertname
            text = shipped[name].read_text()
            for section in ("## Meaning", "## Impact", "## Diagnosis", "## Mitigation"):
                assert section in text, (name, section)


@pytest.mark.shared_data
def test_every_expected_runbook_exists_here_or_in_the_shared_runbooks(shared_data: Path) -> None:
    upstream = {p.stem for p in (shared_data / "runbooks/prometheus-operator-runbooks/content/runbooks").rglob("*.md")}
    for fd in FAULTS.values():
        assert fd.runbook in local_runbooks() or fd.runbook in upstream, fd.runbook


def test_fingerprint_is_stable_and_order_independent() -> None:
    a = fingerprint({"alertname": "X", "service": "s"})
    assert a == fingerprint({"service": "s", "alertname": "X"})
    assert a != fingerprint({"alertname": "X", "service": "t"})
    assert len(a) == 16
