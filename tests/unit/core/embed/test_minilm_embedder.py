"""MiniLMEmbedder: numpy all-MiniLM-L6-v2 against sentence-transformers' own output, and its behaviour."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from core.embed import MiniLMEmbedder, build_embedder
from core.embed import minilm as minilm_mod
from core.embed.litellm_embedder import LiteLLMEmbedder
from core.embed.minilm import default_model_dir, plan_batches, read_config
from core.errors import ConfigError, InputError
from core.ports import Embedder
from core.settings import EmbedderSettings, Settings

REFERENCE = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "minilm_reference.npz"


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder(batch_size=8)


@pytest.fixture(scope="module")
def reference() -> tuple[list[str], np.ndarray]:
    """Texts and the vectors sentence-transformers made for them (see make_minilm_reference.py)."""
    data = np.load(REFERENCE)
    return [str(t) for t in data["texts"]], data["vectors"]


def test_matches_sentence_transformers_reference(embedder: MiniLMEmbedder, reference: tuple[list[str], np.ndarray]):
    texts, ref = reference
    ours = embedder.embed(texts)
    cosine = (ours * ref).sum(axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    assert cosine.min() > 0.999, f"cosines {np.round(cosine, 6)}"
    # float32 reorderings only: every coordinate agrees closely too
    assert np.abs(ours - ref).max() < 1e-4


def test_output_shape_dtype_and_unit_norm(embedder: MiniLMEmbedder):
    vecs = embedder.embed(["disk full on node-3", "payment latency spike", "x"])
    assert vecs.shape == (3, 384)
    assert vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert isinstance(embedder, Embedder)
    assert embedder.dim == 384 and embedder.name == "all-MiniLM-L6-v2"


def test_paraphrases_are_closer_than_unrelated_sentences(embedder: MiniLMEmbedder):
    a, b, unrelated = embedder.embed(
        [
            "The database server is not responding to queries.",
            "Our DB stopped answering requests.",
            "My grandmother grows tomatoes in her garden.",
        ]
    )
    assert float(a @ b) > float(a @ unrelated) + 0.2
    assert float(a @ b) > float(b @ unrelated) + 0.2


def test_batch_equals_one_at_a_time_in_input_order(embedder: MiniLMEmbedder, reference):
    texts, _ = reference
    mixed = [texts[-1], texts[0], texts[14], texts[11], texts[5]]  # long, short, empty, CJK, log line
    together = MiniLMEmbedder(batch_size=32).embed(mixed)
    alone = np.vstack([embedder.embed([t]) for t in mixed])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_empty_string_and_empty_list(embedder: MiniLMEmbedder):
    vec = embedder.embed([""])
    assert vec.shape == (1, 384) and np.isfinite(vec).all()
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5
    empty = embedder.embed([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32


def test_deterministic(embedder: MiniLMEmbedder):
    texts = ["connection refused: db-primary:5432", "OOMKilled"]
    first = embedder.embed(texts)
    assert np.array_equal(first, embedder.embed(texts))
    # a second embedder with the same batch size computes the very same floats
    assert np.array_equal(first, MiniLMEmbedder(batch_size=8).embed(texts))


def test_text_is_truncated_at_max_seq_length(embedder: MiniLMEmbedder):
    assert embedder.max_seq_length == 256
    head = " ".join(f"shard{i} lost quorum" for i in range(200))  # well over 256 tokens
    long_a, long_b, short = embedder.embed([head, head + " completely different tail words", "shard0 lost quorum"])
    # words past the limit are cut, as sentence-transformers does; words before it still count
    np.testing.assert_allclose(long_a, long_b, atol=1e-6)
    assert float(long_a @ short) < 0.999


def test_bad_input_is_refused_with_the_position(embedder: MiniLMEmbedder):
    with pytest.raises(InputError, match="single str"):
        embedder.embed("not a list")
    with pytest.raises(InputError, match=r"texts\[1\] is int"):
        embedder.embed(["fine", 3])  # type: ignore[list-item]


def test_concurrent_first_use_loads_once_and_agrees(tmp_path: Path):
    # a private copy of the model dir (symlinks) so this test sees a cold cache
    src = default_model_dir()
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for item in src.iterdir():
        (model_dir / item.name).symlink_to(item)
    texts = ["queue depth rising", "cache miss storm", "pod evicted"]
    fresh = MiniLMEmbedder(model_dir=model_dir)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(fresh.embed(texts))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 6
    for r in results[1:]:
        np.testing.assert_allclose(r, results[0], atol=1e-6)
    assert list(minilm_mod._CACHE).count(model_dir.resolve()) == 1
    assert MiniLMEmbedder(model_dir=model_dir)._ensure_loaded() is fresh._ensure_loaded()


def _model_copy(tmp_path: Path) -> Path:
    src = default_model_dir()
    dst = tmp_path / "model"
    dst.mkdir()
    for item in src.iterdir():
        if item.is_dir():
            (dst / item.name).mkdir()
            for sub in item.iterdir():
                (dst / item.name / sub.name).write_bytes(sub.read_bytes())
        elif item.suffix == ".json":
            (dst / item.name).write_bytes(item.read_bytes())
        else:
            (dst / item.name).symlink_to(item)
    return dst


def test_config_is_read_from_the_package(tmp_path: Path):
    cfg = read_config(default_model_dir())
    assert (cfg.hidden_size, cfg.num_layers, cfg.num_heads, cfg.max_seq_length) == (384, 6, 12, 256)
    assert cfg.layer_norm_eps == pytest.approx(1e-12)


@pytest.mark.parametrize(
    ("file", "key", "value", "message"),
    [
        ("1_Pooling/config.json", "pooling_mode_cls_token", True, "only mean pooling"),
        ("config.json", "hidden_act", "gelu_new", "hidden_act"),
        ("config.json", "model_type", "roberta", "model_type"),
    ],
)
def test_unsupported_config_is_refused(tmp_path: Path, file: str, key: str, value: object, message: str):
    model_dir = _model_copy(tmp_path)
    path = model_dir / file
    data = json.loads(path.read_text())
    data[key] = value
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message):
        read_config(model_dir)


def test_model_without_normalize_module_is_refused(tmp_path: Path):
    model_dir = _model_copy(tmp_path)
    modules = json.loads((model_dir / "modules.json").read_text())
    (model_dir / "modules.json").write_text(json.dumps([m for m in modules if "Normalize" not in m["type"]]))
    with pytest.raises(ConfigError, match="Normalize"):
        read_config(model_dir)


def test_plan_batches_covers_every_index_within_limits():
    lengths = [5, 256, 12, 3, 256, 40, 7, 7, 100, 2]
    batches = plan_batches(lengths, batch_size=3, max_tokens=300)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 3
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 300
    # a text longer than the token budget still gets a batch of its own
    assert plan_batches([50, 10], batch_size=8, max_tokens=20) == [[1], [0]]


def test_build_embedder_from_settings():
    local = build_embedder(Settings())
    assert isinstance(local, MiniLMEmbedder)
    remote = build_embedder(
        Settings(embedder=EmbedderSettings(backend="litellm", model="ollama/nomic-embed-text", dim=768))
    )
    assert isinstance(remote, LiteLLMEmbedder) and remote.dim == 768 and remote.name == "ollama/nomic-embed-text"
    with pytest.raises(ConfigError, match="384"):
        build_embedder(Settings(embedder=EmbedderSettings(dim=768)))


def test_invalid_batch_size_is_refused():
    with pytest.raises(ConfigError, match="batch_size"):
        MiniLMEmbedder(batch_size=0)
