"""Intrinsic evaluation of word vectors: Google analogies and word-pair similarity."""
from __future__ import annotations

import logging
import os

import numpy as np

from .._io import open_binary
from ..errors import ModelFormatError

log = logging.getLogger(__name__)


def _lines(path):
    with open_binary(path) as f:
        for n, raw in enumerate(f, 1):
            yield n, raw.decode("utf-8", errors="replace").strip()


def analogies(kv, path: str | os.PathLike, restrict_vocab: int = 30000, case_insensitive: bool = True,
              batch: int = 2048, dummy4unknown: bool = False) -> dict:
    """3CosAdd accuracy per section and in total; gensim's conventions (the three question
    words are excluded from the answers; questions outside the vocabulary are skipped, or
    with ``dummy4unknown`` counted as wrong answers)."""
    limit = min(restrict_vocab, len(kv))
    words = kv.words[:limit]
    stoi: dict[str, int] = {}
    for i, w in enumerate(words):
        stoi.setdefault(w.upper() if case_insensitive else w, i)
    sections: list[dict] = []
    questions: list[tuple[int, int, int, int, int]] = []  # section, a, b, c, expected
    skipped = 0
    for n, line in _lines(path):
        if not line:
            continue
        if line.startswith(":"):
            sections.append({"section": line[1:].strip(), "correct": 0, "incorrect": 0, "skipped": 0})
            continue
        if not sections:
            raise ModelFormatError(f"{path}:{n}: a question before any ': section' line")
        parts = line.split()
        if len(parts) != 4:
            raise ModelFormatError(f"{path}:{n}: expected 4 words, got {len(parts)}")
        if case_insensitive:
            parts = [p.upper() for p in parts]
        ids = [stoi.get(p) for p in parts]
        if None in ids:
            sections[-1]["skipped"] += 1
            skipped += 1
            if dummy4unknown:
                sections[-1]["incorrect"] += 1
            continue
        questions.append((len(sections) - 1, *ids))  # type: ignore[arg-type]
    normed = kv.unit_rows(slice(0, limit))
    q = np.array(questions, dtype=np.int64).reshape(-1, 5)
    for start in range(0, len(q), batch):
        chunk = q[start:start + batch]
        query = normed[chunk[:, 2]] - normed[chunk[:, 1]] + normed[chunk[:, 3]]
        query /= np.maximum(np.linalg.norm(query, axis=1, keepdims=True), 1e-12)
        scores = query @ normed.T
        rows = np.arange(len(chunk))
        for col in (1, 2, 3):
            scores[rows, chunk[:, col]] = -np.inf
        best = np.argmax(scores, axis=1)
        for (sec, *_rest, expected), guess in zip(chunk.tolist(), best.tolist()):
            sections[sec]["correct" if guess == expected else "incorrect"] += 1
    for s in sections:
        tried = s["correct"] + s["incorrect"]
        s["accuracy"] = s["correct"] / tried if tried else float("nan")
    correct = sum(s["correct"] for s in sections)
    tried = sum(s["correct"] + s["incorrect"] for s in sections)
    semantic = [s for s in sections if not s["section"].startswith("gram")]
    syntactic = [s for s in sections if s["section"].startswith("gram")]

    def acc(group):
        c = sum(s["correct"] for s in group)
        t = sum(s["correct"] + s["incorrect"] for s in group)
        return c / t if t else float("nan")
    return {"accuracy": correct / tried if tried else float("nan"), "correct": correct, "tried": tried,
            "skipped": skipped, "semantic": acc(semantic), "syntactic": acc(syntactic), "sections": sections}


def _rank(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), as Spearman's rho needs."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(len(x), dtype=np.float64)
    sx = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sx[j + 1] == sx[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0
        i = j + 1
    return ranks


def word_pairs(kv, path: str | os.PathLike, delimiter: str = "\t", case_insensitive: bool = True,
               dummy4unknown: bool = False) -> dict:
    """Pearson and Spearman correlation of cosine similarity with the human scores (pairs with
    an unknown word skipped, or with ``dummy4unknown`` given similarity 0)."""
    lookup: dict[str, int] = {}
    for i, w in enumerate(kv.words):
        lookup.setdefault(w.lower() if case_insensitive else w, i)
    sims, gold = [], []
    oov = total = 0
    for n, line in _lines(path):
        if not line or line.startswith("#"):
            continue
        parts = line.split(delimiter) if delimiter in line else line.split()
        if len(parts) < 3:
            raise ModelFormatError(f"{path}:{n}: expected 'word1 word2 score'")
        a, b = (parts[0], parts[1]) if not case_insensitive else (parts[0].lower(), parts[1].lower())
        try:
            score = float(parts[2])
        except ValueError:
            raise ModelFormatError(f"{path}:{n}: score {parts[2]!r} is not a number") from None
        total += 1
        if a not in lookup or b not in lookup:
            oov += 1
            if dummy4unknown:
                sims.append(0.0)
                gold.append(score)
            continue
        u = kv.unit_rows(np.array([lookup[a], lookup[b]]))
        sims.append(float(u[0] @ u[1]))
        gold.append(score)
    s, g = np.array(sims), np.array(gold)
    nan = float("nan")
    if len(s) < 2:
        return {"pearson": nan, "spearman": nan, "pearson_p": nan, "spearman_p": nan, "pairs": len(s),
                "oov_ratio": 1.0}
    pearson = float(np.corrcoef(s, g)[0, 1])
    spearman = float(np.corrcoef(_rank(s), _rank(g))[0, 1])
    return {"pearson": pearson, "spearman": spearman, "pearson_p": correlation_p_value(pearson, len(s)),
            "spearman_p": correlation_p_value(spearman, len(s)), "pairs": len(s),
            "oov_ratio": oov / total if total else nan}


def correlation_p_value(r: float, n: int) -> float:
    """Two-sided p-value of a correlation ``r`` over ``n`` pairs under no correlation:
    t = r sqrt((n - 2) / (1 - r^2)) on n - 2 degrees of freedom, i.e. the regularised incomplete
    beta I_x(df / 2, 1 / 2) at x = df / (df + t^2) = 1 - r^2 (what scipy's pearsonr and
    spearmanr report)."""
    if not np.isfinite(r) or n < 3:
        return float("nan")
    r = min(1.0, abs(r))
    if r == 1.0:
        return 0.0
    return _betainc((n - 2) / 2.0, 0.5, 1.0 - r * r)


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) by its continued fraction (modified Lentz), on the
    side where it converges fast (I_x(a, b) = 1 - I_{1-x}(b, a))."""
    import math
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc(b, a, 1.0 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
                     + b * math.log1p(-x)) / a
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 10_000):
        for even in (True, False):
            if even:
                num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            else:
                num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * f
