"""The near-duplicate edit procedure: how a lightly edited copy of a review is made.

Editors must not get the same post twice in a collection, and spammers repost with small
changes, so the encoder must put a lightly edited copy next to its original. One edited
copy applies, in this order:

1. **character swaps** — one adjacent pair of characters swapped per 20 characters
   (at least one; texts shorter than 4 characters are left alone);
2. **punctuation** — up to two punctuation marks replaced by another mark (，↔, 。↔！…);
   if the text has none, a "！" or "～" is appended;
3. **truncation** — texts longer than 20 characters lose their last 15 % (rounded down);
4. **inserted emoji** — one emoji from a fixed list of 12 inserted at a random position.

The random choices come from ``random.Random(f"{seed}:{text}")``, so a text and a seed
always give the same copy, on every machine and Python process (string seeds are hashed
with SHA-512, independent of ``PYTHONHASHSEED``).
"""

from __future__ import annotations

import random

PUNCTUATION = "，。！？、,.!?~～；;：:"
EMOJI = ("😀", "👍", "😂", "❤️", "🔥", "😅", "🙏", "👌", "😍", "💯", "🤔", "✨")


def near_duplicate(text: str, seed: int = 0) -> str:
    """A lightly edited copy of ``text`` (deterministic in ``text`` and ``seed``)."""
    rng = random.Random(f"{seed}:{text}")
    chars = list(text)
    # 1. adjacent character swaps
    if len(chars) >= 4:
        for _ in range(max(1, len(chars) // 20)):
            i = rng.randrange(len(chars) - 1)
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    # 2. punctuation
    marks = [i for i, c in enumerate(chars) if c in PUNCTUATION]
    if marks:
        for i in rng.sample(marks, min(2, len(marks))):
            chars[i] = rng.choice([p for p in PUNCTUATION if p != chars[i]])
    else:
        chars.append(rng.choice("！～"))
    # 3. truncation
    if len(chars) > 20:
        chars = chars[: len(chars) - int(len(chars) * 0.15)]
    # 4. one emoji
    chars.insert(rng.randrange(len(chars) + 1), rng.choice(EMOJI))
    return "".join(chars)
