"""``quanzi index …`` (rebuild, stats) and ``quanzi bench index``: the FAISS vector index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from quanzi.cli_groups import app, bench_app, fail

index_app = typer.Typer(
    help="The FAISS vector index: rebuild from the store, stats.", no_args_is_help=True
)
app.add_typer(index_app, name="index")

VersionOpt = Annotated[
    str,
    typer.Option("--encoder-version", "-e", help="Encoder version whose vectors the index holds."),
]


def _progress(total: int, desc: str):  # type: ignore[no-untyped-def]
    """A tqdm bar's update function (bars close when the process ends)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="vec", dynamic_ncols=True).update


def _read_ids(path: Path) -> list[str]:
    if not path.is_file():
        raise fail(f"ids file {path} does not exist (one post id per line)")
    ids = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [pid for pid in ids if pid]


def _read_vectors(path: Path):  # type: ignore[no-untyped-def]
    import numpy as np

    if not path.is_file():
        raise fail(f"vectors file {path} does not exist (a .npy float matrix, one row per id)")
    try:
        vectors = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise fail(f"{path} is not a .npy array ({exc})") from exc
    if vectors.ndim != 2 or not np.issubdtype(vectors.dtype, np.floating):
        raise fail(
            f"{path} holds a {vectors.dtype} array of shape {vectors.shape}; "
            "expected a 2-D float matrix (posts × dims)"
        )
    return vectors


@index_app.command("rebuild")
def rebuild(
    encoder_version: VersionOpt,
    vectors: Annotated[
        Path | None,
        typer.Option(help="Optional .npy matrix of vectors to store first (rows match --ids)."),
    ] = None,
    ids: Annotated[
        Path | None, typer.Option(help="Text file of post ids, one per line, matching --vectors.")
    ] = None,
) -> None:
    """Rebuild the index of ENCODER_VERSION from the store's posts and save it atomically."""
    import importlib.util

    from sqlalchemy.exc import SQLAlchemyError

    from quanzi.models.index import IndexConfig, StoreReader, configure_threads, save_index
    from quanzi.models.index.rebuild import (
        embed_missing,
        import_vectors,
        posts_without_embedding,
        rebuild_from_store,
    )
    from quanzi.settings import Settings
    from quanzi.storage.db import engine_from_settings

    if (vectors is None) != (ids is None):
        raise fail("--vectors and --ids go together (a matrix and its row ids)")
    settings = Settings()
    settings.ensure_dirs()
    configure_threads(settings)
    engine = engine_from_settings(settings)
    try:
        if vectors is not None and ids is not None:
            matrix, id_list = _read_vectors(vectors), _read_ids(ids)
            if len(matrix) != len(id_list):
                raise fail(f"{vectors} has {len(matrix)} rows but {ids} has {len(id_list)} ids")
            unknown = import_vectors(
                engine, encoder_version, id_list, matrix, _progress(len(id_list), "store vectors")
            )
            if unknown == len(id_list):
                raise fail(
                    f"none of the {len(id_list)} ids in {ids} is a post in the store; "
                    "load the posts first (quanzi world load …)"
                )
            if unknown:
                typer.echo(f"skipped {unknown} ids that are not posts in the store")
        missing = posts_without_embedding(engine, encoder_version)
        if missing and importlib.util.find_spec("quanzi.models.encoder") is not None:
            from quanzi.models.encoder import embed_texts, load_encoder

            try:
                encoder = load_encoder(settings)
            except (FileNotFoundError, ValueError) as exc:
                raise fail(f"{len(missing)} posts need embedding but {exc}") from exc
            embed_missing(
                engine,
                encoder_version,
                lambda texts: embed_texts(encoder, texts),
                _progress(len(missing), "embed posts"),
            )
        elif missing:
            typer.echo(
                f"warning: {len(missing)} posts have no embedding for "
                f"{encoder_version!r} and are left out (no encoder module to embed "
                "them; pass --vectors/--ids)",
                err=True,
            )
        reader = StoreReader(engine, encoder_version)
        n = len(reader.indexable())
        index = rebuild_from_store(
            reader,
            IndexConfig.from_settings(settings),
            dim=matrix.shape[1] if vectors is not None else None,
            progress=_progress(n, "index"),
            fetch_progress=_progress(n, "read vectors"),
        )
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise fail(f"cannot read the store: {reason}; run `quanzi db upgrade` first") from exc
    except ValueError as exc:
        raise fail(str(exc)) from exc
    manifest = save_index(index, settings.index_dir)
    stats = index.stats()
    typer.echo(
        f"index {encoder_version}: {stats['count']} posts, {stats['kind']}, "
        f"dim {stats['dim']}, log position {stats['log_seq']} → {manifest.parent}"
    )


