"""Where the backbone comes from: ``QUANZI_BACKBONE`` or the converted bundled e5."""

from __future__ import annotations

import shutil

from quanzi.models.backbone.convert import convert_e5
from quanzi.settings import Settings


def backbone_ready(settings: Settings) -> bool:
    """True when a configured backbone is set or the bundled one is already converted."""
    return bool(settings.backbone) or (settings.backbone_dir / "modules.json").is_file()


def ensure_backbone(settings: Settings, force: bool = False) -> str:
    """The backbone in force (path or Hugging Face id), converting the bundled e5 once.

    The conversion writes to a temporary sibling folder and renames it into place, so an
    interrupted run never leaves a half-written model that later runs would trust.
    """
    if settings.backbone and not force:
        return settings.backbone
    target = settings.backbone_dir
    if (target / "modules.json").is_file() and not force:
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    convert_e5(None, tmp)
    if target.exists():
        shutil.rmtree(target)
    tmp.rename(target)
    return str(target)
