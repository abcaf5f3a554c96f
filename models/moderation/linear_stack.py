"""Every moderation label's logit from one n-gram analysis, without building any matrix.

Why: a label's classifier (``linear.py``) scores a text as
``Σ tf(c_j)·s_j·w_j / ‖(tf(c_j)·s_j)_j‖ + b`` over its n-grams j (count c, idf or NB
weight s, coefficient w). Built as scipy matrices, that is an hstack, a copy, a scaling and
a normalisation per label: eight labels cost about 1.3 ms a batch of fixed overhead, the
larger part of moderation's cost in the small batches of one-post ingest. Here the weights
are folded once per n-gram of the union vocabulary (``models/ngram_union.py``): for each
label, ``s·w`` and ``s²`` (summed over the label's blocks when an n-gram is in two), so a
batch is one lookup of the n-grams found and two weighted sums per label. The logits are
the classifiers' own (``tests/models/test_linear_stack.py``: within float rounding).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from quanzi.models.moderation.linear import LinearTextClassifier
from quanzi.models.ngram_union import NgramUnion


class LinearStack:
    """The logits of several ``LinearTextClassifier``s over one ``NgramUnion``."""

    def __init__(self, union: NgramUnion, classifiers: Mapping[str, LinearTextClassifier]) -> None:
        self.union = union
        self.labels = list(classifiers)
        n = len(union.union)
        # Σ s·w and Σ s² per union n-gram and label (float32: ≈ 40 MB for 600k n-grams)
        self._weighted = np.zeros((n, len(self.labels)), dtype=np.float32)
        self._squares = np.zeros((n, len(self.labels)), dtype=np.float32)
        self._binary = np.zeros(len(self.labels), dtype=bool)
        self._intercepts = np.zeros(len(self.labels))
        k = 0  # the union's vectorizers are the classifiers' blocks, in order
        for j, classifier in enumerate(classifiers.values()):
            if classifier.coef is None or classifier.scale is None:
                raise ValueError("every classifier of a stack must be fitted")
            offset = 0
            for _ in classifier.vectorizers:
                column = union.columns(k)
                present = column >= 0
                at = column[present] + offset
                scale = classifier.scale[at].astype(np.float64)
                self._weighted[present, j] += scale * classifier.coef[at]
                self._squares[present, j] += scale * scale
                offset += union.width(k)
                k += 1
            self._binary[j] = classifier.config.tf == "binary"
            self._intercepts[j] = classifier.intercept

    def logits(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Per label, the (n,) logits of the (normalised) ``texts``."""
        rows, ids, counts = self.union.counts(texts)
        n = len(texts)
        tf = np.where(self._binary[None, :], 1.0, 1.0 + np.log(counts)[:, None])
        weighted = tf * self._weighted[ids].astype(np.float64)
        squares = tf * tf * self._squares[ids].astype(np.float64)
        out = {}
        for j, label in enumerate(self.labels):
            num = np.bincount(rows, weighted[:, j], minlength=n)
            norm = np.sqrt(np.bincount(rows, squares[:, j], minlength=n))
            norm[norm == 0] = 1.0  # a text without known n-grams: its logit is the intercept
            out[label] = num / norm + self._intercepts[j]
        return out
