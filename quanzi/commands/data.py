"""``quanzi data …``: the shared corpora (stats, data cards); ``quanzi bench normalize``."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from quanzi.cli_groups import bench_app, data_app, fail

if TYPE_CHECKING:
    import pandas as pd


def _corpus_names(name: str | None) -> list[str]:
    from quanzi.datasets.corpora import CORPORA

    if name is None:
        return list(CORPORA)
    if name not in CORPORA:
        raise fail(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")
    return [name]


def _load_with_progress(names: list[str], corpora_dir: Path) -> dict[str, pd.DataFrame]:
    """Load corpora with a progress bar (the first load normalises; later ones hit the cache)."""
    from rich.progress import Progress

    from quanzi.datasets.datacards import load_all

    with Progress(transient=True) as progress:
        task = progress.add_task("loading corpora", total=len(names))
        try:
            return load_all(
                corpora_dir,
                names,
                on_loaded=lambda n: progress.update(task, advance=1, description=f"loaded {n}"),
            )
        except (FileNotFoundError, ValueError) as exc:
            raise fail(str(exc)) from None


@data_app.command("stats")
def data_stats(
    name: str | None = typer.Argument(None, help="One corpus (default: all of them)."),
) -> None:
    """Print sizes, labels, splits, duplicates and lengths; with NAME, its details too."""
    from rich.console import Console
    from rich.table import Table

    from quanzi.datasets.corpora import CORPORA
    from quanzi.datasets.datacards import corpus_stats
    from quanzi.settings import Settings

    names = _corpus_names(name)
    corpora_dir = Settings().corpora_dir
    # Overlaps with other corpora need them all loaded (cheap once cached).
    frames = _load_with_progress(list(CORPORA), corpora_dir)
    console = Console()
    if not console.is_terminal:  # piped: rich would assume 80 columns and truncate
        console.width = 120
    table = Table(title=f"Corpora in {corpora_dir}")
    table.add_column("corpus", no_wrap=True)
    for col in (
        "rows",
        "label=1",
        "train",
        "dev",
        "test",
        "dup",
        "dup norm",
        "cross-split",
        "len p10/50/90",
    ):
        table.add_column(col, justify="right")
    all_stats = {n: corpus_stats(n, frames, corpora_dir) for n in names}
    for n, st in all_stats.items():
        splits = {s: sum(c.values()) for s, c in st["splits"].items()}
        table.add_row(
            n,
            str(st["rows"]),
            f"{100 * st['labels'].get(1, 0) / st['rows']:.1f}%",
            str(splits["train"]),
            str(splits["dev"]),
            str(splits["test"]),
            str(st["exact_dup_rows"]),
            str(st["norm_dup_rows"]),
            str(st["cross_split_norm_texts"]),
            "/".join(str(st["length"][q]) for q in (10, 50, 90)),
        )
    console.print(table)
    console.print(
        "dup: rows beyond the first copy of a text (exact / normalised); "
        "cross-split: normalised texts in more than one split; len in characters"
    )
    if name is None:
        return
    st = all_stats[name]
    console.print(
        f"label: {CORPORA[name].label_meaning}; label conflicts among normalised "
        f"duplicates: {st['norm_label_conflicts']}"
    )
    cats = Table(title=f"{name}: categories")
    for col in ("category", "rows", "label 1 share"):
        cats.add_column(col, justify="left" if col == "category" else "right")
    for cat, n_rows, pos in st["categories"]:
        cats.add_row(cat, str(n_rows), f"{100 * pos:.1f}%")
    console.print(cats)
    facts = Table(title=f"{name}: overlaps and normalisation")
    facts.add_column("fact")
    facts.add_column("value", justify="right")
    for other, shared in st["overlap"].items():
        facts.add_row(f"normalised texts shared with {other}", str(shared))
    for key in (
        "changed_by_norm",
        "fullwidth_rows",
        "invisible_rows",
        "traditional_rows",
        "replacement_char_rows",
        "bom_rows",
    ):
        facts.add_row(key.replace("_", " "), str(st[key]))
    for key, value in st["extra"].items():
        facts.add_row(key, str(value))
    console.print(facts)


@data_app.command("cards")
def data_cards(
    out: Path | None = typer.Option(
        None, help="Folder for the cards (default: datasets/cards in the source tree)."
    ),
    name: list[str] | None = typer.Option(None, help="Only these corpora (repeatable)."),
) -> None:
    """Re-measure every corpus and (re)write its data card from the template."""
    from rich.progress import Progress

    from quanzi.datasets.corpora import CORPORA
    from quanzi.datasets.datacards import CARDS_DIR, write_cards
    from quanzi.settings import Settings

    names = [n for given in name for n in _corpus_names(given)] if name else list(CORPORA)
    corpora_dir = Settings().corpora_dir
    frames = _load_with_progress(list(CORPORA), corpora_dir)
    out_dir = out or CARDS_DIR
    with Progress() as progress:
        task = progress.add_task("measuring and writing cards", total=len(names))
        try:
            written = write_cards(
                out_dir,
                corpora_dir,
                frames,
                names,
                on_written=lambda p: progress.update(task, advance=1),
            )
        except OSError as exc:
            raise fail(f"cannot write the cards to {out_dir}: {exc}") from None
    for path in written:
        typer.echo(f"wrote {path}")


@data_app.command("which-datasets", hidden=True)
def which_datasets() -> None:
    """Print where `import datasets` resolves (must never be this repository's folder)."""
    spec = importlib.util.find_spec("datasets")
    typer.echo("not installed" if spec is None else str(spec.origin))


@bench_app.command("normalize")
def bench_normalize(
    corpus: str = typer.Option("online_shopping", help="Corpus whose texts are normalised."),
    n: int = typer.Option(5000, min=1, help="Texts to time (a fixed sample)."),
) -> None:
    """Normalisation speed in characters/s: fast path, offsets path and bare OpenCC t2s."""
    from opencc import OpenCC

    from quanzi.datasets.corpora import CORPORA, _read
    from quanzi.datasets.normalize import normalize, normalize_with_offsets, warm_up
    from quanzi.settings import Settings

    _corpus_names(corpus)
    spec = CORPORA[corpus]
    try:
        raw = _read(spec, Settings().corpora_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(str(exc)) from None
    texts = raw[spec.text_column].sample(min(n, len(raw)), random_state=0).tolist()
    chars = sum(map(len, texts))
    warm_up()
    normalize_with_offsets("預熱é")
    opencc = OpenCC("t2s")
    for label, fn, subset in (
        ("normalize", normalize, texts),
        ("normalize_with_offsets", normalize_with_offsets, texts),
        ("opencc t2s alone (pure Python)", opencc.convert, texts[: max(1, len(texts) // 10)]),
    ):
        n_chars = sum(map(len, subset))
        start = time.perf_counter()
        for text in subset:
            fn(text)
        seconds = time.perf_counter() - start
        typer.echo(
            f"{label:32s} {n_chars / seconds:>12,.0f} chars/s "
            f"{len(subset) / seconds:>10,.0f} texts/s"
        )
    typer.echo(f"({len(texts)} {corpus} texts, {chars / len(texts):.0f} chars on average)")
