"""Assign a post to a circle's topic: the nearest topic centroid on a blend of the shared
encoder's cosine and a char-bigram lexical cosine, if the blend clears a threshold (else
no topic).

Why a blend: topics are named by the words their posts share (#续航#, #拍照#), which a
char n-gram centroid catches and the small encoder blurs; the encoder catches the
paraphrases. The lexical side is a stateless hashing vectoriser (no vocabulary to fit or
ship), so assigning a post at ingest is one hashing pass and two small matrix products.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

from quanzi.models.topics.tags import TAG_RE

# Weight of the encoder's cosine in the blend (the lexical cosine gets the rest), and the
# blended score below which a post gets no topic. Both chosen on the demo world's dev
# posts (tagged posts outside the held-out part, split again by hash), never on the
# held-out ones: ``quanzi eval qa`` prints the sweep (``topic_assignment.dev_sweep``).
# The threshold is the 5th percentile of the dev posts' best blended score: a post
# farther from every topic than 95 % of on-topic posts gets none.
DEFAULT_ENCODER_WEIGHT = 0.5
DEFAULT_THRESHOLD = 0.53  # 0.52 with the encoder before the same-category term (README)
ENCODER_ONLY_THRESHOLD = 0.80  # the same rule on the encoder's cosine alone (no lexical)
LEXICAL_FEATURES = 2**18

_hasher = HashingVectorizer(
    analyzer="char",
    ngram_range=(1, 2),
    n_features=LEXICAL_FEATURES,
    alternate_sign=False,
    norm=None,
)


def lexical_vectors(texts: Sequence[str]) -> sp.csr_matrix:
    """(n, LEXICAL_FEATURES) sparse: char 1–2-gram counts, sublinear, L2-normalised, of
    the texts without their ``#tag#`` markup (a tagged member's own tag name would make
    its topic's centroid look nothing like the untagged posts it is meant to catch)."""
    x = _hasher.transform([TAG_RE.sub(" ", t).strip() for t in texts]).astype(np.float32)
    x.data = 1.0 + np.log(x.data)
    return normalize(x, copy=False).tocsr()


@dataclass(frozen=True)
class TopicCentroids:
    """Unit centroids of ``k`` topics in ``topic_ids`` order: ``matrix`` (k, d) on the
    encoder, ``lexical`` (k, LEXICAL_FEATURES) sparse on char n-grams (None: encoder only)."""

    topic_ids: tuple[int, ...]
    matrix: np.ndarray  # (k, d) float32, rows L2-normalised
    lexical: sp.csr_matrix | None = None
    encoder_weight: float = DEFAULT_ENCODER_WEIGHT

    @classmethod
    def from_members(
        cls,
        topic_ids: Sequence[int],
        vectors: np.ndarray,
        labels: Sequence[int],
        lexical: sp.csr_matrix | None = None,
        encoder_weight: float = DEFAULT_ENCODER_WEIGHT,
    ) -> TopicCentroids:
        """Centroids of each topic's member vectors (``labels[i]`` is row i's topic);
        ``lexical`` holds the same rows' ``lexical_vectors`` when the blend is wanted."""
        labels_arr = np.asarray(labels)
        keep: list[int] = []
        rows: list[np.ndarray] = []
        lex_rows: list[sp.csr_matrix] = []
        for tid in topic_ids:
            mask = labels_arr == tid
            if not mask.any():
                continue
            mean = vectors[mask].mean(axis=0)
            rows.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
            if lexical is not None:
                lex_rows.append(sp.csr_matrix(lexical[np.flatnonzero(mask)].mean(axis=0)))
            keep.append(int(tid))
        dim = vectors.shape[1] if vectors.ndim == 2 else 0
        matrix = np.array(rows, dtype=np.float32).reshape(len(rows), dim)
        lex = None
        if lexical is not None:
            lex = (
                normalize(sp.vstack(lex_rows).astype(np.float32)).tocsr()
                if lex_rows
                else sp.csr_matrix((0, LEXICAL_FEATURES), dtype=np.float32)
            )
        return cls(tuple(keep), matrix, lex, encoder_weight)

    def __len__(self) -> int:
        return len(self.topic_ids)

    def scores(self, vectors: np.ndarray, lexical: sp.csr_matrix | None = None) -> np.ndarray:
        """(n, k) blended cosines (the encoder's alone without lexical on both sides)."""
        sims = vectors @ self.matrix.T
        if self.lexical is None or lexical is None:
            return sims
        lex = (lexical @ self.lexical.T).toarray()
        return self.encoder_weight * sims + (1.0 - self.encoder_weight) * lex

    def assign(
        self,
        vectors: np.ndarray,
        threshold: float = DEFAULT_THRESHOLD,
        lexical: sp.csr_matrix | None = None,
    ) -> tuple[list[int | None], np.ndarray]:
        """Each post's nearest topic id (None below ``threshold``) and its score; pass the
        posts' ``lexical_vectors`` to use the blend."""
        if len(self) == 0 or len(vectors) == 0:
            return [None] * len(vectors), np.zeros(len(vectors), dtype=np.float32)
        sims = self.scores(vectors, lexical)  # (n, k)
        best = sims.argmax(axis=1)
        score = sims[np.arange(len(vectors)), best]
        ids = [
            self.topic_ids[b] if s >= threshold else None for b, s in zip(best, score, strict=True)
        ]
        return ids, score.astype(np.float32)
