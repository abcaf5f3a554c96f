"""The moderation task: fit / evaluate / save / load, dev thresholds, and the policy's cases.

Models are fitted on a tiny hand-made data set (hundreds of rows, well under a second), so
these tests exercise the real code paths without the corpora.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quanzi.datasets.normalize import normalize
from quanzi.models.moderation.linear import LinearConfig, LinearTextClassifier
from quanzi.models.moderation.predictor import (
    CORE_LEARNED,
    LabelThresholds,
    ModerationPredictor,
    near_duplicates,
)
from quanzi.settings import Settings
from quanzi.training.tasks import TaskData
from quanzi.training.tasks_impl.moderation import ModerationConfig, ModerationTask
from quanzi.training.tasks_impl.moderation_data import COLUMNS
from quanzi.training.tasks_impl.moderation_thresholds import choose_threshold

HOSTS = [
    f"{a}，{b}"
    for a, b in itertools.product(
        [
            "物流很快",
            "包装完好",
            "味道不错",
            "分量很足",
            "服务态度好",
            "价格实惠",
            "菜品新鲜",
            "房间干净",
            "屏幕清晰",
            "电池耐用",
        ],
        ["下次还会买", "非常满意", "推荐给朋友", "性价比高", "质量不错", "一般般吧"],
    )
]
SUBJECTS = ["这人", "楼主", "那些人", "你们", "他", "这帮家伙", "那个司机", "隔壁的"]
INSULTS = ["就是个傻逼", "真是垃圾废物", "脑残一个", "去死吧", "恶心透了", "蠢得要命"]
NEUTRAL = ["说得有道理", "今天去上班了", "人很不错", "讲得很清楚", "挺热心的", "是北方人"]
ADS = [
    "关注店铺领{n}元券",
    "全场{n}折进店有礼",
    "私信我拿优惠链接",
    "诚招代理日结{n}元",
    "好评返现{n}元",
    "前{n}名下单送赠品",
]
FILLER = [
    "好好好好好好",
    "此用户没有填写评价",
    "哈哈哈哈哈哈哈",
    "asdfasdfasdf",
    "。。。！！！",
    "嗯嗯嗯嗯嗯",
    "默认好评",
    "赞赞赞赞赞赞",
    "666666",
    "qwertyqwerty",
]
LOOKALIKES = [
    "这件V领毛衣很显瘦",
    "微信支付很方便",
    "客服QQ音乐会员送了吗",
    "在抖音上看到有人推荐",
    "iPhone 13 Pro 续航不错",
]


def _handle(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefgh") for _ in range(4)) + str(rng.randint(100, 999))


def _row(task: str, text: str, label: int, split: str, **cols: object) -> dict[str, object]:
    row = {c: "" for c in COLUMNS}
    row.update(
        {
            "text": text,
            "norm": normalize(text),
            "task": task,
            "label": label,
            "order": -1,
            "split": split,
            **cols,
        }
    )
    return row


def tiny_rows(seed: int = 0) -> pd.DataFrame:
    """Every learned label with train / dev / test rows, like ``build_task_frames``."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    splits = ["train"] * 6 + ["dev"] * 2 + ["test"] * 2
    for i, (subject, insult) in enumerate(itertools.product(SUBJECTS, INSULTS)):
        split = splits[i % 10]
        rows.append(_row("offensive", f"{subject}{insult}", 1, split, kind="cold", source="cold"))
        rows.append(
            _row(
                "offensive",
                f"{subject}{NEUTRAL[i % len(NEUTRAL)]}",
                0,
                split,
                kind="cold",
                source="cold",
            )
        )
    for i, host in enumerate(HOSTS):
        split = splits[i % 10]
        ad = rng.choice(ADS).format(n=rng.choice((5, 10, 20)))
        source = "sms" if i % 3 == 0 else "review"
        rows.append(_row("ad", f"{host}，{ad}", 1, split, source=source))
        rows.append(_row("ad", host, 0, split, source=source))
        rows.append(_row("spam", host, 0, split, kind="real", order=2 * i))
        rows.append(
            _row(
                "spam",
                FILLER[i % len(FILLER)] * (1 + i % 2),
                1,
                split,
                kind="filler",
                order=2 * i + 1,
            )
        )
        if i % 6 == 0:
            rows.append(_row("spam", host + "！", 1, split, kind="copy_paste", order=1000 + i))
        group = "heldout" if split == "test" and i % 2 else "train"
        rows.append(
            _row(
                "contact",
                f"{host}，加我微信{_handle(rng)}领券",
                1,
                split,
                kind="contact",
                group=group,
            )
        )
        rows.append(
            _row(
                "contact", f"{host}，{LOOKALIKES[i % len(LOOKALIKES)]}", 0, split, kind="lookalike"
            )
        )
        rows.append(_row("contact", host, 0, split, kind="plain"))
    return pd.DataFrame(rows)


