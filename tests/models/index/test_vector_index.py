"""VectorIndex: add/search/remove, tombstones, filters inside the search, type by size."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from quanzi.models.index import IndexConfig, PostMeta, SearchFilter, VectorIndex

DIM = 16


def _data(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    return [f"p{i}" for i in range(n)], rng.standard_normal((n, DIM)).astype(np.float32)


def _exact(
    x: np.ndarray, ids: list[str], q: np.ndarray, k: int, keep: set[str] | None = None
) -> list[str]:
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    scores = xn @ (q / np.linalg.norm(q))
    order = [ids[i] for i in np.argsort(-scores)]
    return [pid for pid in order if keep is None or pid in keep][:k]


@pytest.fixture(params=["flat", "hnsw"])
def kind_config(request: pytest.FixtureRequest) -> IndexConfig:
    """Both index types; HNSW gets a beam wide enough to be exact on this tiny data."""
    if request.param == "flat":
        return IndexConfig(flat_max=10_000)
    return IndexConfig(flat_max=10, ef_search=400, ef_construction=200, exact_filter_max=5)


def test_search_returns_exact_neighbours_with_cosine_scores(kind_config: IndexConfig) -> None:
    ids, x = _data(300)
    index = VectorIndex.build(DIM, "v1", ids, x, config=kind_config)
    assert index.kind == kind_config.kind_for(300)
    hits = index.search(x[7], 5)
    assert [pid for pid, _ in hits] == _exact(x, ids, x[7], 5)
    assert hits[0] == ("p7", pytest.approx(1.0, abs=1e-5))
    assert all(a[1] >= b[1] for a, b in itertools.pairwise(hits))


def test_removed_posts_are_never_returned(kind_config: IndexConfig) -> None:
    ids, x = _data(400)
    index = VectorIndex.build(DIM, "v1", ids, x, config=kind_config)
    removed = {f"p{i}" for i in range(0, 400, 3)}
    assert index.remove(removed) == len(removed)
    assert index.remove(["p0", "nope"]) == 0  # already removed / unknown: ignored
    alive = set(ids) - removed
    for q in x[:40]:
        got = [pid for pid, _ in index.search(q, 10)]
        assert not set(got) & removed
        assert got == _exact(x, ids, q, 10, keep=alive)
    assert len(index) == len(alive)


def test_flat_index_compacts_tombstones_past_the_fraction() -> None:
    ids, x = _data(100)
    index = VectorIndex.build(DIM, "v1", ids, x, config=IndexConfig(compact_fraction=0.2))
    index.remove(ids[:15])
    assert index.tombstones == 15
    index.remove(ids[15:25])  # 25 % tombstones > 20 %: compacted
    assert index.tombstones == 0 and index.ntotal == 75
    assert [pid for pid, _ in index.search(x[50], 3)] == _exact(
        x, ids, x[50], 3, keep=set(ids[25:])
    )


def test_hnsw_compaction_keeps_the_same_answers() -> None:
    ids, x = _data(300)
    index = VectorIndex.build(
        DIM, "v1", ids, x, config=IndexConfig(flat_max=10, ef_search=400, ef_construction=200)
    )
    index.remove(ids[:100])
    assert index.needs_compaction
    before = index.search_batch(x[100:120], 5)
    index.compact()
    assert index.tombstones == 0 and index.kind == "hnsw"
    assert [[p for p, _ in r] for r in index.search_batch(x[100:120], 5)] == [
        [p for p, _ in r] for r in before
    ]


def test_adding_an_existing_id_replaces_its_vector(kind_config: IndexConfig) -> None:
    ids, x = _data(50)
    index = VectorIndex.build(DIM, "v1", ids, x, config=kind_config)
    index.add(["p3"], x[10:11])
    assert len(index) == 50
    assert np.allclose(index.vector("p3"), x[10] / np.linalg.norm(x[10]), atol=1e-6)
    assert {pid for pid, _ in index.search(x[10], 2)} == {"p3", "p10"}


def test_filters_are_applied_inside_the_search(kind_config: IndexConfig) -> None:
    ids, x = _data(300)
    metas = [
        PostMeta(circle_id=f"c{i % 3}", quality=(i % 10) / 10, status="pass" if i % 4 else "review")
        for i in range(300)
    ]
    index = VectorIndex.build(DIM, "v1", ids, x, metas, config=kind_config)
    flt = SearchFilter.of(
        circle_id="c1", min_quality=0.5, statuses=["pass"], exclude_ids=["p1", "p4"]
    )
    keep = {
        ids[i]
        for i in range(300)
        if i % 3 == 1 and (i % 10) >= 5 and i % 4 and ids[i] not in {"p1", "p4"}
    }
    for q in x[:20]:
        got = [pid for pid, _ in index.search(q, 10, flt)]
        assert len(got) == 10  # k results come back: nothing was dropped after the search
        assert got == _exact(x, ids, q, 10, keep=keep)


def test_filter_on_an_unknown_circle_or_unscored_quality_returns_nothing() -> None:
    ids, x = _data(20)
    index = VectorIndex.build(DIM, "v1", ids, x, [PostMeta(circle_id="c1")] * 20)
    assert index.search(x[0], 5, SearchFilter.of(circle_id="elsewhere")) == []
    assert index.search(x[0], 5, SearchFilter.of(min_quality=0.0)) == []


def test_update_meta_changes_what_a_filter_lets_through() -> None:
    ids, x = _data(30)
    index = VectorIndex.build(DIM, "v1", ids, x, [PostMeta(circle_id="a")] * 30)
    index.update_meta("p5", PostMeta(circle_id="b", quality=0.9, status="pass"))
    assert [p for p, _ in index.search(x[0], 5, SearchFilter.of(circle_id="b"))] == ["p5"]
    assert index.meta("p5") == PostMeta(circle_id="b", quality=pytest.approx(0.9), status="pass")


def test_index_switches_from_flat_to_hnsw_past_the_threshold() -> None:
    ids, x = _data(120)
    index = VectorIndex(DIM, "v1", IndexConfig(flat_max=50, ef_search=400, ef_construction=200))
    index.add(ids[:40], x[:40])
    assert index.kind == "flat"
    index.remove(["p0"])
    index.add(ids[40:120], x[40:120])
    assert index.kind == "hnsw" and len(index) == 119 and "p0" not in index
    assert [p for p, _ in index.search(x[60], 5)] == _exact(x, ids, x[60], 5, keep=set(ids[1:]))
    index.remove(ids[1:100])  # back under the threshold: compaction picks flat again
    index.compact()
    assert index.kind == "flat" and len(index) == 20


def test_rebuilt_index_equals_the_incrementally_built_one(kind_config: IndexConfig) -> None:
    ids, x = _data(400, seed=3)
    incremental = VectorIndex(DIM, "v1", kind_config)
    for start in range(0, 400, 37):
        incremental.add(ids[start : start + 37], x[start : start + 37])
    incremental.remove(ids[::5])
    incremental.add(["p0"], x[0:1])  # re-added after removal
    keep = [i for i in range(400) if i % 5 or i == 0]
    rebuilt = VectorIndex.build(DIM, "v1", [ids[i] for i in keep], x[keep], config=kind_config)
    assert sorted(incremental.ids()) == sorted(rebuilt.ids())
    queries = np.random.default_rng(9).standard_normal((30, DIM)).astype(np.float32)
    a = incremental.search_batch(queries, 10)
    b = rebuilt.search_batch(queries, 10)
    assert [[p for p, _ in r] for r in a] == [[p for p, _ in r] for r in b]


@pytest.mark.parametrize(
    ("ids", "vectors", "message"),
    [
        (["a", "b"], np.ones((1, DIM)), "2 ids but 1 vectors"),
        (["a"], np.ones((1, DIM + 1)), "dimension"),
        (["a"], np.full((1, DIM), np.nan), "NaN"),
        (["a"], np.zeros((1, DIM)), "zero vectors"),
        (["a", "a"], np.ones((2, DIM)), "duplicate"),
        (["a\nb"], np.ones((1, DIM)), "invalid post id"),
    ],
)
def test_bad_input_is_refused_with_a_message(
    ids: list[str], vectors: np.ndarray, message: str
) -> None:
    index = VectorIndex(DIM, "v1")
    with pytest.raises(ValueError, match=message):
        index.add(ids, vectors)
    assert len(index) == 0


def test_search_on_an_empty_index_and_bad_k() -> None:
    index = VectorIndex(DIM, "v1")
    assert index.search(np.ones(DIM), 3) == []
    with pytest.raises(ValueError, match="k must be"):
        index.search(np.ones(DIM), 0)
    with pytest.raises(ValueError, match="unknown post statuses"):
        SearchFilter.of(statuses=["published"])
