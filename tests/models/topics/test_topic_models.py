"""Tags, centroid assignment and discovery naming."""

from __future__ import annotations

import numpy as np
import pytest

from quanzi.models.topics.assignment import TopicCentroids, lexical_vectors
from quanzi.models.topics.discovery import ctfidf_keywords
from quanzi.models.topics.tags import InvalidTag, parse_tags, post_tags


def test_parse_tags_reads_half_and_full_width_and_skips_overlong() -> None:
    text = "今天#续航#实测 ＃拍照＃ #" + "长" * 31 + "# #a b#"
    assert parse_tags(text) == ["续航", "拍照"]


def test_post_tags_refuses_a_10000_character_tag() -> None:
    with pytest.raises(InvalidTag, match="at most 30"):
        post_tags("", ["长" * 10_000])


def test_assignment_needs_the_threshold() -> None:
    vecs = np.eye(3, dtype=np.float32)
    cents = TopicCentroids.from_members([7, 8], vecs[:2], [7, 8])
    q = np.array([[0.9, 0.1, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    ids, _ = cents.assign(q, threshold=0.5)
    assert ids == [7, None]


def test_ctfidf_names_clusters_by_their_own_words() -> None:
    kw = ctfidf_keywords(
        [["电池续航很好，续航一天", "续航给力电池耐用"], ["拍照清楚像素高", "拍照效果好像素不错"]]
    )
    assert kw[0][0] == "续航" and kw[1][0] == "拍照"


def test_the_lexical_side_of_the_blend_decides_when_the_encoder_cannot() -> None:
    # an encoder that sees every post alike: only the char n-grams tell the topics apart
    members = ["#续航# 电池续航一天", "续航很好电池耐用", "拍照清楚夜景好", "拍照像素高"]
    flat = np.ones((4, 3), dtype=np.float32) / np.sqrt(3)
    lex = lexical_vectors(members)
    cents = TopicCentroids.from_members([1, 2], flat, [1, 1, 2, 2], lex, encoder_weight=0.5)
    posts = ["电池续航怎么样", "夜景拍照清楚吗"]
    ids, _ = cents.assign(flat[:2], threshold=0.0, lexical=lexical_vectors(posts))
    assert ids == [1, 2]
    encoder_only, _ = TopicCentroids.from_members([1, 2], flat, [1, 1, 2, 2]).assign(flat[:2], 0.0)
    assert encoder_only == [1, 1]  # a tie: the first topic, whatever the post says


def test_lexical_vectors_ignore_the_tag_markup() -> None:
    a, b = lexical_vectors(["#续航# 电池很好", "电池很好"]).toarray()
    assert np.allclose(a, b)