def tiny_data(rows: pd.DataFrame | None = None) -> TaskData:
    rows = tiny_rows() if rows is None else rows
    parts = {
        s: rows[rows["split"] == s].drop(columns="split").reset_index(drop=True)
        for s in ("train", "dev", "test")
    }
    reviews = pd.DataFrame(
        {
            "text": [*HOSTS, "老板是个骗子，加我微信abc12345"],
            "corpus": "online_shopping",
            "category": "衣服",
        }
    )
    return TaskData(
        train=parts["train"],
        dev=parts["dev"],
        test=parts["test"],
        extra={"collateral_reviews": reviews},
        hashes={"tiny": "0" * 64},
    )


TASK = ModerationTask(config=ModerationConfig.small())


@pytest.fixture(scope="module")
def fitted() -> tuple[TaskData, ModerationPredictor]:
    data = tiny_data()
    return data, TASK.fit(data, Settings(), small=True)


def test_fit_save_load_round_trip_predicts_identically(
    fitted: tuple[TaskData, ModerationPredictor], tmp_path: Path
) -> None:
    data, predictor = fitted
    predictor.save(tmp_path / "model")
    assert (tmp_path / "model" / "offensive" / "weights.safetensors").is_file()
    assert not list((tmp_path / "model").rglob("*.pkl"))
    loaded = TASK.load(tmp_path / "model")
    records = [{"text": t, "circle_id": "c1"} for t in data.test["text"]]
    assert loaded.predict(records) == predictor.predict(records)
    assert loaded.thresholds == predictor.thresholds
    assert loaded.dup_threshold == predictor.dup_threshold


def test_evaluate_reports_every_label_baseline_collateral_and_figures(
    fitted: tuple[TaskData, ModerationPredictor],
) -> None:
    data, predictor = fitted
    evaluation = TASK.evaluate(predictor, data)
    m = evaluation.metrics
    assert set(predictor.learned) >= set(CORE_LEARNED)
    for label in predictor.learned:
        assert 0.0 <= m[f"test_{label}_f1"] <= 1.0
        assert f"baseline_test_{label}_f1" in m
        assert m[f"threshold_{label}_review"] <= m[f"threshold_{label}_reject"]
        assert {f"confusion_{label}.png", f"pr_{label}.png"} <= evaluation.figures.keys()
    assert {
        "sms_strat_f1",
        "contact_heldout_recall",
        "contact_heldout_precision",
        "lookalike_fp_rate_reject",
        "cold_test_accuracy",
        "collateral_reject_rate",
        "speed_posts_per_s",
    } <= m.keys()
    assert set(ModerationTask().gate) <= m.keys()  # every gated metric is reported
    assert m["test_offensive_accuracy"] > 0.8  # the tiny model really learned
    assert all(np.isfinite(v) for v in m.values())
    collateral = evaluation.tables["collateral.csv"]
    assert collateral.loc[collateral["group"] == "ALL", "n"].item() == len(HOSTS) + 1
    # the one review with a WeChat handle is rejected, and listed for reading
    rejected = evaluation.tables["collateral_rejected.csv"]
    assert "abc12345" in " ".join(rejected["text"])


