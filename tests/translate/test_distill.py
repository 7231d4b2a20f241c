"""Sequence-level knowledge distillation: the teacher's beam translations written part by part
(resumable, refused when the teacher or settings change), then a student trained on them."""
import json
import subprocess
import sys

import pytest

from lmkit import ConfigError, CorpusError
from lmkit.translate import Translator
from lmkit.translate import distill as D

from .test_training import make_trainer, tiny_pairs  # noqa: F401  (the fixture)


class Killed(Exception):
    """Stands for a run stopped part-way."""


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, tiny_pairs):  # noqa: F811
    out = tmp_path_factory.mktemp("teacher") / "t"
    trainer, data = make_trainer(tiny_pairs, out, epochs=8)
    trainer.train(data, quiet=True)
    return out


def test_targets_are_the_teachers_beam_translations_and_resume_by_part(tmp_path, teacher, tiny_pairs,  # noqa: F811
                                                                        monkeypatch):
    monkeypatch.setattr(D, "PART_LINES", 7)
    lines = tiny_pairs[0].read_text().splitlines()
    want = [t.text for t in Translator.load(teacher).translate(lines, beam=3)]
    calls = []
    real = Translator.translate

    def flaky(self, part, **kw):          # the first run dies in its third part: an interrupted run
        calls.append(len(part))
        if len(calls) == 3 and not (tmp_path / "s" / "distill" / "part-000002.txt").exists() and not died:
            died.append(1)
            raise Killed
        return real(self, part, **kw)
    died: list = []
    monkeypatch.setattr(Translator, "translate", flaky)
    with pytest.raises(Killed):
        D.teacher_targets(teacher, tiny_pairs[0], tmp_path / "s", beam=3, quiet=True)
    assert sorted(p.name for p in (tmp_path / "s" / "distill").glob("part-*")) == ["part-000000.txt",
                                                                                 "part-000001.txt"]
    calls.clear()
    path = D.teacher_targets(teacher, tiny_pairs[0], tmp_path / "s", beam=3, quiet=True)
    assert len(calls) == len(range(0, len(lines), 7)) - 2                 # the two whole parts kept
    assert path.read_text().splitlines() == want
    assert not list((tmp_path / "s" / "distill").glob("part-*"))
    with pytest.raises(ConfigError, match="another teacher, source or settings"):
        D.teacher_targets(teacher, tiny_pairs[0], tmp_path / "s", beam=4, quiet=True)


def test_a_torn_part_is_translated_again(tmp_path, teacher, tiny_pairs, monkeypatch):  # noqa: F811
    monkeypatch.setattr(D, "PART_LINES", 20)
    D.teacher_targets(teacher, tiny_pairs[0], tmp_path / "a", beam=2, quiet=True)
    whole = (tmp_path / "a" / "distill" / D.TARGETS).read_text()
    folder = tmp_path / "b" / "distill"
    folder.mkdir(parents=True)
    (tmp_path / "a" / "distill" / "meta.json").replace(folder / "meta.json")
    (folder / "part-000000.txt").write_text("only one line\n")          # not the part's 20 lines
    D.teacher_targets(teacher, tiny_pairs[0], tmp_path / "b", beam=2, quiet=True)
    assert (folder / D.TARGETS).read_text() == whole


def test_cli_distill_trains_a_smaller_student_and_resumes(tmp_path, teacher, tiny_pairs):  # noqa: F811
    lmkit = [sys.executable, "-m", "lmkit.cli.main", "-q", "translate", "distill", str(teacher), "--train-src",
             str(tiny_pairs[0]), "-o", str(tmp_path / "s"), "--beam", "2", "--emb", "16", "--hidden", "24",
             "--attn", "16", "--batch", "12", "--epochs", "2", "--max-steps", "4", "--dropout", "0"]
    subprocess.run(lmkit, check=True)
    student, tutor = Translator.load(tmp_path / "s"), Translator.load(teacher)
    assert student.model.config.hidden == 24 and tutor.model.config.hidden == 48
    assert student.src_vocab.itos == tutor.src_vocab.itos and student.tgt_vocab.itos == tutor.tgt_vocab.itos
    history = json.loads((tmp_path / "s" / "history.json").read_text())
    assert history[-1]["step"] == 4
    again = subprocess.run(lmkit, capture_output=True, text=True)
    assert again.returncode == 2 and "--resume" in again.stderr and "Traceback" not in again.stderr
    subprocess.run(lmkit[:-6] + ["--epochs", "2", "--max-steps", "6", "--dropout", "0", "--resume"], check=True)
    assert json.loads((tmp_path / "s" / "history.json").read_text())[-1]["step"] == 6
    argv = list(lmkit)
    argv[6], argv[10] = str(tmp_path / "nowhere"), str(tmp_path / "s2")
    bad = subprocess.run(argv, capture_output=True, text=True)
    assert bad.returncode == 2 and "nowhere" in bad.stderr and "Traceback" not in bad.stderr


