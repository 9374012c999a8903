"""Input checks every VectorStore adapter shares, and the full-text query sanitiser."""

from __future__ import annotations

import math

import pytest

from core.errors import InputError
from core.ports import VectorDoc
from core.vector.falkordb_vector import fulltext_query
from core.vector.validate import check_dim, check_docs, check_filters, check_search, check_vector


def doc(doc_id: str, vector: list[float] | None = None, **kw: object) -> VectorDoc:
    return VectorDoc(id=doc_id, text=f"text of {doc_id}", vector=vector or [1.0, 0.0, 0.0], **kw)  # type: ignore[arg-type]


def test_wrong_dimension_names_the_doc() -> None:
    with pytest.raises(InputError, match=r"doc 'bad-1'.*dimension 2.*expects 3"):
        check_docs([doc("ok"), doc("bad-1", [1.0, 2.0])], 3)


@pytest.mark.parametrize("vector", [[math.nan, 0.0, 1.0], [math.inf, 0.0, 0.0], [0.0, 0.0, 0.0]])
def test_unusable_vectors_are_refused(vector: list[float]) -> None:
    with pytest.raises(InputError, match="doc 'x'"):
        check_docs([doc("x", vector)], 3)


def test_non_numeric_vector_is_refused() -> None:
    with pytest.raises(InputError, match="numbers"):
        check_vector(["a", "b"], 2, "doc 'x'")  # type: ignore[list-item]


def test_duplicate_ids_keep_the_last_version() -> None:
    out = check_docs([doc("a"), doc("b"), doc("a", [0.0, 1.0, 0.0])], 3)
    assert [c.doc.id for c in out] == ["b", "a"]
    assert out[1].vector == [0.0, 1.0, 0.0]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("id", "", "empty"),
        ("id", "  ", "empty"),
        ("kind", "", "kind"),
        ("entity_ids", ["ok", 3], "entity_ids"),
        ("entity_ids", "service:x", "entity_ids"),
        ("metadata", {"alert.name": "x"}, "alert.name"),
        ("metadata", {"kind": "x"}, "reserved"),
        ("metadata", {"tags": ["a"]}, "tags"),
        ("metadata", {"score": math.nan}, "finite"),
        ("metadata", {"owner": None}, "owner"),
    ],
)
def test_bad_documents_are_refused_with_a_reason(field: str, value: object, message: str) -> None:
    d = doc("d1")
    setattr(d, field, value)
    with pytest.raises(InputError, match=message):
        check_docs([d], 3)


def test_good_metadata_types_pass() -> None:
    d = doc("d1", metadata={"service": "checkout", "sev": 2, "ratio": 0.5, "paged": True, "_x1": "y"})
    assert check_docs([d], 3)[0].doc.metadata["sev"] == 2


def test_upsert_of_a_single_doc_not_in_a_list_is_refused() -> None:
    with pytest.raises(InputError, match="sequence"):
        check_docs(doc("a"), 3)  # type: ignore[arg-type]


def test_filters() -> None:
    assert check_filters(None) == {}
    assert check_filters({"kind": "runbook", "sev": 2}) == {"kind": "runbook", "sev": 2}
    with pytest.raises(InputError, match="kind"):
        check_filters({"kind": 3})
    with pytest.raises(InputError, match="not allowed"):
        check_filters({"a-b": 1})
    with pytest.raises(InputError, match="list"):
        check_filters({"a": [1]})  # type: ignore[dict-item]


def test_search_arguments() -> None:
    with pytest.raises(InputError, match="text, a query vector, or both"):
        check_search(None, None, 10, 0.5, 3)
    with pytest.raises(InputError, match="k must"):
        check_search("x", None, 0, 0.5, 3)
    with pytest.raises(InputError, match="alpha"):
        check_search("x", None, 5, 2.0, 3)
    with pytest.raises(InputError, match=r"query vector.*dimension 2"):
        check_search(None, [1.0, 0.0], 5, 0.5, 3)
    with pytest.raises(InputError, match="empty"):
        check_search(None, [], 5, 0.5, None)
    assert check_search("x", [1, 0, 0], 5, 0.5, 3) == [1.0, 0.0, 0.0]
    assert check_search("x", None, 5, 0.5, None) is None


def test_dim() -> None:
    assert check_dim(384) == 384
    for bad in (0, -1, 3.0, True):
        with pytest.raises(InputError):
            check_dim(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("foo:bar (", "foo | bar"),
        ('"unterminated', "unterminated"),
        ("@text:x -y %fuzzy% *", "text | x | y | fuzzy"),
        ("KubePodCrashLooping on checkout-api", "KubePodCrashLooping | on | checkout | api"),
        ("disk_pressure DISK_PRESSURE disk_pressure", "disk_pressure"),
        ("a|b||c", "a | b | c"),
        ("__ ___", None),
        ("()[]{}:;", None),
        ("", None),
        (None, None),
        ("naïve café", "naïve | café"),
    ],
)
def test_fulltext_query_keeps_only_words(text: str | None, expected: str | None) -> None:
    assert fulltext_query(text) == expected


def test_fulltext_query_caps_the_number_of_terms() -> None:
    q = fulltext_query(" ".join(f"w{i}" for i in range(100)), max_terms=5)
    assert q == "w0 | w1 | w2 | w3 | w4"
