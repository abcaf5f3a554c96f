"""Quanzi's Chinese tokenizer: character-level WordPiece learnt from the shared corpora.

No pretrained Chinese vocabulary can be downloaded here, so the encoder brings its own.
Chinese is split into single characters (as BERT-Chinese does); Latin words and digits
become WordPiece sub-words. Full-width forms are folded by NFKC and Latin is lower-cased,
so the same review typed on a phone or a PC maps to the same ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def build_tokenizer(
    texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 3
) -> PreTrainedTokenizerFast:
    """Learn a character-level WordPiece vocabulary from ``texts`` (train split only)."""
    if vocab_size < len(SPECIAL_TOKENS) + 10:
        raise ValueError(f"vocab_size={vocab_size} is too small; use at least 100")
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=64))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.NFKC(),
            # handle_chinese_chars puts spaces around every CJK character: one token each.
            normalizers.BertNormalizer(
                clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True
            ),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )


def unknown_rate(tokenizer: PreTrainedTokenizerFast, texts: Sequence[str]) -> float:
    """Share of non-special tokens that are ``[UNK]`` over ``texts`` (held-out text)."""
    unk = tokenizer.unk_token_id
    n_tokens = n_unk = 0
    for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
        n_tokens += len(ids)
        n_unk += sum(1 for i in ids if i == unk)
    return n_unk / max(n_tokens, 1)
