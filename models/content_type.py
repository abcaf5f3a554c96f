"""Content type of a post (domain.md, "Typical content"): what kind of help it offers.

- ``guide`` 导购/攻略: advice before buying — how to choose, comparisons, recommendations,
  lists, "worth it / not worth it";
- ``share`` 购后分享/晒单: a post-purchase share — just received, first impressions,
  delivery and packaging, "show your order" (the default for a first-hand post);
- ``usage`` 使用体验: experience after using it for a while — durations, repeat purchase,
  long-term effects and defects;
- ``question`` 售后问题: an after-sales question — how to fix, return, exchange, warranty,
  "is it normal that …?".

Why rules and not a trained model: there is no labelled set of content types yet, and the
phase weights only need the coarse kind. The rules read normalised text (full-width
punctuation folded, ``datasets/normalize.py``) and are checked in a fixed order (question,
guide, usage, then share), the first that matches wins. The type is inferred once per post
at ingest and stored as a ``post_scores`` row (model ``content_type``, version
``VERSION``); the feed's snapshot reads it, and the offline replay of a world infers it
from the text with this same function.
"""

from __future__ import annotations

import re

from quanzi.datasets.normalize import normalize

VERSION = "rules-v1"
MODEL_NAME = "content_type"
# Codes kept in the feed snapshot (int8): 0 = not inferred (an unscored post).
CONTENT_TYPES: tuple[str, ...] = ("unknown", "guide", "share", "usage", "question")
CODE = {name: i for i, name in enumerate(CONTENT_TYPES)}

_QUESTION_MARK = re.compile(r"[?？]")
_QUESTION_WORDS = re.compile(
    r"怎么办|怎么回事|怎么弄|怎么用|怎么处理|如何处理|如何解决|正常吗|能退吗|能换吗|"
    r"可以退|可以换|请问|求助|求解|谁知道|有人知道|哪位|有没有人"
)
_AFTER_SALES = re.compile(r"售后|退货|退款|换货|保修|维修|客服|坏了|故障|不能用|用不了|报错|漏水")
_GUIDE = re.compile(
    r"攻略|怎么选|如何选|选购|入手前|买前|必看|避坑|对比|横评|测评|推荐(?:给|大家|入手)|"
    r"种草|清单|必买|值得买|值不值|建议(?:大家|买|入)|适合(?:什么|哪些)人"
)
_USAGE = re.compile(
    r"(?:用了|使用了?|穿了|吃了|喝了|戴了|住了|坚持)(?:[一二两三四五六七八九十半几\d]+)"
    r"(?:天|周|星期|个月|月|年|次|瓶|盒)|一段时间|长期|至今|回购|续航|半年|一年|两年|"
    r"用下来|用久了|用了很久|一直在用|一直用"
)


def infer_content_type(text: str) -> str:
    """The content type of one post's text (module docstring); never fails."""
    t = normalize(text or "")
    asks = _QUESTION_WORDS.search(t)
    if asks and (_QUESTION_MARK.search(t) or _AFTER_SALES.search(t)):
        return "question"
    if _GUIDE.search(t):
        return "guide"
    if _USAGE.search(t):
        return "usage"
    return "share"


def content_type_row(text: str) -> dict[str, str]:
    """What ingest stores for a post: ``{"content_type": type, "version": VERSION}``."""
    return {"content_type": infer_content_type(text), "version": VERSION}
