"""BLEU and chrF computed exactly as sacreBLEU computes them, with their signatures.

BLEU: tokenizers ``13a`` (default), ``none``, ``intl``, ``char``; one or several reference
streams (n-gram counts clipped by the maximum over the references, the closest reference
length for the brevity penalty); smoothing ``exp`` (default), ``floor``, ``add-k``,
``none``; effective order for sentence-level scores. chrF (``word_order=0``) and chrF++
(``word_order=2``): character n-grams up to 6, beta 2, the best reference per sentence.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from .. import __version__ as VERSION  # the package top is lazy: this loads no family
from ..errors import ConfigError

_13A = [(re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
        (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
        (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
        (re.compile(r"([0-9])(-)"), r"\1 \2 ")]

SMOOTHING_DEFAULTS = {"none": None, "floor": 0.1, "add-k": 1, "exp": None}


@lru_cache(maxsize=2**16)
def tokenize_13a(line: str) -> str:
    """mteval-v13a tokenisation (sacreBLEU's default)."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    line = f" {line} "
    for pattern, repl in _13A:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


@lru_cache(maxsize=1)
def _intl_patterns():
    import regex  # nltk's dependency: Unicode property classes
    return [(regex.compile(r"(\P{N})(\p{P})"), r"\1 \2 "),
            (regex.compile(r"(\p{P})(\P{N})"), r" \1 \2"),
            (regex.compile(r"(\p{S})"), r" \1 ")]


@lru_cache(maxsize=2**16)
def tokenize_intl(line: str) -> str:
    """mteval-v14 international tokenisation: punctuation not between digits, and symbols."""
    for pattern, repl in _intl_patterns():
        line = pattern.sub(repl, line)
    return " ".join(line.split())


def tokenize_char(line: str) -> str:
    """Every character a token."""
    return " ".join(line)


TOKENIZERS: dict[str, Callable[[str], str]] = {
    "13a": tokenize_13a, "none": lambda line: line, "intl": tokenize_intl, "char": tokenize_char}


# ---------------------------------------------------------------------------- BLEU
@dataclass
class BLEUScore:
    score: float              # 0..100
    precisions: list[float]   # n-gram precisions, 0..100
    bp: float
    sys_len: int
    ref_len: int
    signature: str
    counts: list[int] = field(default_factory=list)   # matching n-grams per order
    totals: list[int] = field(default_factory=list)   # hypothesis n-grams per order

    @property
    def ratio(self) -> float:
        return self.sys_len / self.ref_len if self.ref_len else 0.0

    def __str__(self) -> str:
        p = "/".join(f"{x:.1f}" for x in self.precisions)
        return (f"BLEU = {self.score:.2f} {p} (BP = {self.bp:.3f} ratio = {self.ratio:.3f} "
                f"hyp_len = {self.sys_len} ref_len = {self.ref_len}) [{self.signature}]")


def _streams(references) -> list[Sequence[str]]:
    """One stream (a list of strings) or several (a list of lists)."""
    if isinstance(references, str):
        raise ConfigError("references must be a list of lines, or a list of such lists (one per reference)")
    refs = list(references)
    if refs and all(isinstance(r, str) for r in refs):
        return [refs]
    if not refs or not all(isinstance(r, (list, tuple)) for r in refs):
        raise ConfigError("references must be a list of lines, or a list of such lists (one per reference)")
    return refs


def _aligned_streams(hypotheses: Sequence[str], references) -> list[Sequence[str]]:
    """The reference streams, each checked to have one line per hypothesis."""
    if isinstance(hypotheses, str):
        raise ConfigError("hypotheses must be a list of lines, not one string")
    streams = _streams(references)
    for s in streams:
        if len(s) != len(hypotheses):
            raise ConfigError(f"{len(hypotheses)} hypotheses but {len(s)} references in a stream")
    return streams


def _check_options(tokenize: str, smooth_method: str) -> None:
    if tokenize not in TOKENIZERS:
        raise ConfigError(f"tokenize must be one of {', '.join(TOKENIZERS)}, got {tokenize!r}")
    if smooth_method not in SMOOTHING_DEFAULTS:
        raise ConfigError(f"smooth_method must be one of {', '.join(SMOOTHING_DEFAULTS)}, got {smooth_method!r}")


def _ngrams(tokens: list[str], max_order: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for n in range(1, max_order + 1) for i in range(len(tokens) - n + 1))


def _closest_length(hyp_len: int, ref_lens: list[int]) -> int:
    """The reference length closest to the hypothesis' (the shorter one on a tie)."""
    return min(ref_lens, key=lambda r: (abs(hyp_len - r), r))


def _bleu_statistics(hypotheses: Sequence[str], streams: list[Sequence[str]], tokenize: str,
                     lowercase: bool, max_order: int):
    tok = TOKENIZERS[tokenize]

    def prep(line: str) -> list[str]:
        line = line.lower() if lowercase else line
        return tok(line.rstrip()).split()
    correct, total = [0] * max_order, [0] * max_order
    sys_len = ref_len = 0
    for i, hyp in enumerate(hypotheses):
        refs = [stream[i] for stream in streams if stream[i] is not None]
        if not refs:
            raise ConfigError(f"line {i + 1}: no reference")
        max_counts: Counter = Counter()
        lengths = []
        for ref in refs:
            words = prep(ref)
            lengths.append(len(words))
            for gram, c in _ngrams(words, max_order).items():
                if c > max_counts[gram]:
                    max_counts[gram] = c
        h = prep(hyp)
        sys_len += len(h)
        ref_len += _closest_length(len(h), lengths)
        for gram, c in _ngrams(h, max_order).items():
            n = len(gram) - 1
            total[n] += c
            correct[n] += min(c, max_counts.get(gram, 0))
    return correct, total, sys_len, ref_len


def bleu_from_statistics(correct: Sequence[int], total: Sequence[int], sys_len: int, ref_len: int,
                         smooth_method: str = "exp", smooth_value: float | None = None,
                         effective_order: bool = False, signature: str = "") -> BLEUScore:
    """BLEU from its sufficient statistics (sacreBLEU's ``compute_bleu``)."""
    max_order = len(correct)
    value = float(smooth_value if smooth_value is not None else (SMOOTHING_DEFAULTS.get(smooth_method) or 0.0))
    correct_f: list[float] = [float(x) for x in correct]
    total_f: list[float] = [float(x) for x in total]
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    precisions = [0.0] * max_order
    counts, totals = [int(x) for x in correct], [int(x) for x in total]
    if not any(correct_f):        # no n-gram matches at all: 0, whatever the smoothing (sacreBLEU #141)
        return BLEUScore(0.0, precisions, bp, sys_len, ref_len, signature, counts, totals)
    smooth_mteval = 1.0
    eff_order = max_order
    for n in range(1, max_order + 1):
        if smooth_method == "add-k" and n > 1:
            correct_f[n - 1] += value
            total_f[n - 1] += value
        if total_f[n - 1] == 0:
            break
        if effective_order:
            eff_order = n
        if correct_f[n - 1] == 0:
            if smooth_method == "exp":
                smooth_mteval *= 2
                precisions[n - 1] = 100.0 / (smooth_mteval * total_f[n - 1])
            elif smooth_method == "floor":
                precisions[n - 1] = 100.0 * value / total_f[n - 1]
        else:
            precisions[n - 1] = 100.0 * correct_f[n - 1] / total_f[n - 1]
    score = bp * math.exp(sum(math.log(p) if p > 0 else -9999999999 for p in precisions[:eff_order]) / eff_order)
    return BLEUScore(score, precisions, bp, sys_len, ref_len, signature, counts, totals)


def _bleu_signature(nrefs: int, tokenize: str, lowercase: bool, smooth: str, eff: bool) -> str:
    return (f"nrefs:{nrefs}|case:{'lc' if lowercase else 'mixed'}|eff:{'yes' if eff else 'no'}|"
            f"tok:{tokenize}|smooth:{smooth}|lmkit:{VERSION}")


def corpus_bleu(hypotheses: Sequence[str], references, tokenize: str = "13a", lowercase: bool = False,
                max_order: int = 4, smooth_method: str = "exp", smooth_value: float | None = None,
                use_effective_order: bool = False) -> BLEUScore:
    """Corpus BLEU of hypothesis lines against one reference stream (a list of lines) or
    several (a list of such lists, as sacreBLEU's ``corpus_bleu``)."""
    _check_options(tokenize, smooth_method)
    streams = _aligned_streams(hypotheses, references)
    correct, total, sys_len, ref_len = _bleu_statistics(hypotheses, streams, tokenize, lowercase, max_order)
    sig = _bleu_signature(len(streams), tokenize, lowercase, smooth_method, use_effective_order)
    return bleu_from_statistics(correct, total, sys_len, ref_len, smooth_method=smooth_method,
                                smooth_value=smooth_value, effective_order=use_effective_order, signature=sig)


def sentence_bleu(hypothesis: str, references: Sequence[str], tokenize: str = "13a", lowercase: bool = False,
                  smooth_method: str = "exp", smooth_value: float | None = None,
                  use_effective_order: bool = True) -> BLEUScore:
    """BLEU of one sentence against its references (effective order on by default)."""
    if isinstance(references, str):
        references = [references]
    return corpus_bleu([hypothesis], [[r] for r in references], tokenize, lowercase,
                       smooth_method=smooth_method, smooth_value=smooth_value,
                       use_effective_order=use_effective_order)


# ---------------------------------------------------------------------------- chrF
_PUNCTS = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


@dataclass
class CHRFScore:
    score: float      # 0..100
    char_order: int
    word_order: int
    beta: int
    signature: str

    @property
    def name(self) -> str:
        return "chrF" + "+" * self.word_order

    def __str__(self) -> str:
        return f"{self.name}{self.beta} = {self.score:.2f} [{self.signature}]"


def _split_punctuation(sent: str) -> list[str]:
    """Words with one leading or trailing punctuation mark split off (chrF++'s words)."""
    out: list[str] = []
    for w in sent.split():
        if len(w) > 1 and w[-1] in _PUNCTS:
            out += [w[:-1], w[-1]]
        elif len(w) > 1 and w[0] in _PUNCTS:
            out += [w[0], w[1:]]
        else:
            out.append(w)
    return out


def _chrf_ngrams(sent: str, char_order: int, word_order: int, whitespace: bool) -> list[Counter]:
    chars = sent if whitespace else "".join(sent.split())
    grams = [Counter(chars[i:i + n] for i in range(len(chars) - n + 1)) for n in range(1, char_order + 1)]
    if word_order:
        words = _split_punctuation(sent)
        grams += [Counter(" ".join(words[i:i + n]) for i in range(len(words) - n + 1))
                  for n in range(1, word_order + 1)]
    return grams


def _chrf_f(stats: Sequence[float], beta: int, eps_smoothing: bool) -> float:
    eps = 1e-16
    factor = beta ** 2
    order = len(stats) // 3
    score = avg_p = avg_r = 0.0
    eff = 0
    for i in range(order):
        n_hyp, n_ref, n_match = stats[3 * i:3 * i + 3]
        p = n_match / n_hyp if n_hyp > 0 else eps
        r = n_match / n_ref if n_ref > 0 else eps
        denom = factor * p + r
        score += ((1 + factor) * p * r / denom) if denom > 0 else eps
        if n_hyp > 0 and n_ref > 0:
            avg_p += p
            avg_r += r
            eff += 1
    if eps_smoothing:
        return 100 * score / order
    if eff == 0:
        return 0.0
    avg_p, avg_r = avg_p / eff, avg_r / eff
    if avg_p + avg_r == 0:
        return 0.0
    return 100 * (1 + factor) * avg_p * avg_r / (factor * avg_p + avg_r)


def corpus_chrf(hypotheses: Sequence[str], references, char_order: int = 6, word_order: int = 0,
                beta: int = 2, lowercase: bool = False, whitespace: bool = False,
                eps_smoothing: bool = False) -> CHRFScore:
    """chrF (``word_order=0``) or chrF++ (``word_order=2``) of hypothesis lines against one
    or several reference streams: per sentence the statistics of its best reference, summed
    over the corpus, then the F-beta score."""
    streams = _aligned_streams(hypotheses, references)
    order = char_order + word_order
    totals = [0] * (3 * order)
    for i, hyp in enumerate(hypotheses):
        hyp = hyp.lower() if lowercase else hyp
        h = _chrf_ngrams(hyp, char_order, word_order, whitespace)
        best, best_f = None, -1.0
        for stream in streams:
            ref = stream[i]
            if ref is None:
                continue
            r = _chrf_ngrams(ref.lower() if lowercase else ref, char_order, word_order, whitespace)
            stats = []
            for hc, rc in zip(h, r):
                match = sum(min(c, rc[g]) for g, c in hc.items() if g in rc)
                stats += [sum(hc.values()) if rc else 0, sum(rc.values()), match]
            f = _chrf_f(stats, beta, eps_smoothing)
            if f > best_f:
                best, best_f = stats, f
        if best is None:
            raise ConfigError(f"line {i + 1}: no reference")
        totals = [a + b for a, b in zip(totals, best)]
    sig = (f"nrefs:{len(streams)}|case:{'lc' if lowercase else 'mixed'}|eff:{'no' if eps_smoothing else 'yes'}|"
           f"nc:{char_order}|nw:{word_order}|space:{'yes' if whitespace else 'no'}|lmkit:{VERSION}")
    return CHRFScore(_chrf_f(totals, beta, eps_smoothing), char_order, word_order, beta, sig)


def sentence_chrf(hypothesis: str, references: Sequence[str], **options) -> CHRFScore:
    if isinstance(references, str):
        references = [references]
    return corpus_chrf([hypothesis], [[r] for r in references], **options)
