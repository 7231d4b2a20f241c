"""Sequence-level knowledge distillation (Kim & Rush 2016): the teacher's beam-search
translations of the training source become a smaller student's targets.

The translations are written under ``STUDENT_DIR/distill/``: a part of :data:`PART_LINES`
source lines at a time, each part file switched in atomically, so an interrupted run resumes
at the first missing part; when every part is there they are joined into ``targets.txt``
(atomically too). ``meta.json`` records what the parts come from (the teacher's weights and the
source text, by CRC-32, and the decoding settings); a run with anything else is refused rather
than mixing translations of two teachers.

With ``references`` (the training targets) the teacher's n-best list (as many as the beam)
is searched for the translation closest to the reference by sentence BLEU, which becomes the
target instead of the teacher's best: Kim & Rush's "Seq-Inter", between the teacher's
distribution and the data.
"""
from __future__ import annotations

import json
import logging
import zlib
from pathlib import Path

from .._io import atomic_write
from ..errors import ConfigError, CorpusError
from ..progress import progress
from .bleu import sentence_bleu
from .model import model_folder
from .translator import Translator

log = logging.getLogger("lmkit")

DISTILL_DIR = "distill"
TARGETS = "targets.txt"
#: source lines translated and written per part file
PART_LINES = 2000


def file_crc32(path: str | Path) -> int:
    """CRC-32 of a file's bytes, read a megabyte at a time."""
    crc = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            crc = zlib.crc32(chunk, crc)
    return crc


def read_source_lines(path: str | Path, what: str = "source") -> list[str]:
    """The source sentences, one a line, read as every lmkit reader reads text (``.gz`` and
    other compressed files too; bad UTF-8 is one clear error)."""
    from ..text import Corpus, Tokenizer
    if not Path(path).is_file():
        raise CorpusError(f"{path}: no such {what} file")
    return [line for block in Corpus([str(path)], Tokenizer("whitespace"), quiet=True).line_blocks()
            for line in block]


def teacher_targets(teacher_dir: str | Path, source: str | Path, student_dir: str | Path, beam: int = 5,
                    alpha: float = 1.0, batch: int = 64, quiet: bool | None = None,
                    teacher: Translator | None = None, references: str | Path | None = None) -> Path:
    """Translate ``source`` with the teacher's beam search into ``student_dir/distill/targets.txt``
    (one line per source line, the teacher's words separated by spaces) and return its path.
    Parts already written by an interrupted run with the same teacher, source and settings
    are kept; other settings are refused. ``teacher``: the model of ``teacher_dir`` when the
    caller has loaded it already. ``references``: the training targets, line-aligned with
    ``source``: each line's target is then the one of the teacher's ``beam`` best translations
    with the highest sentence BLEU against its reference (Seq-Inter)."""
    folder = Path(student_dir) / DISTILL_DIR
    teacher = teacher or Translator.load(teacher_dir)     # checked before anything is written
    lines = read_source_lines(source)
    refs = None
    if references is not None:
        refs = read_source_lines(references, "reference")
        if len(refs) != len(lines):
            raise CorpusError(f"{references} has {len(refs)} lines but {source} has {len(lines)}")
    meta = {"teacher_weights_crc32": file_crc32(model_folder(teacher_dir) / "weights.npz"),
            "source_crc32": file_crc32(source), "beam": beam, "length_penalty": alpha,
            "part_lines": PART_LINES}
    if references is not None:
        meta["closest_to_references_crc32"] = file_crc32(references)
    _check_or_write_meta(folder, meta)
    targets = folder / TARGETS
    if targets.exists():
        log.info("%s: the teacher's translations are there already", targets)
        return targets
    parts = [(k, lines[lo:lo + PART_LINES]) for k, lo in enumerate(range(0, len(lines), PART_LINES))]
    todo = [(k, part) for k, part in parts if not _part_done(folder, k, len(part))]
    bar = progress(total=sum(len(p) for _, p in todo), desc="teacher translations", unit="line", quiet=quiet)
    for k, part in todo:
        if refs is None:
            texts = [t.text for t in teacher.translate(part, beam=beam, batch=batch, alpha=alpha)]
        else:
            lists = teacher.translate_nbest(part, beam, beam=beam, batch=batch, alpha=alpha)
            part_refs = refs[k * PART_LINES:k * PART_LINES + len(part)]
            texts = [closest_to_reference([t.text for t in hyps], " ".join(teacher.tokenizer(ref)))
                     for hyps, ref in zip(lists, part_refs)]
        with atomic_write(_part_path(folder, k)) as f:
            f.writelines(text + "\n" for text in texts)
        bar.update(len(part))
    bar.close()
    with atomic_write(targets) as f:
        for k, part in parts:
            text = _part_path(folder, k).read_text(encoding="utf-8")
            if text.count("\n") != len(part):
                raise CorpusError(f"{_part_path(folder, k)}: {text.count(chr(10))} lines, want {len(part)}")
            f.write(text)
    for k, _ in parts:
        _part_path(folder, k).unlink()
    log.info("%s: %d teacher translations (beam %d)", targets, len(lines), beam)
    return targets


def closest_to_reference(candidates: list[str], reference: str) -> str:
    """The candidate (tokens separated by spaces) with the highest sentence BLEU against the
    reference (same tokens; exponential smoothing, effective order); ties go to the earlier."""
    scores = [sentence_bleu(c, [reference], tokenize="none").score for c in candidates]
    return candidates[max(range(len(candidates)), key=lambda i: (scores[i], -i))]


def _part_path(folder: Path, k: int) -> Path:
    return folder / f"part-{k:06d}.txt"


def _part_done(folder: Path, k: int, n_lines: int) -> bool:
    """A part file from an earlier run counts only when whole (its line count checked)."""
    path = _part_path(folder, k)
    if not path.exists():
        return False
    return path.read_bytes().count(b"\n") == n_lines


def _check_or_write_meta(folder: Path, meta: dict) -> None:
    path = folder / "meta.json"
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            old = None
        if old != meta:
            raise ConfigError(f"{folder}: holds translations of another teacher, source or settings ({path}); "
                              "choose another -o or remove that folder")
        return
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:
        json.dump(meta, f)
