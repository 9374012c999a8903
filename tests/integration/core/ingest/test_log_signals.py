"""log_signals on synthetic logs ingested through the real pipeline: bursts, first-seen templates
and error-rate jumps are found with the right onset; steady logs give nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from ingest_helpers import CHECKOUT, ENTITY, T0

from core.errors import InputError
from core.ingest import Ingestor, log_signals
from core.ingest.signals import BURST, ERROR_RATE, NEW_TEMPLATE
from core.wiring import Stack

CART = "service:prod/shop/cart"


def _lines(service: str, minute: int, per_minute: int, text: str, level: str = "info") -> list[dict[str, Any]]:
    out = []
    for j in range(per_minute):
        ts = T0 + timedelta(minutes=minute, seconds=j * 60 / per_minute)
        out.append(
            {
                "source": "test",
                "kind": "log",
                "ts": ts.isoformat(),
                "entity": {**ENTITY, "service": service},
                "severity": level,
                "body": text.format(i=minute * 1000 + j),
                "ingest_id": f"{service}/{minute}/{text[:10]}/{j}",
            }
        )
    return out


GET = "GET /api/items/{i} 200 in 12 ms"
TIMEOUT = "upstream timeout calling payments after {i} ms"
BREAKER = "circuit breaker open for payments attempt {i}"


@pytest.fixture
def loaded(ingestor: Ingestor) -> Ingestor:
    items: list[dict[str, Any]] = []
    for m in range(90):
        items += _lines("checkout", m, 60 if 75 <= m <= 80 else 5, GET)
        items += _lines("cart", m, 4, "cart {i} updated")
        if m < 78 and m % 10 == 0:
            items += _lines("checkout", m, 1, TIMEOUT, "error")
        elif m >= 78:
            items += _lines("checkout", m, 20, TIMEOUT, "error")
        if m >= 82 and m % 2 == 0:
            items += _lines("checkout", m, 1, BREAKER, "warning")
    report = ingestor.ingest_events(items)
    assert report.rejected == [] and report.accepted == len(items)
    return ingestor


def test_burst_new_template_and_error_jump_with_onsets(loaded: Ingestor, stack: Stack) -> None:
    since, until = T0 + timedelta(minutes=60), T0 + timedelta(minutes=90)
    signals = log_signals(stack.db, stack.graph, [CHECKOUT, CART], since, until, baseline=timedelta(minutes=60))
    assert all(s.entity_id == CHECKOUT for s in signals), "steady cart logs must give no signal"
    by = {(s.kind, s.template.split(" ")[0]): s for s in signals}

    burst = by[(BURST, "GET")]
    assert burst.onset == T0 + timedelta(minutes=75)
    assert burst.count == 15 * 5 + 6 * 60 + 9 * 5 and burst.baseline_count == 300
    assert burst.ratio > 3 and burst.p_value < 1e-6
    assert 0 < len(burst.samples) <= 5 and all(s.startswith("GET /api/items/") for s in burst.samples)

    timeout_burst = by[(BURST, "upstream")]
    assert timeout_burst.onset == T0 + timedelta(minutes=78) and timeout_burst.level == "error"

    new = by[(NEW_TEMPLATE, "circuit")]
    assert new.onset == T0 + timedelta(minutes=82) and new.count == 4 and new.baseline_count == 0
    assert new.samples[0].startswith("circuit breaker open") and new.level == "warning"

    errors = next(s for s in signals if s.kind == ERROR_RATE)
    assert errors.onset == T0 + timedelta(minutes=78) and errors.template_id is None
    assert errors.count == 12 * 20 + 2 and errors.baseline_count == 6  # + minutes 60 and 70
    assert all("upstream timeout" in s for s in errors.samples)

    assert [s.score for s in signals] == sorted((s.score for s in signals), reverse=True)
    assert len({s.id for s in signals}) == len(signals)


def test_a_quiet_window_gives_no_signal(loaded: Ingestor, stack: Stack) -> None:
    since, until = T0 + timedelta(minutes=40), T0 + timedelta(minutes=60)
    assert log_signals(stack.db, stack.graph, [CHECKOUT, CART], since, until, baseline=timedelta(minutes=40)) == []


def test_bad_arguments_are_refused(stack: Stack) -> None:
    with pytest.raises(InputError, match="until"):
        log_signals(stack.db, stack.graph, [CHECKOUT], T0, T0)
    with pytest.raises(InputError, match="timezone"):
        log_signals(stack.db, stack.graph, [CHECKOUT], T0.replace(tzinfo=None), T0 + timedelta(hours=1))
