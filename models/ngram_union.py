"""Several char n-gram ``CountVectorizer``s applied to the same texts from one analysis.

Why: the moderation model holds one classifier per label (eight), each with its own
vocabulary, and each ``transform`` cut every text into character n-grams and looked every
one up again, in Python: on the serving path, where a batch holds a few posts, that was
the largest cost of moderation (≈ 1.5 ms a post of 2 ms). Here the texts are cut once,
with the widest n-gram range of the group, and each n-gram is looked up once in the union
of the vocabularies; each vectorizer's matrix is then a column mapping in numpy. A char
n-gram of length n is the same string whatever range produced it, and a vocabulary holds
only lengths of its own range, so every matrix is exactly ``vectorizer.transform(texts)``
(the same counts, dtype and sorted column order; ``tests/models/test_ngram_union.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

# Parameters that may differ between the vectorizers of one union (the vocabulary and how
# it was chosen, the n-gram range, the output dtype); every other one must be equal.
_FREE = {"ngram_range", "vocabulary", "min_df", "max_df", "max_features", "dtype"}


def _vocabulary(vectorizer: CountVectorizer) -> dict[str, int]:
    vocab = getattr(vectorizer, "vocabulary_", None) or vectorizer.vocabulary
    if not isinstance(vocab, dict) or not vocab:
        raise ValueError("the vectorizer has no fixed vocabulary")
    return vocab


class NgramUnion:
    """``transform(texts)`` = ``[v.transform(texts) for v in vectorizers]``, faster."""

    def __init__(self, vectorizers: Sequence[CountVectorizer]) -> None:
        if not vectorizers:
            raise ValueError("an n-gram union needs at least one vectorizer")
        first = vectorizers[0].get_params()
        for v in vectorizers:
            params = v.get_params()
            if params["analyzer"] != "char" or params["binary"] or params["input"] != "content":
                raise ValueError("an n-gram union takes char analyzers of content, not binary")
            if {k: x for k, x in params.items() if k not in _FREE} != {
                k: x for k, x in first.items() if k not in _FREE
            }:
                raise ValueError("the vectorizers of an n-gram union must preprocess alike")
        low = min(v.ngram_range[0] for v in vectorizers)
        high = max(v.ngram_range[1] for v in vectorizers)
        analysis = {k: x for k, x in first.items() if k not in _FREE}
        self._analyze = CountVectorizer(**analysis, ngram_range=(low, high)).build_analyzer()
        vocabs = [_vocabulary(v) for v in vectorizers]
        self._columns: list[np.ndarray] = []
        self.union: dict[str, int] = {}
        if len(vocabs) == 1:  # its own vocabulary is the union (no copy)
            self.union = vocabs[0]
            self._columns.append(np.arange(len(self.union), dtype=np.int64))
        for vocab in vocabs if len(vocabs) > 1 else []:
            for term in vocab:
                self.union.setdefault(term, len(self.union))
        for vocab in vocabs if len(vocabs) > 1 else []:
            column = np.full(len(self.union), -1, dtype=np.int64)
            column[np.fromiter((self.union[t] for t in vocab), np.int64, len(vocab))] = np.fromiter(
                vocab.values(), np.int64, len(vocab)
            )
            self._columns.append(column)
        self._widths = [len(vocab) for vocab in vocabs]
        self._dtypes: list[Any] = [v.dtype for v in vectorizers]

    def counts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The texts' n-grams found in the union: (row, union id, count) triples, sorted by
        row then id (int64, int64, int64)."""
        get = self.union.get
        n = len(self.union)
        keys: list[int] = []
        for row, text in enumerate(texts):
            base = row * n
            keys.extend(base + u for u in map(get, self._analyze(text)) if u is not None)
        found, counts = np.unique(np.asarray(keys, dtype=np.int64), return_counts=True)
        rows, ids = np.divmod(found, n)
        return rows, ids, counts

    def columns(self, k: int) -> np.ndarray:
        """Union id → column of vectorizer ``k`` (-1 where its vocabulary lacks the n-gram)."""
        return self._columns[k]

    def width(self, k: int) -> int:
        """The vocabulary size of vectorizer ``k`` (its matrix's columns)."""
        return self._widths[k]

    def transform(self, texts: Sequence[str]) -> list[sp.csr_matrix]:
        """One count matrix per vectorizer, in the order given."""
        rows, ids, counts = self.counts(texts)
        out = []
        for column, width, dtype in zip(self._columns, self._widths, self._dtypes, strict=True):
            cols = column[ids]
            keep = cols >= 0
            r, c, v = rows[keep], cols[keep], counts[keep]
            order = np.lexsort((c, r))  # rows in order, columns sorted within each row
            indptr = np.zeros(len(texts) + 1, dtype=np.int32)
            np.cumsum(np.bincount(r, minlength=len(texts)), out=indptr[1:])
            out.append(
                sp.csr_matrix(
                    (v[order].astype(dtype), c[order].astype(np.int32), indptr),
                    shape=(len(texts), width),
                )
            )
        return out
