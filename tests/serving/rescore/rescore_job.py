"""A rescore in a process of its own, slowed down so a test can SIGKILL it midway.

Usage: ``python rescore_job.py <database url> <block size>`` (rescores with ``V1`` of
``tests/utils/rescore_models.py``, each block taking at least 0.2 s).
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path
from types import ModuleType

utils = ModuleType("quanzi_tests")
utils.__path__ = [str(Path(__file__).resolve().parents[2] / "utils")]
sys.modules["quanzi_tests"] = utils
rm = importlib.import_module("quanzi_tests.rescore_models")

from quanzi.serving.rescore.local import Job, run_local  # noqa: E402
from quanzi.serving.rescore.plan import Selection, plan_run  # noqa: E402
from quanzi.settings import Settings  # noqa: E402
from quanzi.storage.db import make_engine  # noqa: E402


def slow_loader(settings: Settings, versions: dict[str, str]):  # type: ignore[no-untyped-def]
    models = rm.load_test_versions(settings, versions)
    embed = models.embedder

    class SlowEmbedder:
        dim = embed.dim

        def __call__(self, texts):  # type: ignore[no-untyped-def]
            time.sleep(0.2)
            return embed(texts)

    models.embedder = SlowEmbedder()
    return models


if __name__ == "__main__":
    url, block = sys.argv[1], int(sys.argv[2])
    engine = make_engine(url)
    plan = plan_run(engine, rm.V1, Selection(), block_size=block)
    run_local(Job(Settings(), url, plan, loader=slow_loader), timeout_s=120)
    print("finished without being killed")