# ----------------------------------------------------------------- thresholds from dev
def test_choose_threshold_is_lowest_cut_keeping_precision_at_every_higher_cut() -> None:
    y = [1, 1, 1, 0, 1, 0, 0, 1, 0, 0]
    s = [0.9, 0.8, 0.7, 0.65, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    # cuts: .9→1/1 .8→2/2 .7→3/3 .65→3/4 .6→4/5 .5→4/6 ...
    assert choose_threshold(y, s, target=0.95) == (0.7, 1.0, 0.6)
    assert choose_threshold(y, s, target=0.75)[0] == 0.6  # .65 → 0.75, .6 → 0.8, .5 → 0.67
    assert choose_threshold(y, s, target=0.8)[0] == 0.7  # .6 has 0.8, but .65 above it fails
    assert choose_threshold(y, s, target=0.95, min_flagged=4) is None  # .65 has 0.75
    assert choose_threshold([0, 0], [0.3, 0.9], target=0.5) is None


def test_thresholds_are_recorded_and_come_from_dev(
    fitted: tuple[TaskData, ModerationPredictor], tmp_path: Path
) -> None:
    data, predictor = fitted
    predictor.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "moderation.json").read_text(encoding="utf-8"))
    for label in predictor.learned:
        th = saved["thresholds"][label]
        assert th["source"] == "dev" and th["reject_target"] == TASK.config.reject_precision[label]
        assert th["dev"]["n"] == (data.dev["task"] == label).sum() - (
            data.dev["kind"] == "copy_paste"
        ).sum() * (label == "spam")
    assert saved["thresholds"]["privacy"]["source"] == "config"
    # Same train, different dev: positives in dev relabelled as negatives change thresholds.
    rows = tiny_rows()
    dev_pos = (rows["split"] == "dev") & (rows["task"] == "offensive") & (rows["label"] == 1)
    rows.loc[dev_pos[dev_pos].index[::2], "label"] = 0
    other = TASK.fit(tiny_data(rows), Settings(), small=True)
    assert other.thresholds["offensive"] != predictor.thresholds["offensive"]
    assert other.thresholds["ad"] == predictor.thresholds["ad"]  # its dev did not change


# ------------------------------------------------------------------ the policy's cases
def _strict(fitted: tuple[TaskData, ModerationPredictor]) -> ModerationPredictor:
    """The fitted classifiers with fixed thresholds, so a case tests the decision logic."""
    _, predictor = fitted
    fixed = {
        k: LabelThresholds(review=0.8, reject=0.9, source="config") for k in predictor.classifiers
    }
    return ModerationPredictor(predictor.classifiers, fixed, dup_threshold=0.9)


@pytest.mark.parametrize(
    "text",
    [
        "这件V领毛衣很显瘦，物流很快",
        "微信支付很方便，下次还会买",
        "客服QQ音乐会员送了吗",
        "收到货有问题可以在订单页联系客服退换",
    ],
)
def test_clean_lookalikes_pass(fitted: tuple[TaskData, ModerationPredictor], text: str) -> None:
    out = _strict(fitted).predict([{"text": text}])[0]
    assert out == {"decision": "pass", "risk": "none", "labels": []}


def test_add_me_on_vx_for_coupons_is_rejected_with_span_and_evidence(
    fitted: tuple[TaskData, ModerationPredictor],
) -> None:
    text = "东西不错，加我vx领券"
    out = _strict(fitted).predict([{"text": text}])[0]
    assert out["decision"] == "reject" and out["risk"] == "high"
    contact = next(e for e in out["labels"] if e["label"] == "contact")
    span = contact["spans"][0]
    assert span["subtype"] == "wechat" and text[span["start"] : span["end"]] == span["text"]
    assert "vx" in span["text"]


def test_obfuscated_phone_is_rejected_with_decoded_evidence(
    fitted: tuple[TaskData, ModerationPredictor],
) -> None:
    out = _strict(fitted).predict([{"text": "有需要打电话 幺三八 零零幺三 八零零零"}])[0]
    assert out["decision"] == "reject"
    span = next(e for e in out["labels"] if e["label"] == "contact")["spans"][0]
    assert span["evidence"] == "13800138000"


