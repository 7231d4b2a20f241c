"""The lines every scoring command prints (`ngram score`, `neural score`, `interpolate`):
per sentence its log10 probability and OOV count (or every word's score), then one summary
line with perplexity including and excluding OOVs and a signature of the settings."""
from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

import numpy as np

from ..lm import CorpusScores

if TYPE_CHECKING:
    from ..text import Vocabulary


def write_scores(out: TextIO, scores: CorpusScores, ids: np.ndarray, offsets: np.ndarray, vocab: Vocabulary,
                 lengths: np.ndarray | None, signature: str, *, per_word: bool = False, summary_only: bool = False,
                 eos: bool = True, kind: str = "perplexity") -> None:
    """``lengths`` (int [tokens]): the n-gram length printed beside each word with ``per_word``
    (the only output that needs the words: a mapped model's vocabulary is decoded only then)."""
    ids = np.asarray(ids)
    lp = scores.logprobs
    if not summary_only:
        itos = vocab.itos if per_word else []
        for s in range(len(scores.lengths)):
            if per_word:
                a, b = int(scores.starts[s]), int(scores.starts[s] + scores.lengths[s])
                words = [itos[i] for i in ids[offsets[s]:offsets[s + 1]]] + (["</s>"] if eos else [])
                ln = lengths[a:b].tolist() if lengths is not None else [0] * (b - a)
                out.write(" ".join(f"{w}={n}/{p:.4f}" for w, p, n in zip(words, lp[a:b].tolist(), ln)) + "\n")
            out.write(f"{scores.sentence_logprob[s]:.4f}\tOOV={int(scores.sentence_oovs[s])}\n")
    r = scores.perplexity()
    out.write(f"sentences={r.n_sentences} tokens={r.n_tokens} OOVs={r.n_oov} logprob={r.logprob:.4f} "
              f"{kind}={r.perplexity:.4f} excluding_OOVs={r.perplexity_excl_oov:.4f} [{signature}]\n")
