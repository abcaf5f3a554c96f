"""A worker's recent ingests: one search for a batch finds what a search per post found."""

from __future__ import annotations

import numpy as np
import pytest

from quanzi.serving import recent_vectors
from quanzi.serving.recent_vectors import RecentVectors


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 16)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _brute(items: list[tuple[str, str, np.ndarray]], circle, query, exclude):  # type: ignore[no-untyped-def]
    """The search a post at a time, as it was written before batches."""
    mine = [(p, v) for p, c, v in items if (circle is None or c == circle) and p not in exclude]
    if not mine:
        return None
    sims = np.stack([v for _, v in mine]) @ query
    j = int(np.argmax(sims))
    return mine[j][0], float(sims[j])


def test_batched_search_finds_the_same_post_and_cosine_as_one_at_a_time() -> None:
    rng = np.random.default_rng(3)
    recent = RecentVectors()
    items: list[tuple[str, str, np.ndarray]] = []
    for b in range(6):
        ids = [f"p{b}-{i}" for i in range(b + 1)]
        circles = [f"c{i % 2}" for i in range(b + 1)]
        vectors = _unit(rng, b + 1)
        recent.add(ids, circles, vectors)
        items += list(zip(ids, circles, vectors, strict=True))
    queries = np.concatenate([_unit(rng, 5), items[4][2][None, :]])
    exclude = {"p5-0", "p3-2"}
    for circle in (None, "c1", "c9"):
        got = recent.best_many(circle, queries, exclude)
        want = [_brute(items, circle, q, exclude) for q in queries]
        assert [g and g[0] for g in got] == [w and w[0] for w in want]
        for g, w in zip(got, want, strict=True):
            assert g is None or g[1] == pytest.approx(w[1], abs=1e-6)  # type: ignore[index]
    assert recent.best(None, items[4][2], set())[0] == items[4][0]  # type: ignore[index]
    assert recent.best_many(None, queries, {p for p, _, _ in items}) == [None] * len(queries)


def test_an_id_seen_twice_is_still_excluded_and_the_next_best_found() -> None:
    """Only the best ``len(exclude) + 1`` positions are looked up first; an excluded id
    stored twice fills them, and the search goes on past them."""
    rng = np.random.default_rng(5)
    near = _unit(rng, 1)[0]
    recent = RecentVectors()
    recent.add(["dup", "dup"], ["c", "c"], np.stack([near, near]))
    others = _unit(rng, 30)
    recent.add([f"o{i}" for i in range(30)], ["c"] * 30, others)
    items = [("dup", "c", near), ("dup", "c", near)] + [
        (f"o{i}", "c", v) for i, v in enumerate(others)
    ]
    got = recent.best(None, near, {"dup"})
    want = _brute(items, None, near, {"dup"})
    assert got is not None and want is not None and got[0] == want[0]
    assert got[1] == pytest.approx(want[1], abs=1e-6)


def test_old_posts_expire_and_the_cap_keeps_the_newest(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(recent_vectors.time, "monotonic", lambda: clock[0])
    rng = np.random.default_rng(4)
    recent = RecentVectors(seconds=30, cap=5)
    first, second = _unit(rng, 3), _unit(rng, 4)
    recent.add(["a0", "a1", "a2"], ["c"] * 3, first)
    clock[0] = 110.0
    recent.add(["b0", "b1", "b2", "b3"], ["c"] * 4, second)  # 7 > cap: a0 and a1 go
    assert recent.best(None, first[0], set())[0] != "a0"  # type: ignore[index]
    assert recent.best(None, first[2], set())[0] == "a2"  # type: ignore[index]
    clock[0] = 135.0  # the first batch is past 30 s, the second is not
    assert recent.best(None, first[2], set())[0].startswith("b")  # type: ignore[index]
    clock[0] = 141.0
    assert recent.best(None, second[0], set()) is None
    with pytest.raises(ValueError, match="as many"):
        recent.add(["x"], [], first[:1])
