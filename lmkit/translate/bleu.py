"""Corpus BLEU computed as sacreBLEU does by default (13a tokenisation, exp smoothing,
brevity penalty over the corpus), with its signature."""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from .. import __version__
from ..errors import ConfigError

_13A = [(re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
        (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
        (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
        (re.compile(r"([0-9])(-)"), r"\1 \2 ")]


def tokenize_13a(line: str) -> str:
    """mteval-v13a tokenisation (sacreBLEU's default)."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} "
    for pattern, repl in _13A:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


@dataclass
class BLEUScore:
    score: float            # 0..100
    precisions: list[float] # n-gram precisions, 0..100
    bp: float
    sys_len: int
    ref_len: int
    signature: str

    def __str__(self) -> str:
        p = "/".join(f"{x:.1f}" for x in self.precisions)
        return (f"BLEU = {self.score:.2f} {p} (BP = {self.bp:.3f} ratio = {self.sys_len / max(self.ref_len, 1):.3f} "
                f"hyp_len = {self.sys_len} ref_len = {self.ref_len}) [{self.signature}]")


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str], tokenize: str = "13a",
                lowercase: bool = False, max_order: int = 4) -> BLEUScore:
    """BLEU of detokenised (``tokenize='13a'``) or already tokenised (``'none'``) lines, one
    reference per line."""
    if len(hypotheses) != len(references):
        raise ConfigError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if tokenize not in ("13a", "none"):
        raise ConfigError(f"tokenize must be '13a' or 'none', got {tokenize!r}")
    correct = [0] * max_order
    total = [0] * max_order
    sys_len = ref_len = 0
    for hyp, ref in zip(hypotheses, references):
        if lowercase:
            hyp, ref = hyp.lower(), ref.lower()
        if tokenize == "13a":
            hyp, ref = tokenize_13a(hyp), tokenize_13a(ref)
        h, r = hyp.split(), ref.split()
        sys_len += len(h)
        ref_len += len(r)
        for n in range(1, max_order + 1):
            hc, rc = _ngrams(h, n), _ngrams(r, n)
            correct[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            total[n - 1] += max(len(h) - n + 1, 0)
    precisions = [0.0] * max_order
    smooth = 1.0
    for n in range(max_order):
        if total[n] == 0:
            break
        if correct[n] == 0:
            smooth *= 2
            precisions[n] = 100.0 / (smooth * total[n])
        else:
            precisions[n] = 100.0 * correct[n] / total[n]
    if sys_len == 0:
        bp = 0.0
    else:
        bp = 1.0 if sys_len > ref_len else math.exp(1.0 - ref_len / sys_len)
    if min(precisions) <= 0:
        score = 0.0
    else:
        score = bp * math.exp(sum(math.log(p) for p in precisions) / max_order)
    sig = (f"nrefs:1|case:{'lc' if lowercase else 'mixed'}|eff:no|tok:{tokenize}|smooth:exp|"
           f"lmkit:{__version__}")
    return BLEUScore(score, precisions, bp, sys_len, ref_len, sig)
