"""The teacher cache computes each text once, persists, and returns vectors in input order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from quanzi.models.teacher_cache import HashingTeacher, TeacherCache


class CountingTeacher(HashingTeacher):
    def __init__(self) -> None:
        super().__init__(dim=8)
        self.seen: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        return super().encode(texts)


def test_each_text_is_sent_to_the_teacher_once_across_runs(tmp_path: Path) -> None:
    teacher = CountingTeacher()
    first = TeacherCache(tmp_path, teacher).vectors(["甲", "乙", "甲"])
    again = TeacherCache(tmp_path, teacher).vectors(["乙", "丙", "甲"])  # a new process, say
    assert teacher.seen == ["甲", "乙", "丙"]
    np.testing.assert_allclose(first[1], again[0], atol=1e-3)  # float16 on disk
    np.testing.assert_allclose(first[0], again[2], atol=1e-3)


def test_vectors_follow_input_order(tmp_path: Path) -> None:
    cache = TeacherCache(tmp_path, HashingTeacher(dim=8))
    texts = ["手机很好", "物流慢", "酒店干净"]
    expected = HashingTeacher(dim=8).encode(texts)
    np.testing.assert_allclose(cache.vectors(texts[::-1]), expected[::-1], atol=1e-3)
