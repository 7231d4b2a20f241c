"""Resumable training states on disk, shared by the trainers: ``OUT/checkpoints/step-N``
folders (each switched into place as a whole) and ``OUT/checkpoints/latest`` naming the
newest; older ones beyond ``keep`` are removed."""
from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

from ._io import atomic_folder, atomic_write
from .errors import ModelFormatError


def write_checkpoint(out: Path, step: int, write: Callable[[Path], None], keep: int) -> Path:
    """``write(folder)`` fills a temporary folder that becomes ``out/checkpoints/step-N``;
    then ``latest`` is switched to it and all but the newest ``keep`` are removed."""
    ckdir = Path(out) / "checkpoints"
    final = ckdir / f"step-{step:08d}"
    with atomic_folder(final) as tmp:    # a rewrite of the same step swaps in whole, too
        write(tmp)
    with atomic_write(ckdir / "latest") as f:
        f.write(final.name + "\n")
    for old in sorted(p for p in ckdir.glob("step-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(out: Path) -> Path:
    """The checkpoint folder ``out/checkpoints/latest`` names (it must be one of its own
    ``step-N`` folders, never a path elsewhere)."""
    out = Path(out)
    try:
        name = (out / "checkpoints" / "latest").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ModelFormatError(f"{out}: no checkpoints/latest; nothing to resume") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{out}/checkpoints/latest: unreadable ({exc})") from None
    if not re.fullmatch(r"step-\d{8}", name):
        raise ModelFormatError(f"{out}/checkpoints/latest: {name[:60]!r} is not a checkpoint name (step-NNNNNNNN)")
    ck = out / "checkpoints" / name
    if not ck.is_dir():
        raise ModelFormatError(f"{out}/checkpoints/latest: names {name}, which does not exist")
    return ck
