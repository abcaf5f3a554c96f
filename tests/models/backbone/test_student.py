"""Cutting a student from the backbone: layers kept, vocabulary pruned, text unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from quanzi_tests.tiny_e5 import SENTENCES, write_tiny_e5
from sentence_transformers import SentenceTransformer

from quanzi.models.backbone.student import build_student, prune_unigram


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_e5(tmp_path_factory.mktemp("tiny-e5"))[1]


def test_pruning_keeps_the_segmentation_of_the_texts_it_saw(converted: Path) -> None:
    full = SentenceTransformer(str(converted), device="cpu").tokenizer
    texts = SENTENCES[:3]
    pruned, kept = prune_unigram(full.backend_tokenizer, texts)
    assert pruned.get_vocab_size() < full.backend_tokenizer.get_vocab_size()
    for text in texts:
        old = full.backend_tokenizer.encode(text)
        new = pruned.encode(text)
        assert new.tokens == old.tokens
        assert [int(kept[i]) for i in new.ids] == old.ids  # ids map back to the originals


def test_student_keeps_the_chosen_layers_and_its_embeddings_follow_the_pruning(
    converted: Path,
) -> None:
    full = SentenceTransformer(str(converted), device="cpu")
    student = build_student(str(converted), [1], 64, SENTENCES[:3])
    bert = student[0].auto_model
    assert len(bert.encoder.layer) == 1
    full_bert = full[0].auto_model
    # layer 1 of the backbone is the student's only layer, unchanged
    np.testing.assert_array_equal(
        bert.encoder.layer[0].attention.self.query.weight.detach().numpy(),
        full_bert.encoder.layer[1].attention.self.query.weight.detach().numpy(),
    )
    tok = student.tokenizer
    piece = "物流"
    new_id, old_id = tok.convert_tokens_to_ids(piece), full.tokenizer.convert_tokens_to_ids(piece)
    np.testing.assert_array_equal(
        bert.embeddings.word_embeddings.weight[new_id].detach(),
        full_bert.embeddings.word_embeddings.weight[old_id].detach(),
    )
    vec = student.encode(["物流很快"])
    assert vec.shape == (1, 64) and np.isclose(np.linalg.norm(vec), 1, atol=1e-5)


def test_student_rejects_layers_the_backbone_lacks(converted: Path) -> None:
    with pytest.raises(ValueError, match="subset"):
        build_student(str(converted), [0, 7], 64, None)