def test_a_compressed_source_gives_the_same_targets(tmp_path, teacher, tiny_pairs):  # noqa: F811
    import gzip
    with gzip.open(tmp_path / "s.en.gz", "wt", encoding="utf-8") as f:
        f.write(tiny_pairs[0].read_text())
    plain = D.teacher_targets(teacher, tiny_pairs[0], tmp_path / "a", beam=2, quiet=True).read_text()
    assert D.teacher_targets(teacher, tmp_path / "s.en.gz", tmp_path / "b", beam=2, quiet=True).read_text() == plain


def test_a_missing_source_is_one_clear_error(tmp_path, teacher):
    with pytest.raises(CorpusError, match="no such source file"):
        D.teacher_targets(teacher, tmp_path / "none.txt", tmp_path / "s", quiet=True)


def test_closest_to_reference_takes_the_highest_sentence_bleu_and_the_earlier_of_ties():
    ref = "ein mann fährt fahrrad auf der straße ."
    cands = ["ein hund läuft .", "ein mann fährt auf der straße .", "ein mann fährt fahrrad auf der straße ."]
    assert D.closest_to_reference(cands, ref) == cands[2]
    assert D.closest_to_reference(cands[:2], ref) == cands[1]
    assert D.closest_to_reference(["a b", "a b"], "c d") == "a b"
    assert D.closest_to_reference(["x y", "a b"], "q r") == "x y"        # all zero: the teacher's best


def test_seq_inter_targets_are_the_nbest_closest_to_each_reference(tmp_path, teacher, tiny_pairs,  # noqa: F811
                                                                  monkeypatch):
    monkeypatch.setattr(D, "PART_LINES", 16)
    lines = tiny_pairs[0].read_text().splitlines()
    refs = tiny_pairs[1].read_text().splitlines()
    tutor = Translator.load(teacher)
    lists = tutor.translate_nbest(lines, 3, beam=3)
    got = D.teacher_targets(teacher, tiny_pairs[0], tmp_path / "s", beam=3, quiet=True,
                            references=tiny_pairs[1]).read_text().splitlines()
    assert got == [D.closest_to_reference([h.text for h in hyps], ref) for hyps, ref in zip(lists, refs)]
    assert sum(g != hyps[0].text for g, hyps in zip(got, lists)) > 0      # the choice is not always the best
    # references that are the teacher's own best translations give plain distillation's targets
    (tmp_path / "best.de").write_text("".join(hyps[0].text + "\n" for hyps in lists))
    plain = D.teacher_targets(teacher, tiny_pairs[0], tmp_path / "a", beam=3, quiet=True).read_text()
    assert D.teacher_targets(teacher, tiny_pairs[0], tmp_path / "b", beam=3, quiet=True,
                             references=tmp_path / "best.de").read_text() == plain
    with pytest.raises(ConfigError, match="another teacher, source or settings"):    # never mixed
        D.teacher_targets(teacher, tiny_pairs[0], tmp_path / "a", beam=3, quiet=True, references=tiny_pairs[1])
    (tmp_path / "short.de").write_text("".join(r + "\n" for r in refs[:-1]))
    with pytest.raises(CorpusError, match="none.de: no such reference file"):
        D.teacher_targets(teacher, tiny_pairs[0], tmp_path / "c", beam=3, quiet=True, references=tmp_path / "none.de")
    with pytest.raises(CorpusError, match=f"{len(refs) - 1} lines but"):
        D.teacher_targets(teacher, tiny_pairs[0], tmp_path / "c", beam=3, quiet=True, references=tmp_path / "short.de")


def test_cli_distill_with_seq_inter(tmp_path, teacher, tiny_pairs):  # noqa: F811
    subprocess.run([sys.executable, "-m", "lmkit.cli.main", "-q", "translate", "distill", str(teacher),
                    "--train-src", str(tiny_pairs[0]), "--seq-inter", str(tiny_pairs[1]), "-o", str(tmp_path / "s"),
                    "--beam", "3", "--emb", "16", "--hidden", "24", "--attn", "16", "--batch", "12",
                    "--epochs", "1", "--max-steps", "2"], check=True)
    meta = json.loads((tmp_path / "s" / "distill" / "meta.json").read_text())
    assert meta["closest_to_references_crc32"] == D.file_crc32(tiny_pairs[1])
    assert Translator.load(tmp_path / "s").model.config.hidden == 24
