"""Splitting `<service>_<metric>` column names."""

from __future__ import annotations

import pytest

from core.errors import InvalidPayload
from core.metrics.names import parse_columns, services_of


def _split(cols: list[str]) -> dict[str, tuple[str, str]]:
    return {c: (n.service, n.metric) for c, n in parse_columns(cols).items()}


def test_sock_shop_columns_keep_hyphenated_services_and_underscored_metrics() -> None:
    got = _split(["carts_cpu", "orders-db_cpu", "front-end_mem", "carts_lod", "shipping_lat_90", "catalogue_lat_99"])
    assert got == {
        "carts_cpu": ("carts", "cpu"),
        "orders-db_cpu": ("orders-db", "cpu"),
        "front-end_mem": ("front-end", "mem"),
        "carts_lod": ("carts", "lod"),
        "shipping_lat_90": ("shipping", "lat_90"),
        "catalogue_lat_99": ("catalogue", "lat_99"),
    }


def test_simulator_style_names_take_the_longest_known_metric_suffix() -> None:
    got = _split(["checkout_latency_p99", "db_cpu", "checkout_db_cpu", "payments_error_rate", "api_log_errors"])
    assert got["checkout_latency_p99"] == ("checkout", "latency_p99")
    assert got["db_cpu"] == ("db", "cpu")
    assert got["checkout_db_cpu"] == ("checkout_db", "cpu")
    assert got["payments_error_rate"] == ("payments", "error_rate")
    assert got["api_log_errors"] == ("api", "log_errors")


def test_unknown_metric_joins_a_service_seen_in_another_column() -> None:
    got = _split(["checkout_db_cpu", "checkout_db_gcpause_x", "carts_cpu", "carts_weird_thing"])
    assert got["checkout_db_gcpause_x"] == ("checkout_db", "gcpause_x")
    assert got["carts_weird_thing"] == ("carts", "weird_thing")


def test_unknown_metric_without_a_known_service_splits_at_the_first_underscore() -> None:
    assert _split(["my-svc_foo_bar"]) == {"my-svc_foo_bar": ("my-svc", "foo_bar")}


@pytest.mark.parametrize("bad", ["cpu", "_cpu", "carts_", "nounderscore"])
def test_columns_that_are_not_service_metric_are_named_in_the_error(bad: str) -> None:
    with pytest.raises(InvalidPayload) as e:
        parse_columns(["carts_cpu", bad], source="x.csv")
    assert repr(bad) in str(e.value)
    assert "x.csv" in str(e.value)


def test_services_are_distinct_and_sorted() -> None:
    names = parse_columns(["user_cpu", "carts_mem", "carts_cpu", "user-db_mem"]).values()
    assert services_of(names) == ["carts", "user", "user-db"]