def test_circle_review_term_sends_to_review_only_in_its_circle(
    fitted: tuple[TaskData, ModerationPredictor],
) -> None:
    text = "包装完好，代購的也能保修吗"
    rules = {"c_phone": [("代购", "review")], "c_books": [("盗版", "block")]}
    records = [
        {"text": text, "circle_id": "c_phone"},
        {"text": text, "circle_id": "c_books"},
        {"text": text},
    ]
    out = _strict(fitted).predict(records, circle_rules=rules)
    assert [o["decision"] for o in out] == ["review", "pass", "pass"]
    entry = out[0]["labels"][0]
    assert entry["label"] == "circle_rule" and out[0]["risk"] == "low"
    assert text[entry["spans"][0]["start"] : entry["spans"][0]["end"]] == "代購"
    # A blocked term rejects, and a callable works like a mapping.
    blocked = _strict(fitted).predict(
        [{"text": "这是盗版书", "circle_id": "c_books"}],
        circle_rules=lambda cid: rules.get(cid, ()),
    )
    assert blocked[0]["decision"] == "reject"


def test_near_copy_of_a_recent_post_is_spam_and_names_the_source(
    fitted: tuple[TaskData, ModerationPredictor],
) -> None:
    recent = ["房间干净，早餐丰富，前台小姐姐很热情，下次还住这家", "物流很快"]
    copy = "房间干净,早餐丰富,前台小姐姐很热情,下次还住这家👍"
    predictor = _strict(fitted)
    out = predictor.predict([{"text": copy}, {"text": "屏幕清晰，电池耐用"}], recent_texts=recent)
    assert out[0]["decision"] == "reject"
    spam = next(e for e in out[0]["labels"] if e["label"] == "spam")
    assert spam["spans"][0]["subtype"] == "near_duplicate" and "#0" in spam["spans"][0]["evidence"]
    assert out[1]["decision"] == "pass"
    sims = near_duplicates([normalize(copy)], [normalize(r) for r in recent])
    assert sims[0][0] >= 0.9 and sims[0][1] == 0


def test_predict_refuses_records_without_text(fitted: tuple[TaskData, ModerationPredictor]) -> None:
    with pytest.raises(ValueError, match="record 1 needs a string 'text'"):
        fitted[1].predict([{"text": "好"}, {"body": "x"}])


