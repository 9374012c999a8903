"""Runbook loading (front matter, aliases, chunking) and the alert-rule runbook index."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import InvalidPayload
from core.model import EntityKind, RelationKind
from core.sources.common import ItemError
from core.sources.runbooks import (
    load_alert_rules,
    load_runbook_dir,
    parse_runbook,
    runbook_alias_index,
    split_text,
)

RUNBOOKS = Path("runbooks/prometheus-operator-runbooks/content/runbooks")
RULES = Path("alerts/kubernetes-mixin/rendered_prometheus_alerts.yaml")


@pytest.mark.shared_data
def test_every_prometheus_operator_runbook_loads(shared_data: Path) -> None:
    root = shared_data / RUNBOOKS
    md_files = sorted(root.rglob("*.md"))
    section_pages = [p for p in md_files if p.name == "_index.md"]
    errors: list[ItemError] = []
    runbooks = load_runbook_dir(root, errors=errors)
    assert errors == []
    # 117 markdown files: 108 runbooks and 9 Hugo section pages (front matter only)
    assert (len(md_files), len(section_pages), len(runbooks)) == (117, 9, 108)
    assert all(p.read_text().strip().endswith("---") for p in section_pages), "section pages carry no text"
    assert len({r.slug for r in runbooks}) == len(runbooks)
    for rb in runbooks:
        assert rb.chunks, rb.path
        assert rb.aliases and rb.aliases[0] == Path(rb.path).stem.lower(), rb.path
        assert all(0 < len(c.text) <= 1500 for c in rb.chunks), rb.path
        assert [c.index for c in rb.chunks] == list(range(len(rb.chunks)))


@pytest.mark.shared_data
def test_crashlooping_runbook_is_chunked_by_heading(shared_data: Path) -> None:
    runbooks = {r.slug: r for r in load_runbook_dir(shared_data / RUNBOOKS)}
    rb = runbooks["kubernetes/kubepodcrashlooping"]
    assert rb.title == "KubePodCrashLooping"
    assert rb.front_matter == {"title": "Kube Pod Crash Looping", "weight": 20}
    assert [c.heading for c in rb.chunks] == [
        "KubePodCrashLooping > Meaning",
        "KubePodCrashLooping > Impact",
        "KubePodCrashLooping > Diagnosis",
        "KubePodCrashLooping > Mitigation",
    ]
    assert "kubectl -n $NAMESPACE describe pod $POD" in rb.chunks[2].text
    # Hugo `aliases` (old URLs) name the alert's former name
    assert runbooks["kubernetes/kubememoryquotaovercommit"].aliases == [
        "kubememoryquotaovercommit",
        "kubememquotaovercommit",
    ]


@pytest.mark.shared_data
def test_a_copied_heading_does_not_steal_another_runbooks_alias(shared_data: Path) -> None:
    runbooks = load_runbook_dir(shared_data / RUNBOOKS)
    behind = next(r for r in runbooks if r.slug == "prometheus/prometheusremotewritebehind")
    assert "prometheusremotestoragefailures" in behind.aliases  # its H1 is a copy-paste upstream
    index = runbook_alias_index(runbooks)
    assert index["prometheusremotestoragefailures"] == "runbook:prometheus/prometheusremotestoragefailures"
    assert index["prometheusremotewritebehind"] == "runbook:prometheus/prometheusremotewritebehind"


@pytest.mark.shared_data
def test_alert_rules_and_their_runbook_urls(shared_data: Path) -> None:
    from core.sources.runbooks import alert_runbook_index

    rules = load_alert_rules(shared_data / RULES)
    assert len(rules) == 65
    index = alert_runbook_index(shared_data / RULES)
    assert len(index) == len({r.name for r in rules}) == 57  # some alerts have a warning and a critical rule
    assert index["KubePodCrashLooping"].endswith("#alert-name-kubepodcrashlooping")
    crash = next(r for r in rules if r.name == "KubePodCrashLooping")
    assert crash.severity == "warning" and crash.for_ == "15m" and crash.group == "kubernetes-apps"
    assert "kube_pod_container_status_waiting_reason" in crash.expr
    assert crash.doc_text.startswith("KubePodCrashLooping\nPod is crash looping.")


@pytest.mark.shared_data
def test_most_mixin_alerts_have_a_runbook_in_the_runbook_dir(shared_data: Path) -> None:
    aliases = runbook_alias_index(load_runbook_dir(shared_data / RUNBOOKS))
    names = {r.name for r in load_alert_rules(shared_data / RULES)}
    covered = {n for n in names if n.lower() in aliases}
    assert len(covered) == 46 and "KubePodCrashLooping" in covered


def test_toml_front_matter_url_and_alerts() -> None:
    text = (
        '+++\ntitle = "Checkout errors"\nurl = "https://wiki.example/checkout"\n'
        'alerts = ["CheckoutHighErrorRate"]\n+++\n\nIntro para.\n\n## Steps\n\nRestart it.\n'
    )
    rb = parse_runbook(text, "shop/checkout-errors.md")
    assert rb.title == "Checkout errors" and rb.url == "https://wiki.example/checkout"
    assert rb.aliases == ["checkout-errors", "checkouthigherrorrate"]
    assert [(c.heading, c.text) for c in rb.chunks] == [
        ("Checkout errors", "Intro para."),
        ("Checkout errors > Steps", "Restart it."),
    ]


def test_no_front_matter_title_from_file_name_and_base_url() -> None:
    rb = parse_runbook("Just restart the pod.\n", "DiskFull.md", base_url="https://runbooks.example/")
    assert rb.title == "DiskFull" and rb.url == "https://runbooks.example/diskfull"
    assert rb.chunks[0].text == "Just restart the pod."


def test_headings_inside_code_fences_are_text_and_empty_runbook_gets_one_chunk() -> None:
    text = "# Alert\n\n## Fix\n\n```sh\n# not a heading\nkubectl rollout undo\n```\n"
    rb = parse_runbook(text, "Alert.md")
    assert [c.heading for c in rb.chunks] == ["Alert > Fix"]
    assert "# not a heading" in rb.chunks[0].text
    only_headings = parse_runbook("# Title\n## Meaning\n## Impact\n", "T.md")
    assert len(only_headings.chunks) == 1 and "Meaning" in only_headings.chunks[0].text


def test_long_sections_split_on_paragraph_boundaries() -> None:
    paras = [f"Paragraph {i}: " + "word " * 60 for i in range(12)]  # ~320 chars each
    pieces = split_text("\n\n".join(paras), 1000)
    assert len(pieces) > 1 and all(len(p) <= 1000 for p in pieces)
    # nothing lost, nothing cut mid-paragraph
    assert [p.strip() for piece in pieces for p in piece.split("\n\n")] == [p.strip() for p in paras]
    giant = "x" * 3500
    assert [len(p) for p in split_text(giant, 1500)] == [1500, 1500, 500]


def test_graph_mapping_matches_the_schema() -> None:
    rb = parse_runbook("# A\n\n## Meaning\n\nm\n\n## Fix\n\nf\n", "team/A.md")
    nodes, edges = rb.to_graph()
    assert [n.id for n in nodes] == ["runbook:team/a", "runbook:team/a#0", "runbook:team/a#1"]
    assert nodes[0].kind is EntityKind.RUNBOOK and nodes[0].props["aliases"] == ["a"]
    assert nodes[1].kind is EntityKind.RUNBOOK_CHUNK and nodes[1].props == {"heading": "A > Meaning", "text": "m"}
    assert all(e.kind is RelationKind.PART_OF and e.dst == "runbook:team/a" for e in edges)
    assert rb.chunks[1].doc_text == "A > Fix\n\nf"


def test_bad_files_are_reported_and_the_rest_load(tmp_path: Path) -> None:
    (tmp_path / "Good.md").write_text("# Good\n\ntext\n")
    (tmp_path / "Unclosed.md").write_text("---\ntitle: x\n\n# Unclosed\n")
    (tmp_path / "BadYaml.md").write_text("---\ntitle: [unbalanced\n---\n# B\n")
    (tmp_path / "Binary.md").write_bytes(b"# B\n\xff\xfe\x00")
    errors: list[ItemError] = []
    loaded = load_runbook_dir(tmp_path, errors=errors)
    assert [r.slug for r in loaded] == ["good"]
    by_file = {e.field: e.message for e in errors}
    assert set(by_file) == {"Unclosed.md", "BadYaml.md", "Binary.md"}
    assert "never closed" in by_file["Unclosed.md"]
    assert "front matter is not valid YAML" in by_file["BadYaml.md"]
    assert "not UTF-8" in by_file["Binary.md"]
    with pytest.raises(InvalidPayload, match=r"BadYaml\.md"):
        load_runbook_dir(tmp_path)
    with pytest.raises(InvalidPayload, match="not found"):
        load_runbook_dir(tmp_path / "missing")


def test_rules_file_errors() -> None:
    text = """
groups:
- name: g
  rules:
  - record: job:up:sum
    expr: sum(up)
  - alert: Good
    expr: up == 0
    annotations: {runbook_url: https://rb/good}
  - alert: NoExpr
  - expr: up
- name: broken
  rules: nope
"""
    errors: list[ItemError] = []
    rules = load_alert_rules(text, errors=errors)
    assert [r.name for r in rules] == ["Good"]
    assert [str(e) for e in errors] == [
        "groups[0].rules[2].expr: expected a PromQL expression",
        "groups[0].rules[3].alert: expected the alert name (a string)",
        "groups[1].rules: expected an array, got string",
    ]
    with pytest.raises(InvalidPayload, match="groups"):
        load_alert_rules("just: text")
    with pytest.raises(InvalidPayload, match="not valid YAML"):
        load_alert_rules("groups: [\n")