@index_app.command("stats")
def stats(
    encoder_version: Annotated[
        str | None,
        typer.Option(
            "--encoder-version", "-e", help="Only this version (default: every saved index)."
        ),
    ] = None,
) -> None:
    """Show each saved index: type, posts, tombstones, dim, size on disk, log position."""
    from rich.console import Console
    from rich.table import Table

    from quanzi.models.index import IndexLoadError
    from quanzi.models.index.persistence import read_manifest
    from quanzi.settings import Settings

    settings = Settings()
    root = settings.index_dir
    versions = (
        [encoder_version]
        if encoder_version
        else sorted(p.name for p in root.glob("*") if p.is_dir())
        if root.is_dir()
        else []
    )
    if not versions:
        raise fail(f"no index under {root}; run `quanzi index rebuild -e VERSION`", code=1)
    table = Table(title=f"Vector indexes in {root}")
    for col in (
        "encoder version",
        "type",
        "posts",
        "tombstones",
        "dim",
        "MiB on disk",
        "log position",
        "saved",
    ):
        table.add_column(col)
    errors = []
    for version in versions:
        try:
            m = read_manifest(root, version)
        except IndexLoadError as exc:
            errors.append(str(exc))
            continue
        size = sum(
            (root / version / f["name"]).stat().st_size
            for f in m["files"].values()
            if (root / version / f["name"]).exists()
        )
        table.add_row(
            version,
            m["index_type"],
            str(m.get("count")),
            str(m.get("tombstones")),
            str(m["dim"]),
            f"{size / 2**20:.1f}",
            str(m.get("log_seq")),
            str(m.get("saved_at")),
        )
    Console().print(table)
    for message in errors:
        typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    if errors:
        raise typer.Exit(1)


@bench_app.command("index")
def bench_index(
    n: Annotated[int, typer.Option(min=1_000, help="Vectors in the index.")] = 1_000_000,
    dim: Annotated[int, typer.Option(min=8, max=4096, help="Dimensions.")] = 256,
    queries: Annotated[int, typer.Option(min=10, help="Query vectors.")] = 1_000,
    m: Annotated[int, typer.Option("--m", min=4, max=128, help="HNSW degree M.")] = 32,
    ef_construction: Annotated[int, typer.Option(min=8, help="HNSW efConstruction.")] = 64,
    ef_search: Annotated[
        str, typer.Option(help="efSearch values to sweep, comma-separated.")
    ] = "64,96,128,192,256",
    build_threads: Annotated[int, typer.Option(min=1, help="Threads for the build.")] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data.")] = 0,
    json_out: Annotated[Path | None, typer.Option(help="Write all figures as JSON here.")] = None,
) -> None:
    """Recall@10 vs exact and ms/query on one thread, with 10% of posts deleted (synthetic)."""
    from quanzi.evaluation.index_bench import IndexBenchConfig, run_index_bench

    try:
        efs = tuple(int(v) for v in ef_search.split(",") if v.strip())
    except ValueError as exc:
        raise fail(f"--ef-search must be integers separated by commas, got {ef_search!r}") from exc
    if not efs or min(efs) < 1:
        raise fail("--ef-search needs at least one positive value")
    cfg = IndexBenchConfig(
        n=n,
        dim=dim,
        queries=queries,
        hnsw_m=m,
        ef_construction=ef_construction,
        ef_search=efs,
        build_threads=build_threads,
        seed=seed,
    )
    result = run_index_bench(cfg, progress=_progress, log=typer.echo)
    chosen = result["chosen"]
    typer.echo(
        f"chosen efSearch {chosen['ef_search']}: recall@10 {chosen['recall']:.4f} at "
        f"{chosen['ms_mean']:.3f} ms/query (one thread); build {result['build_s']:.0f} s; "
        f"index RSS {result['rss_index_mib']:.0f} MiB; target "
        f"{'met' if result['target_met'] else 'NOT met'}"
    )
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
