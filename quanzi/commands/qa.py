"""``quanzi train qa``, ``quanzi eval qa``, ``quanzi bench qa``: the Q&A and topic models,
their targets beside baselines, and their speed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from quanzi.cli_groups import bench_app, fail, train_app
from quanzi.commands.ranking import eval_app

WorldOpt = Annotated[str, typer.Option(help="The world whose logs / tags are read.")]


def _embed(settings):  # type: ignore[no-untyped-def]
    from quanzi.models.encoder import embed_texts, load_encoder

    model = load_encoder(settings)
    return lambda texts: embed_texts(model, list(texts))


def _world(settings, world: str):  # type: ignore[no-untyped-def]
    from quanzi.datasets.world.qa_tables import read_qa_world

    try:
        return read_qa_world(settings, world)
    except FileNotFoundError as exc:
        raise fail(str(exc)) from exc


def ensure_qa_models(settings, world: str | None) -> None:  # type: ignore[no-untyped-def]
    """Train and promote the Q&A models once (bootstrap): skipped when ``quanzi-qa`` has a
    champion, or when there is no world to learn the ask-the-buyer ranker from."""
    from quanzi.models.champions import champion_version
    from quanzi.training.pipeline import train
    from quanzi.training.promotion import promote
    from quanzi.training.tasks_impl.qa import QATask

    if world is None or champion_version(settings, "qa") is not None:
        return
    started = time.perf_counter()
    trained = train(QATask(world=world), settings, small=False)
    promote(settings, "qa", reason="bootstrap: first Q&A models")
    typer.echo(
        f"Q&A models trained and promoted (quanzi-qa v{trained.version}) in "
        f"{time.perf_counter() - started:.0f} s: non-answer F1 "
        f"{trained.metrics['test_non_answer_f1']:.3f}, NDCG@3 "
        f"{trained.metrics['test_answer_ndcg3']:.3f}"
    )


def ensure_topic_assignment(settings) -> None:  # type: ignore[no-untyped-def]
    """Assign each brand circle's untagged posts to its topics once (bootstrap, after the
    backfill stored the vectors); a circle that already has assigned posts is skipped."""
    from sqlalchemy import select

    from quanzi.models.loading import encoder_version
    from quanzi.serving.editorial.topics import assign_untagged
    from quanzi.storage.db import settings_session
    from quanzi.storage.orm import Circle, PostTopic, Topic

    version = encoder_version(settings)
    with settings_session(settings) as session:
        assigned = set(
            session.scalars(
                select(Topic.circle_id)
                .join(PostTopic, PostTopic.topic_id == Topic.id)
                .where(PostTopic.source == "assigned")
            )
        )
        circles = session.scalars(select(Circle.id).where(Circle.kind == "brand")).all()
        n = sum(assign_untagged(session, c, version) for c in circles if c not in assigned)
    if n:
        typer.echo(f"topics: {n} untagged posts assigned to their circle's nearest topic")


@train_app.command("qa")
def train_qa_command(
    world: WorldOpt = "p5000-s7",
    small: Annotated[bool, typer.Option("--small", help="No encoder features (seconds).")] = False,
) -> None:
    """The answer model (non-answer + helpfulness) on the hand-written dev split and the
    ask-the-buyer ranker on the world's logged invites: one MLflow run, registered as
    quanzi-qa@challenger (promote with `quanzi promote quanzi-qa`)."""
    from mlflow.exceptions import MlflowException

    from quanzi.settings import Settings
    from quanzi.training.pipeline import TaskContractError, train
    from quanzi.training.tasks_impl.qa import QATask

    settings = Settings()
    try:
        trained = train(QATask(world=world), settings, small)
    except (FileNotFoundError, ValueError, TaskContractError, MlflowException) as exc:
        raise fail(f"train qa: {exc}") from exc
    shown = {k: round(v, 4) for k, v in trained.metrics.items() if k.startswith("test_")}
    typer.echo(
        f"registered quanzi-qa version {trained.version} as challenger (MLflow run "
        f"{trained.run_id}): {json.dumps(shown)}"
    )


def _qa_champion(settings):  # type: ignore[no-untyped-def]
    from quanzi.models.champions import load_champion

    predictor = load_champion(settings, "qa")
    if predictor is None:
        raise fail(
            "no quanzi-qa champion: run `quanzi train qa` then `quanzi promote quanzi-qa` "
            "(or `quanzi bootstrap`)"
        )
    return predictor


@eval_app.command("qa")
def eval_qa(
    world: WorldOpt = "p5000-s7",
    eval_dir: Annotated[Path | None, typer.Option(help="Evaluation set folder.")] = None,
    json_out: Annotated[Path | None, typer.Option(help="Also write the figures here.")] = None,
) -> None:
    """Every Q&A and topic target beside its baselines (held-out test split, pairs, the
    world's held-out tagged posts and last questions)."""
    from quanzi.datasets.qa.eval_set import EVAL_DIR, load_pairs, load_questions
    from quanzi.datasets.world.qa_tables import read_qa_truth, traits_of
    from quanzi.evaluation import qa_eval
    from quanzi.settings import Settings

    settings = Settings()
    root = eval_dir or EVAL_DIR
    qa = _qa_champion(settings)
    model, ranker = qa.answer_model, qa.ranker
    embed = _embed(settings)
    tables = _world(settings, world)
    test, pairs = load_questions(root, "test"), load_pairs(root)
    truth, qcfg = read_qa_truth(settings, world)
    traits, rows = traits_of(truth, [])
    ask = qa_eval.ask_the_buyer_report(tables, traits, rows, qcfg, ranker)
    report = {
        "non_answer_f1": qa_eval.non_answer_report(model, embed, test),
        "answer_ndcg@3": qa_eval.answer_ranking_report(model, embed, test),
        "similar_question": qa_eval.similar_question_report(
            embed,
            pairs,
            load_questions(root),
            question_embed=qa.question_embedder(None),
        ),
        "topic_assignment": qa_eval.topic_assignment_report(tables, embed),
        "ask_the_buyer": {
            "top5_answer_rate": ask.top_rate,
            "random5_answer_rate": ask.random_rate,
            "ratio": ask.ratio,
            "top5_helpful_share": ask.top_helpful,
            "random5_helpful_share": ask.random_helpful,
            "questions": ask.n,
            **ask.extra,
        },
    }
    text = json.dumps(report, ensure_ascii=False, indent=1)
    typer.echo(text)
    if json_out is not None:
        json_out.write_text(text)


@eval_app.command("ask-weights")
def eval_ask_weights(
    world: WorldOpt = "p5000-s7",
    weights: Annotated[str, typer.Option(help="Comma-separated weights to try.")] = "1,2,3",
    fit_share: Annotated[float, typer.Option(min=0.1, max=0.9)] = 0.6,
    until_share: Annotated[float, typer.Option(min=0.2, max=1.0)] = 0.8,
) -> None:
    """Choose the ask-the-buyer ranker's weight on P(helpful | answers) on a validation
    window: fit on the questions before ``fit_share`` of time, measure the top-5 answer-rate
    ratio and helpful-share gain over random on those up to ``until_share`` (the test
    questions after 0.8 stay unread by default)."""
    from dataclasses import replace

    from quanzi.datasets.world.qa_tables import read_qa_truth, traits_of
    from quanzi.evaluation import qa_eval
    from quanzi.settings import Settings
    from quanzi.training.qa import fit_invitee_ranker

    try:
        chosen = [float(w) for w in weights.split(",") if w.strip()]
    except ValueError:
        fail(f"--weights {weights!r}: give numbers separated by commas, e.g. 1,2,3")
    if until_share <= fit_share:
        fail("--until-share must be above --fit-share (the window after the fitted questions)")
    settings = Settings()
    tables = _world(settings, world)
    truth, qcfg = read_qa_truth(settings, world)
    traits, rows = traits_of(truth, [])
    ranker = fit_invitee_ranker(tables, fit_share)
    for w in chosen:
        ask = qa_eval.ask_the_buyer_report(
            tables,
            traits,
            rows,
            qcfg,
            replace(ranker, helpful_weight=w),
            train_share=fit_share,
            until_share=until_share,
        )
        diff, lo, hi = (
            ask.extra[f"helpful_share_diff{end}"] for end in ("", "_ci_low", "_ci_high")
        )
        typer.echo(
            f"weight {w:g}: {ask.n} questions, answer rate {ask.ratio:.3f}× random, "
            f"helpful share {diff:+.4f} [{lo:+.4f}, {hi:+.4f}] over random"
        )


@bench_app.command("qa")
def bench_qa(
    world: WorldOpt = "p5000-s7",
    requests: Annotated[int, typer.Option(min=10, help="Questions to time.")] = 1000,
    rate: Annotated[float, typer.Option(help="Paced requests per second.")] = 100.0,
) -> None:
    """In-process latency of a question's similar questions + invitee list (paced at
    ``rate``) and of a circle's trending topics: p50 / p99 ms."""
    import numpy as np

    from quanzi.models.qa.buyer_log import buyer_log_of, epoch_seconds
    from quanzi.models.qa.similar_questions import QuestionIndex
    from quanzi.models.topics.trending import TrendParams, trending
    from quanzi.settings import Settings

    settings = Settings()
    tables = _world(settings, world)
    qa = _qa_champion(settings)
    ranker = qa.ranker
    embed = qa.question_embedder(None) or _embed(settings)
    q = tables["questions"]
    circles = tables["circles"].set_index("id")
    family = [
        circles.parent_id.get(c) or c if circles.kind.get(c) == "sku_qa" else c for c in q.circle_id
    ]
    vectors = embed(q.text.tolist())
    index = QuestionIndex(vectors.shape[1])
    for fam in set(family):
        idx = [i for i, f in enumerate(family) if f == fam]
        index.add(fam, q.id.iloc[idx].tolist(), q.item_id.iloc[idx].tolist(), vectors[idx])
    log = buyer_log_of(tables)
    ts = epoch_seconds(q.created_at)
    times = []
    rng = np.random.default_rng(0)
    nxt = time.perf_counter()
    for _ in range(requests):
        i = int(rng.integers(len(q)))
        nxt += 1.0 / rate
        time.sleep(max(0.0, nxt - time.perf_counter()))
        t0 = time.perf_counter()
        v = embed([q.text.iloc[i]])[0]
        index.search(v, family[i], q.item_id.iloc[i], 5, exclude=q.id.iloc[i])
        codes, bought = log.buyers(q.item_id.iloc[i], int(ts[i]))
        ranker.score(log.history(codes, bought, int(ts[i])).matrix())
        times.append((time.perf_counter() - t0) * 1000)
    pt = tables["post_topics"].merge(tables["topics"], left_on="topic_id", right_on="id")
    busiest = pt.circle_id.value_counts().index[0]
    mine = pt[pt.circle_id == busiest]
    tts = epoch_seconds(mine.created_at_x)
    trend_ms = []
    for _ in range(200):
        t0 = time.perf_counter()
        trending(mine.topic_id.to_numpy(), tts, float(tts.max()), TrendParams())
        trend_ms.append((time.perf_counter() - t0) * 1000)
    p = np.percentile
    typer.echo(
        f"similar + invitees ({requests} at {rate:g}/s): p50 {p(times, 50):.2f} ms, "
        f"p99 {p(times, 99):.2f} ms\n"
        f"trending ({busiest}, {len(mine)} tagged posts): p50 {p(trend_ms, 50):.2f} ms, "
        f"p99 {p(trend_ms, 99):.2f} ms (in process; the route adds its SQL read)"
    )
