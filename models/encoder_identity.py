"""The identity of a sentence encoder: a folder-safe version from its name and its files.

Computed here only, for everything that must tell two encoders apart: the service and
``quanzi index rebuild`` name the vector index (and the stored embeddings) by it, and
``quanzi train`` logs which encoder a model was trained with. Content-addressed, so every
worker derives the same version from the same weights, and retraining the encoder in
place yields a new version — and so a new index — instead of mixing vectors of two models.
No torch here: the training pipeline logs the identity without loading the encoder.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path


def encoder_digest(name: str) -> str:
    """sha256 over every file of an encoder folder (relative path, then bytes), or over
    the name of a Hugging Face id (available offline, so its files are not ours to hash)."""
    path = Path(name)
    digest = hashlib.sha256()
    if not path.is_dir():
        digest.update(name.encode())
        return digest.hexdigest()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        with file.open("rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def encoder_version_of(name: str) -> str:
    """``<folder or model name>-<first 12 hex digits of encoder_digest>``."""
    path = Path(name)
    stem = path.name if path.is_dir() else name.rsplit("/", 1)[-1]
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:40] or "encoder"
    return f"{slug}-{encoder_digest(name)[:12]}"
