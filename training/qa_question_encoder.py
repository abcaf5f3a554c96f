"""Fine-tune the question encoder for similar-question retrieval (问大家): a
sentence-transformers model trained with ``MultipleNegativesRankingLoss`` on the
hand-written training triplets (``datasets/qa/train``: question, the same question in
other words, a different question on the same kind of product), in both directions
(question → paraphrase and back), the other rows of the batch as extra negatives.

The evaluation pairs (``datasets/qa/eval/pairs.jsonl``) are never trained on; the
settings below were chosen on their ``dev`` part only. A plain torch loop (no
``SentenceTransformerTrainer``: it needs ``datasets`` and ``accelerate``, which Quanzi
does not install) of a few epochs fits on the CPU in minutes."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
from tqdm import tqdm

from quanzi.datasets.qa.train_set import QuestionTriplet


@dataclass(frozen=True)
class QuestionEncoderConfig:
    epochs: int = 2
    lr: float = 2e-5  # dev pairs: 2 epochs at 2e-5 beat 5e-5 and category-only batches
    batch_size: int = 32
    seed: int = 0
    freeze_embeddings: bool = True  # the word table keeps the backbone's meanings

    def params(self) -> dict[str, str]:
        return {f"question_encoder_{k}": str(v) for k, v in asdict(self).items()}


def fit_question_encoder(
    base: str,
    triplets: Sequence[QuestionTriplet],
    cfg: QuestionEncoderConfig = QuestionEncoderConfig(),
    threads: int = 2,
) -> SentenceTransformer:
    """``base`` (a sentence-transformers folder) fine-tuned on ``triplets``; returned in
    eval mode. The model's own default prompt (e5's ``query: ``) is prepended as at use."""
    if not triplets:
        raise ValueError("no training triplets: datasets/qa/train/pairs.jsonl is empty")
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.seed)
    model = SentenceTransformer(base, device="cpu")
    prompt = (model.prompts or {}).get(model.default_prompt_name or "", "")
    if cfg.freeze_embeddings:
        model[0].auto_model.get_input_embeddings().weight.requires_grad_(False)
    loss_fn = MultipleNegativesRankingLoss(model, directions=("query_to_doc", "doc_to_query"))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr)
    # sentence-transformers ≥ 6.1 renamed tokenize → preprocess; accept both.
    tokenize = getattr(model, "preprocess", None) or model.tokenize
    rows = [(t.anchor, t.positive, t.negative) for t in triplets]
    rows += [(t.positive, t.anchor, t.negative) for t in triplets]
    rng = random.Random(cfg.seed)
    steps = cfg.epochs * -(-len(rows) // cfg.batch_size)
    model.train()
    with tqdm(total=steps, desc="question encoder", unit="batch") as bar:
        for _ in range(cfg.epochs):
            rng.shuffle(rows)
            for start in range(0, len(rows), cfg.batch_size):
                batch = rows[start : start + cfg.batch_size]
                features = [tokenize([prompt + r[c] for r in batch]) for c in range(3)]
                loss = loss_fn(features, None)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    return model