# ------------------------------------------------------------------ the linear models
def test_linear_classifier_round_trip_and_refuses_unknown_config(tmp_path: Path) -> None:
    texts = [f"{s}{i}" for s, i in itertools.product(SUBJECTS, INSULTS + NEUTRAL)]
    labels = [int(any(i in t for i in INSULTS)) for t in texts]
    clf = LinearTextClassifier(LinearConfig(tf="binary", idf=False, nb=True)).fit(texts, labels)
    clf.save(tmp_path / "clf")
    again = LinearTextClassifier.load(tmp_path / "clf")
    assert np.array_equal(again.predict_proba(texts), clf.predict_proba(texts))
    assert again.explain("楼主脑残一个")[0][0] in "楼主脑残一个"
    with pytest.raises(ValueError, match="unknown LinearConfig keys"):
        LinearConfig.from_dict({"C": 1.0, "penalty": "l1"})
    (tmp_path / "clf" / "vocab.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"vocab\.json"):
        LinearTextClassifier.load(tmp_path / "clf")
    with pytest.raises(ValueError, match="single class"):
        LinearTextClassifier().fit(["a", "b"], [1, 1])


def test_background_budget_raises_a_threshold_the_precision_target_would_set_lower() -> None:
    from quanzi.training.tasks_impl.moderation_thresholds import (
        background_threshold,
        label_thresholds,
    )

    y = [1] * 50 + [0] * 50
    score = [0.9] * 50 + [0.1] * 50  # dev alone: any cut in (0.1, 0.9] is perfect
    background = np.linspace(0.0, 0.95, 1000)  # real reviews, some scoring high
    assert (background >= background_threshold(background, 0.01)).sum() == 10
    alone = label_thresholds(y, score, 0.95, 0.8, 5)
    budget = label_thresholds(
        y,
        score,
        0.95,
        0.8,
        5,
        background=background,
        reject_background_rate=0.002,
        review_background_rate=0.05,
    )
    assert alone.reject == 0.9
    assert budget.reject > 0.94 and budget.dev["reject_background_rate"] <= 0.002
    assert budget.review <= budget.reject and budget.dev["review_background_rate"] <= 0.05


# ------------------------------------------------- review-domain abuse vs complaints
FOODS = ["米饭", "汤", "青菜", "鸡腿", "面条", "饺子", "水果", "奶茶", "牛肉", "蛋糕"]
FAULTS = ["里有虫子", "都馊了", "里有头发", "全是坏的", "一股怪味"]
REACTIONS = ["真恶心", "恶心死了", "太恶心了", "恶心", "看着就恶心"]


def _review_hosts() -> pd.DataFrame:
    """Complaints whose strongest word is 恶心 (COLD's tiny stand-in says 恶心 is abuse)."""
    rows = []
    for i, (food, fault, reaction) in enumerate(itertools.product(FOODS, FAULTS, REACTIONS)):
        text = f"{food}{fault}，{reaction}"
        rows.append(
            {
                "text": text,
                "norm": normalize(text),
                "label": 0,
                "category": "外卖",
                "split": "train" if i % 5 else "dev",
                "corpus": "waimai",
                "row": i,
            }
        )
    return pd.DataFrame(rows)


def _with_abuse_rows(rows: pd.DataFrame) -> pd.DataFrame:
    from quanzi.datasets.moderation.abuse import AbuseDataConfig, build_abuse_dataset

    abuse = build_abuse_dataset(_review_hosts(), AbuseDataConfig(seed=1, n_train=200, n_dev=50))
    extra = [
        _row("offensive", r.text, int(r.label), r.split, kind=r.kind, source="review")
        for r in abuse.itertuples()
    ]
    return pd.concat([rows, pd.DataFrame(extra)], ignore_index=True)


def test_review_abuse_rows_let_a_complaint_pass_while_abuse_of_a_person_rejects() -> None:
    complaint = "粥都馊了，恶心死了"  # not a host text
    abuse = "客服就是个傻逼，态度差"
    cold_only = _strict((None, TASK.fit(tiny_data(), Settings(), small=True)))
    before = cold_only.predict([{"text": complaint}, {"text": abuse}])
    assert before[0]["decision"] != "pass"  # the bug (the insult itself is the lexicon's now)
    fixed = _strict(
        (None, TASK.fit(tiny_data(_with_abuse_rows(tiny_rows())), Settings(), small=True))
    )
    out = fixed.predict([{"text": complaint}, {"text": abuse}])
    assert out[0]["decision"] == "pass"
    assert out[1]["decision"] == "reject" and out[1]["labels"][0]["label"] == "offensive"


def test_written_repeat_counts_train_rows_more_and_dev_rows_once() -> None:
    from quanzi.training.tasks_impl.moderation_data import repeat_train_rows

    frame = pd.DataFrame(
        {"text": ["a", "b", "c"], "split": ["train", "dev", "train"], "label": [1, 0, 0]}
    )
    out = repeat_train_rows(frame, 3)
    assert out["text"].value_counts().to_dict() == {"a": 3, "c": 3, "b": 1}
    assert repeat_train_rows(frame, 1).equals(frame)
    with pytest.raises(ValueError, match="written_repeat"):
        repeat_train_rows(frame, 0)


def test_ad_learns_from_real_review_negatives_and_repeated_written_rows(
    settings: Settings,
) -> None:
    from quanzi.training.tasks_impl.moderation_data import build_task_frames

    cfg = ModerationConfig.small()
    rows, _ = build_task_frames(cfg, settings.corpora_dir, progress=False)
    ad = rows[(rows["task"] == "ad") & (rows["split"] == "train")]
    negatives = ad[ad["kind"] == "review_negative"]
    assert len(negatives) == cfg.review_negatives["ad"]
    assert (negatives["label"] == 0).all()
    written = ad[ad["kind"] == "written"]["text"].value_counts()
    assert set(written) == {cfg.written_repeat["ad"]}
    dev = rows[(rows["task"] == "ad") & (rows["split"] == "dev") & (rows["kind"] == "written")]
    assert dev["text"].is_unique
