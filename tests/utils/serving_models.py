"""Small real models for the service tests: a hashed n-gram embedder and rule predictors.

Why not the product models: the routes are tested apart from model quality, and these
load in microseconds. They still behave like models should: near-copies embed close
together, a coupon push is an ad and L5, a long specific review scores higher quality.
Install them with ``use_models(client, …)`` before the first request that needs a model
(under ``env=test`` the app loads models on first use).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quanzi.models.loading import LoadedModels
from quanzi.settings import Settings

DIM = 256


class HashEmbedder:
    """Character 1–3-gram counts hashed into 256 dims, L2-normalised."""

    dim = DIM

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            grams = [text[i : i + n] for n in (1, 2, 3) for i in range(len(text) - n + 1)]
            for g in grams:
                out[row, zlib.crc32(g.encode()) % DIM] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


class RuleModeration:
    """`优惠券`/`进店` → ad (reject over 2 mentions, else review); `傻` → offensive reject."""

    name = "quanzi-moderation"

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for r in records:
            text, labels = r["text"], []
            ads = text.count("优惠券") + text.count("进店")
            if ads:
                at = text.find("优惠券") if "优惠券" in text else text.find("进店")
                labels.append(
                    {
                        "label": "ad",
                        "prob": min(0.99, 0.6 + 0.2 * ads),
                        "band": "reject" if ads > 2 else "review",
                        "spans": [{"start": at, "end": at + 2, "text": text[at : at + 2]}],
                    }
                )
            if "傻" in text:
                at = text.find("傻")
                labels.append(
                    {
                        "label": "offensive",
                        "prob": 0.97,
                        "band": "reject",
                        "spans": [{"start": at, "end": at + 1, "text": "傻"}],
                    }
                )
            bands = {e["band"] for e in labels}
            decision = "reject" if "reject" in bands else "review" if bands else "pass"
            out.append({"decision": decision, "labels": labels})
        return out


class LengthQuality:
    """Score = length / 60 capped at 1; tier 3 from 0.75, 2 from 0.4, 1 from 0.15."""

    name = "quanzi-quality"

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for r in records:
            score = min(1.0, len(r["text"]) / 60)
            tier = 3 if score >= 0.75 else 2 if score >= 0.4 else 1 if score >= 0.15 else 0
            out.append({"score": round(score, 4), "tier": tier})
        return out


class ProvenanceTrust:
    """L5 for coupon pushes, L2 for certified creators, L4 for `专家`, else L3."""

    name = "quanzi-trust"

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for r in records:
            author = r.get("author") or {}
            if "优惠券" in r["text"]:
                level, why = "L5", "coupon push"
            elif "专家" in r["text"]:
                level, why = "L4", "expert endorsement"
            elif author.get("creator_certified"):
                level, why = "L2", "certified creator"
            else:
                level, why = "L3", "first-hand share"
            probs = {lv: 0.05 for lv in ("L2", "L3", "L4", "L5", "L6")}
            probs[level] = 0.8
            out.append(
                {
                    "level": level,
                    "probs": probs,
                    "reasons": [
                        why,
                        f"verified_purchase={r.get('verified_purchase')}",
                        f"post_count={author.get('post_count')}",
                    ],
                }
            )
        return out


def fake_loader(
    version: str = "1",
    *,
    embedder: HashEmbedder | None = None,
    with_models: bool = True,
    delay_s: float = 0.0,
    encoder_version: str = "hash-256",
    qa: Any | None = None,
) -> Callable[[Settings], LoadedModels]:
    """A loader serving the models above at ``version`` (or none: degraded mode), and
    ``qa`` as the Q&A champion when given."""

    def load(_settings: Settings) -> LoadedModels:
        if delay_s:
            time.sleep(delay_s)  # a slow load: requests must keep flowing meanwhile
        emb = embedder or HashEmbedder()
        if not with_models:
            return LoadedModels(
                predictors={"moderation": None, "quality": None, "trust": None},
                versions={"moderation": "rules", "quality": "unavailable", "trust": "unavailable"},
                embedder=emb,
                encoder_version=encoder_version,
                degraded={
                    "moderation": "no champion",
                    "quality": "no champion",
                    "trust": "no champion",
                },
            )
        return LoadedModels(
            predictors={
                "moderation": RuleModeration(),
                "quality": LengthQuality(),
                "trust": ProvenanceTrust(),
            },
            versions={"moderation": version, "quality": version, "trust": version},
            embedder=emb,
            encoder_version=encoder_version,
            qa=qa,
        )

    return load


def use_models(client: Any, loader: Callable[[Settings], LoadedModels]) -> None:
    """Serve ``loader``'s models in the app behind ``client`` (before its first use)."""
    client.app.state.quanzi.models.loader = loader


def wait_indexed(client: Any, post_ids: Sequence[str], timeout_s: float = 10.0) -> None:
    """Wait until this worker's index holds the posts (the sync thread applies the log)."""
    deadline = time.monotonic() + timeout_s
    models = client.app.state.quanzi.models.current()
    while time.monotonic() < deadline:
        if all(pid in models.index for pid in post_ids):
            return
        time.sleep(0.02)
    missing = [pid for pid in post_ids if pid not in models.index]
    raise AssertionError(f"posts {missing} not indexed after {timeout_s} s")


def seed_world(f: Any) -> dict[str, Any]:
    """Two circles, a user, a certified creator and an item with the user's order."""
    beauty = f.circle(id="c-beauty", name="美妆圈", category="beauty")
    phone = f.circle(id="c-phone", name="手机圈", category="digital")
    user = f.user(id="u-1")
    creator = f.user(id="u-creator", kind="creator", creator_certified=True, follower_count=120_000)
    item = f.item(beauty, id="i-1", title="保湿面霜")
    order = f.order(user, item, id="o-1")
    return {
        "beauty": beauty,
        "phone": phone,
        "user": user,
        "creator": creator,
        "item": item,
        "order": order,
    }


# Fixtures for the route tests; a test module re-exports them (``settings = sm.settings``).
@pytest.fixture(name="settings")
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings on a fresh data dir with a fast index sync (50 ms)."""
    data_dir = tmp_path / "quanzi"
    monkeypatch.setenv("QUANZI_DATA_DIR", str(data_dir))
    return Settings(data_dir=data_dir, env="test", index_sync_interval_ms=50)


@pytest.fixture(name="world")
def world(seed: Callable[[Callable[[Any], Any]], Any], keys: dict) -> dict[str, Any]:
    """``seed_world`` stored (after the keys, so both share the migrated database)."""
    return seed(lambda f: {k: v.id for k, v in seed_world(f).items()})


def build_tiny_encoder(
    path: Path, texts: Sequence[str] | None = None, vocab_size: int = 120
) -> Path:
    """Save a 1-layer, 32-wide sentence-transformers encoder (16-d output) at ``path``
    (a char vocabulary of ``texts``)."""
    from quanzi.models.encoder import EncoderArch, build_encoder
    from quanzi.models.tokenizer import build_tokenizer

    texts = texts or ["保湿面霜质地轻薄", "口红颜色很正", "手机续航一天", "物流很快包装完好"] * 5
    tokenizer = build_tokenizer(texts, vocab_size=vocab_size, min_frequency=1)
    arch = EncoderArch(
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        intermediate_size=64,
        max_seq_length=32,
        output_dim=16,
    )
    build_encoder(tokenizer, arch).save(str(path))
    return path
