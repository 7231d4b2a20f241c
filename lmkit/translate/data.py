"""Parallel corpora: reading aligned files, length filtering, bucketed padded batches."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import CorpusError
from ..text import BOS_ID, EOS_ID, PAD_ID, Corpus, Tokenizer, Vocabulary, encode_corpus

log = logging.getLogger(__name__)
SPECIALS = ("<unk>", "<s>", "</s>", "<pad>")


@dataclass
class ParallelData:
    """Aligned sentence pairs as token-id lists (no <s>/</s>); what was dropped and why."""
    src: list[np.ndarray]
    tgt: list[np.ndarray]
    skipped_empty: int = 0
    skipped_long: int = 0

    def __len__(self) -> int:
        return len(self.src)

    @property
    def n_target_tokens(self) -> int:
        """Target tokens per epoch, one </s> per sentence included."""
        return int(sum(len(t) + 1 for t in self.tgt))


def read_parallel(src_path, tgt_path, tokenizer: Tokenizer) -> tuple[list[list[str]], list[list[str]]]:
    src = list(Corpus(src_path, tokenizer, quiet=True))
    tgt = list(Corpus(tgt_path, tokenizer, quiet=True))
    if len(src) != len(tgt):
        raise CorpusError(f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}; "
                          "parallel files must have one line per sentence pair")
    return src, tgt


def build_vocabs(src: list[list[str]], tgt: list[list[str]], min_count: int = 2,
                 joint: bool = False) -> tuple[Vocabulary, Vocabulary]:
    """Source and target vocabularies (<unk> <s> </s> <pad> first), or one joint vocabulary."""
    if joint:
        v = Vocabulary.build(src + tgt, min_count=min_count, specials=SPECIALS)
        return v, v
    return (Vocabulary.build(src, min_count=min_count, specials=SPECIALS),
            Vocabulary.build(tgt, min_count=min_count, specials=SPECIALS))


def encode_parallel(src, tgt, src_vocab: Vocabulary, tgt_vocab: Vocabulary,
                    max_len: int | None = None) -> ParallelData:
    """Encode pairs, dropping those with an empty side and those longer than ``max_len``
    tokens on either side (counted, and logged once)."""
    es, et = encode_corpus(src, src_vocab), encode_corpus(tgt, tgt_vocab)
    out = ParallelData([], [])
    for a, b in zip(es, et):
        if len(a) == 0 or len(b) == 0:
            out.skipped_empty += 1
        elif max_len is not None and (len(a) > max_len or len(b) > max_len):
            out.skipped_long += 1
        else:
            out.src.append(np.asarray(a, np.int64))
            out.tgt.append(np.asarray(b, np.int64))
    if out.skipped_empty or out.skipped_long:
        log.info("skipped %d pairs with an empty side and %d longer than %s tokens",
                 out.skipped_empty, out.skipped_long, max_len)
    if not out.src:
        raise CorpusError("no sentence pairs left to train on")
    return out


def make_batches(data: ParallelData, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Pairs sorted by source length (plus noise), cut into batches, batch order shuffled;
    the same (seed, epoch) always gives the same batches."""
    rng = np.random.default_rng([seed, epoch])
    lengths = np.array([len(s) for s in data.src], dtype=np.float64)
    order = np.argsort(lengths + rng.uniform(0, 1.5, len(lengths)), kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def pad_batch(data: ParallelData, idx: np.ndarray):
    """src [B, S] (each with </s>), src mask, tgt_in (<s> y) and tgt_out (y </s>) [B, T], tgt mask."""
    srcs = [data.src[i] for i in idx]
    tgts = [data.tgt[i] for i in idx]
    return pad_sources(srcs) + pad_targets(tgts)


def pad_sources(srcs: list[np.ndarray]):
    B, S = len(srcs), max(len(s) for s in srcs) + 1
    src = np.full((B, S), PAD_ID, dtype=np.int64)
    for r, s in enumerate(srcs):
        src[r, :len(s)] = s
        src[r, len(s)] = EOS_ID
    return src, (src != PAD_ID).astype(np.float32)


def pad_targets(tgts: list[np.ndarray]):
    B, T = len(tgts), max(len(t) for t in tgts) + 1
    tin = np.full((B, T), PAD_ID, dtype=np.int64)
    tout = np.full((B, T), PAD_ID, dtype=np.int64)
    for r, t in enumerate(tgts):
        tin[r, 0] = BOS_ID
        tin[r, 1:len(t) + 1] = t
        tout[r, :len(t)] = t
        tout[r, len(t)] = EOS_ID
    return tin, tout, (tout != PAD_ID).astype(np.float32)
