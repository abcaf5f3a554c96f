"""A smaller encoder cut from the backbone: chosen layers, a vocabulary pruned to our text.

multilingual-e5-small spends 96 M of its 118 M parameters on a 250k-piece vocabulary for
~100 languages; Quanzi's posts use a few tens of thousands of those pieces. The student
keeps the pieces that tokenising the training corpora actually produces, plus every
single-character piece of the scripts those corpora use (so unseen text still tokenises
to pieces rather than ``<unk>``), and a subset of the transformer layers. Segmentation of
the corpora is unchanged by the pruning: the best path only ever used kept pieces.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import (
    Dense,
    Normalize,
    Pooling,
    Transformer,
)
from tokenizers import Tokenizer
from transformers import BertModel, PreTrainedTokenizerFast


def used_piece_ids(tokenizer: Tokenizer, texts: Iterable[str], batch: int = 2048) -> set[int]:
    """Every piece id the tokenizer emits on ``texts`` (specials included)."""
    used: set[int] = set()
    chunk: list[str] = []
    for text in texts:
        chunk.append(text)
        if len(chunk) == batch:
            used.update(i for enc in tokenizer.encode_batch(chunk) for i in enc.ids)
            chunk = []
    if chunk:
        used.update(i for enc in tokenizer.encode_batch(chunk) for i in enc.ids)
    return used


def _scripts_of(texts: Iterable[str]) -> set[int]:
    """Unicode blocks (codepoint // 256) of the characters in ``texts``."""
    return {ord(c) >> 8 for t in texts for c in t}


def prune_unigram(tokenizer: Tokenizer, texts: Sequence[str]) -> tuple[Tokenizer, np.ndarray]:
    """A Unigram tokenizer with only the pieces ``texts`` need, and the kept old ids.

    Kept: special tokens, pieces used on ``texts``, and single-character pieces (with or
    without the ``▁`` marker) in the Unicode blocks the texts use.
    """
    spec = json.loads(tokenizer.to_str())
    if spec["model"]["type"] != "Unigram":
        raise ValueError(
            "vocabulary pruning supports SentencePiece-unigram tokenizers only "
            f"(this one is {spec['model']['type']}); set prune_vocab=false"
        )
    vocab = spec["model"]["vocab"]
    keep = used_piece_ids(tokenizer, texts)
    keep.update(t["id"] for t in spec["added_tokens"])
    blocks = _scripts_of(texts)
    for i, (piece, _) in enumerate(vocab):
        core = piece[1:] if piece.startswith("▁") else piece
        if len(core) == 1 and (ord(core) >> 8) in blocks:
            keep.add(i)
    kept = np.array(sorted(keep), dtype=np.int64)
    remap = {int(old): new for new, old in enumerate(kept)}
    spec["model"]["vocab"] = [vocab[i] for i in kept]
    spec["model"]["unk_id"] = remap[spec["model"]["unk_id"]]
    for tok in spec["added_tokens"]:
        tok["id"] = remap[tok["id"]]
    post = spec.get("post_processor") or {}
    for special in (post.get("special_tokens") or {}).values():
        special["ids"] = [remap[i] for i in special["ids"]]
    return Tokenizer.from_str(json.dumps(spec)), kept


def cut_layers(bert: BertModel, layers: Sequence[int]) -> BertModel:
    """Keep only ``layers`` (in order) of ``bert``'s encoder."""
    n = len(bert.encoder.layer)
    bad = [i for i in layers if not 0 <= i < n]
    if bad or not layers:
        raise ValueError(f"layers {list(layers)} must be a non-empty subset of 0..{n - 1}")
    bert.encoder.layer = torch.nn.ModuleList([bert.encoder.layer[i] for i in layers])
    bert.config.num_hidden_layers = len(layers)
    return bert


def build_student(
    backbone: str,
    layers: Sequence[int],
    max_seq_length: int,
    prune_texts: Sequence[str] | None,
    output_dim: int | None = None,
) -> SentenceTransformer:
    """transformer (cut, pruned) → mean pooling → [dense to ``output_dim``] → normalise.

    The student embeds raw text, without the backbone's prompts: it learns the teacher's
    prompted vectors directly, which saves the prompt's tokens on every post.
    """
    source = SentenceTransformer(backbone, device="cpu")
    transformer = source[0]
    bert = transformer.auto_model
    if not isinstance(bert, BertModel):
        raise ValueError(
            f"the student is cut from a BERT encoder; {backbone} holds {type(bert).__name__}"
        )
    fast = transformer.tokenizer
    if prune_texts is not None:
        pruned, kept = prune_unigram(fast.backend_tokenizer, prune_texts)
        old = bert.embeddings.word_embeddings.weight.data
        bert.resize_token_embeddings(len(kept))
        bert.embeddings.word_embeddings.weight.data = old[torch.from_numpy(kept)].clone()
        bert.config.vocab_size = len(kept)
        bert.config.pad_token_id = pruned.token_to_id(fast.pad_token)
        fast = PreTrainedTokenizerFast(
            tokenizer_object=pruned,
            bos_token=fast.bos_token,
            eos_token=fast.eos_token,
            cls_token=fast.cls_token,
            sep_token=fast.sep_token,
            pad_token=fast.pad_token,
            unk_token=fast.unk_token,
            mask_token=fast.mask_token,
            model_max_length=max_seq_length,
        )
    cut_layers(bert, layers)
    with tempfile.TemporaryDirectory(prefix="quanzi-student-") as tmp:
        bert.save_pretrained(tmp)
        fast.save_pretrained(tmp)
        student_tf = Transformer(tmp, max_seq_length=max_seq_length)
    hidden = bert.config.hidden_size
    modules: list[torch.nn.Module] = [student_tf, Pooling(hidden, "mean")]
    if output_dim and output_dim != hidden:
        modules.append(Dense(hidden, output_dim, activation_function=torch.nn.Identity()))
    modules.append(Normalize())
    return SentenceTransformer(modules=modules, device="cpu")
