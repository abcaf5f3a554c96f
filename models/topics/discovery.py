"""Discover a circle's topics: cluster recent posts' encoder vectors with scikit-learn's
HDBSCAN, then name each cluster by c-TF-IDF over jieba's words (BERTopic's recipe)."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import jieba
import numpy as np
from sklearn.cluster import HDBSCAN

jieba.setLogLevel(logging.WARNING)

# Words that name no topic: function words, generic praise, shop talk.
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "是",
        "我",
        "也",
        "很",
        "都",
        "就",
        "还",
        "在",
        "有",
        "和",
        "不",
        "这",
        "那",
        "个",
        "吧",
        "啊",
        "呢",
        "吗",
        "哦",
        "呀",
        "嗯",
        "着",
        "给",
        "跟",
        "又",
        "被",
        "让",
        "用",
        "买",
        "说",
        "与",
        "及",
        "或",
        "但",
        "而",
        "把",
        "对",
        "到",
        "得",
        "地",
        "着",
        "过",
        "会",
        "能",
        "要",
        "可以",
        "没有",
        "一个",
        "一下",
        "这个",
        "那个",
        "感觉",
        "觉得",
        "非常",
        "比较",
        "真的",
        "还是",
        "就是",
        "不错",
        "挺",
        "太",
        "好",
        "很好",
        "不好",
        "东西",
        "满意",
        "喜欢",
        "推荐",
        "购买",
        "商品",
        "宝贝",
        "卖家",
        "京东",
        "一直",
        "一次",
        "第一次",
        "已经",
        "收到",
        "之前",
        "以后",
        "时候",
        "什么",
        "没",
        "自己",
        "我们",
        "他们",
        "还有",
        "因为",
        "所以",
        "然后",
        "如果",
        "虽然",
    ]
)
_WORD_RE = re.compile(r"^[\u4e00-\u9fffA-Za-z][\u4e00-\u9fffA-Za-z0-9]*$")


def words(text: str) -> list[str]:
    """jieba's words of ``text`` that can name a topic (two or more characters, no stopword)."""
    return [w for w in jieba.lcut(text) if len(w) >= 2 and w not in STOPWORDS and _WORD_RE.match(w)]


@dataclass(frozen=True)
class Cluster:
    """One discovered topic: a name, its top words and its members (row numbers)."""

    name: str
    keywords: tuple[str, ...]
    members: tuple[int, ...]


def ctfidf_keywords(docs_per_cluster: Sequence[Sequence[str]], top: int = 5) -> list[list[str]]:
    """c-TF-IDF: each cluster is one document; a word's weight is its frequency in the
    cluster × log(1 + average words per cluster / its frequency over all clusters)."""
    counts = [Counter(w for doc in docs for w in words(doc)) for docs in docs_per_cluster]
    total = Counter[str]()
    for c in counts:
        total.update(c)
    avg = sum(total.values()) / max(len(counts), 1)
    out: list[list[str]] = []
    for c in counts:
        size = max(sum(c.values()), 1)
        scored = sorted(
            ((n / size) * math.log(1 + avg / total[w]), w) for w, n in c.items() if n >= 2
        )
        out.append([w for _, w in reversed(scored[-top:])])
    return out


def discover(
    texts: Sequence[str],
    vectors: np.ndarray,
    *,
    min_cluster_size: int = 8,
    min_samples: int | None = 4,
    top_words: int = 5,
) -> list[Cluster]:
    """Clusters of ``vectors`` (unit rows) named from ``texts``; noise points join none.

    On unit vectors the Euclidean distance is a monotone function of the cosine, so
    HDBSCAN's default metric clusters by meaning.
    """
    if len(texts) < max(min_cluster_size * 2, 2):
        return []
    labels = HDBSCAN(
        min_cluster_size=min_cluster_size, min_samples=min_samples, copy=True
    ).fit_predict(np.asarray(vectors, dtype=np.float64))
    ids = sorted(int(label) for label in set(labels.tolist()) if label >= 0)
    members = [np.flatnonzero(labels == label) for label in ids]
    keywords = ctfidf_keywords([[texts[i] for i in m] for m in members], top=top_words)
    clusters: list[Cluster] = []
    used: set[str] = set()
    for m, kw in zip(members, keywords, strict=True):
        name = next((w for w in kw if w not in used), None)
        if name is None:
            continue  # no distinctive word: not a nameable topic
        used.add(name)
        clusters.append(Cluster(name=name, keywords=tuple(kw), members=tuple(int(i) for i in m)))
    return clusters
