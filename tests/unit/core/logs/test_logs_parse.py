"""parse_line on real-looking samples of every supported format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.errors import InvalidPayload
from core.logs.parse import FORMATS, message_for_mining, parse_line, parse_timestamp
from core.model import Severity


def test_json_line_with_nested_kubernetes_fields() -> None:
    line = (
        '{"time":"2024-03-01T12:00:00.123Z","level":"error","msg":"payment failed","service":"checkout",'
        '"host":"node-1","kubernetes":{"pod_name":"checkout-7d9f-abc12","namespace_name":"shop"},'
        '"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","order_id":42}'
    )
    p = parse_line(line)
    assert p.fmt == "json"
    assert p.ts == datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert (p.level, p.service, p.host, p.pod) == (Severity.ERROR, "checkout", "node-1", "checkout-7d9f-abc12")
    assert p.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert p.message == "payment failed"
    assert p.attributes == {"kubernetes.namespace_name": "shop", "order_id": "42"}


def test_pino_json_with_numeric_level_and_epoch_ms() -> None:
    p = parse_line('{"level":50,"time":1709294400123,"pid":7,"hostname":"api-1","msg":"db timeout"}')
    assert p.level == Severity.ERROR
    assert p.ts == datetime(2024, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert p.host == "api-1" and p.message == "db timeout" and p.attributes == {"pid": "7"}


def test_journalctl_json() -> None:
    line = (
        '{"__REALTIME_TIMESTAMP":"1709294400123456","PRIORITY":"3","_HOSTNAME":"web-1",'
        '"SYSLOG_IDENTIFIER":"nginx","_SYSTEMD_UNIT":"nginx.service","MESSAGE":"worker process exited","_PID":"1234"}'
    )
    p = parse_line(line)
    assert p.fmt == "journald"
    assert p.ts == datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert (p.level, p.service, p.host, p.message) == (Severity.ERROR, "nginx", "web-1", "worker process exited")
    assert p.attributes["_PID"] == "1234"


def test_journalctl_binary_message_is_decoded() -> None:
    p = parse_line('{"__REALTIME_TIMESTAMP":"1","MESSAGE":[104,105,255],"_HOSTNAME":"h","_SYSTEMD_UNIT":"x.service"}')
    assert p.message == "hi\ufffd"
    assert p.service == "x"


def test_logfmt() -> None:
    p = parse_line(
        'ts=2024-03-01T12:00:00Z level=warn msg="slow query \\"orders\\"" service=orders pod=orders-1 '
        "duration=1.2s trace_id=abcdef0123456789"
    )
    assert p.fmt == "logfmt"
    assert (p.level, p.service, p.pod, p.trace_id) == (Severity.WARNING, "orders", "orders-1", "abcdef0123456789")
    assert p.message == 'slow query "orders"'
    assert p.ts == datetime(2024, 3, 1, 12, tzinfo=UTC)
    assert p.attributes == {"duration": "1.2s"}


def test_syslog_rfc5424_with_structured_data() -> None:
    line = (
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        '[exampleSDID@32473 iut="3" eventSource="Application" trace_id="0af7651916cd43dd8448eb211c80319c"] '
        "An application event log entry"
    )
    p = parse_line(line)
    assert p.fmt == "syslog"
    assert p.ts == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)
    assert (p.level, p.service, p.host) == (Severity.INFO, "evntslog", "mymachine.example.com")  # 165 % 8 = 5 notice
    assert p.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert p.message == "An application event log entry"
    assert p.attributes["facility"] == "20" and p.attributes["exampleSDID@32473.iut"] == "3"


def test_syslog_rfc3164_with_priority() -> None:
    p = parse_line("<11>Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown", year=2005)
    assert p.fmt == "syslog"
    assert p.ts == datetime(2005, 6, 14, 15, 16, 1, tzinfo=UTC)
    assert (p.level, p.service, p.host) == (Severity.ERROR, "sshd", "combo")
    assert p.attributes["pid"] == "19939" and p.message == "check pass; user unknown"


def test_nginx_combined_access_log() -> None:
    line = (
        '203.0.113.9 - alice [10/Oct/2023:13:55:36 +0200] "POST /api/orders?id=7 HTTP/1.1" 503 512 '
        '"https://shop.example.com/cart" "Mozilla/5.0 (X11; Linux x86_64)"'
    )
    p = parse_line(line)
    assert p.fmt == "clf"
    assert p.ts == datetime(2023, 10, 10, 13, 55, 36, tzinfo=timezone(timedelta(hours=2)))
    assert p.level == Severity.ERROR
    assert p.message == "POST /api/orders?id=7 HTTP/1.1 503"
    assert p.attributes["client"] == "203.0.113.9" and p.attributes["user"] == "alice"
    assert p.attributes["path"] == "/api/orders?id=7" and p.attributes["user_agent"].startswith("Mozilla/5.0")


def test_apache_common_log_without_referer() -> None:
    p = parse_line('127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 404 -')
    assert p.fmt == "clf" and p.level == Severity.WARNING and p.attributes["bytes"] == "0"


def test_klog() -> None:
    p = parse_line(
        'E0301 12:00:00.123456   12345 controller.go:123] "Failed to sync" pod="shop/web-0" node="n1"', year=2024
    )
    assert p.fmt == "klog"
    assert p.ts == datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert (p.level, p.pod, p.host) == (Severity.ERROR, "shop/web-0", "n1")
    assert p.attributes["source"] == "controller.go:123"


@pytest.mark.parametrize(
    ("line", "ts", "logger"),
    [
        ("ERROR:myapp.db:connection lost", None, "myapp.db"),
        (
            "2024-03-01 12:00:00,123 - myapp.db - ERROR - connection lost",
            datetime(2024, 3, 1, 12, 0, 0, 123000, UTC),
            "myapp.db",
        ),
    ],
)
def test_python_logging(line: str, ts: datetime | None, logger: str) -> None:
    p = parse_line(line)
    assert p.fmt == "python"
    assert (p.ts, p.level, p.message, p.attributes["logger"]) == (ts, Severity.ERROR, "connection lost", logger)


def test_plain_text_with_log4j_header_and_trace_in_message() -> None:
    p = parse_line(
        "2015-10-18 18:01:47,978 WARN [main] org.apache.Foo: retry failed trace_id=4bf92f3577b34da6 attempt=3"
    )
    assert p.fmt == "text"
    assert p.ts == datetime(2015, 10, 18, 18, 1, 47, 978000, UTC)
    assert p.level == Severity.WARNING
    assert p.attributes == {"component": "org.apache.Foo", "thread": "main"}
    assert p.trace_id == "4bf92f3577b34da6"
    assert p.message == "retry failed trace_id=4bf92f3577b34da6 attempt=3"


def test_plain_text_without_header() -> None:
    p = parse_line("something happened")
    assert (p.fmt, p.ts, p.level, p.message) == ("text", None, None, "something happened")


def test_hint_forces_a_format_and_rejects_lines_not_in_it() -> None:
    assert parse_line('{"msg":"x"}', hint="json").message == "x"
    with pytest.raises(InvalidPayload, match="not clf"):
        parse_line("hello", hint="clf")
    with pytest.raises(InvalidPayload, match="unknown log format"):
        parse_line("hello", hint="yaml")
    assert set(FORMATS) >= {"json", "journald", "logfmt", "syslog", "klog", "clf", "python", "text"}


def test_json_that_is_not_an_object_is_text() -> None:
    assert parse_line("[1, 2, 3]").fmt == "text"
    assert parse_line("{broken").fmt == "text"


def test_parse_timestamp_forms() -> None:
    assert parse_timestamp("081109 203615") == datetime(2008, 11, 9, 20, 36, 15, tzinfo=UTC)
    assert parse_timestamp("2005-06-03-15.42.50.675872") == datetime(2005, 6, 3, 15, 42, 50, 675872, UTC)
    assert parse_timestamp("20171223-22:15:29:606") == datetime(2017, 12, 23, 22, 15, 29, 606000, UTC)
    assert parse_timestamp("17/06/09 20:10:40") == datetime(2017, 6, 9, 20, 10, 40, tzinfo=UTC)
    assert parse_timestamp("1117838570") == datetime(2005, 6, 3, 22, 42, 50, tzinfo=UTC)
    assert parse_timestamp("148") is None  # a pid is not a time
    assert parse_timestamp("Feb 30 10:00:00", year=2024) is None
    assert parse_timestamp("not a time") is None


@pytest.mark.shared_data
def test_loghub_samples_parse_with_time_and_level(shared_data: Path) -> None:
    root = shared_data / "loghub"
    expectations = {
        "Hadoop": ("text", True, True),
        "Spark": ("text", True, True),
        "Zookeeper": ("text", True, True),
        "HDFS": ("text", True, True),
        "BGL": ("text", True, True),
        "Linux": ("syslog", True, False),
        "Apache": ("text", True, True),
        "HealthApp": ("text", True, False),
    }
    for system, (fmt, has_ts, has_level) in expectations.items():
        lines = (root / system / f"{system}_2k.log").read_text(encoding="utf-8").splitlines()[:50]
        for line in lines:
            p = parse_line(line, year=2005)
            assert p.fmt == fmt, (system, line, p)
            assert (p.ts is not None) == has_ts, (system, line, p)
            assert (p.level is not None) == has_level, (system, line, p)
            assert p.message and p.message in line


def test_message_for_mining() -> None:
    assert message_for_mining('{"level":"info","msg":"cache warmed","n":3}') == "cache warmed"
    assert message_for_mining('{"MESSAGE":"unit started","PRIORITY":"6","_HOSTNAME":"h"}') == "unit started"
    assert message_for_mining('{"n": 3}') == '{"n": 3}'
    assert message_for_mining('level=warn msg="disk 91% full" host=a') == "disk 91% full"
    assert message_for_mining("2024-01-01 10:00:00,000 INFO [t] a.B: started") == "started"
    assert message_for_mining("plain words") == "plain words"
