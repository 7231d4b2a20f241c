"""numba kernels of the n-gram family: plain arrays in and out, no objects.

N-gram ids are hierarchical: an order-k n-gram is the pair (id of its (k-1)-word prefix,
last word), packed as the int64 key ``prefix_id * V + word``. Unigram ids are word ids.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .._numfmt import put_bytes
from ..text._kernels import BYTE_CLASS, find_or_add, find_token, find_word, space_length
from .binfile import (  # noqa: F401 (F_* are part of the kernels' interface)
    F_BASE,
    F_BO_BITS,
    F_BO_CENTERS,
    F_COUNT,
    F_LP_BITS,
    F_LP_CENTERS,
    F_PTR,
    F_RECORD,
    F_SIZE,
    F_STORED,
    F_WORD,
    HASH_MULT,
    RAW,
    SIGN_BIT,
    SLOT_WORDS,
)

_EMPTY = np.int64(-1)


@njit(cache=True, nogil=True)
def pad_sentences(ids, offsets, bos, eos):
    """Token stream with every sentence wrapped in <s> ... </s>; int32 [n_tokens + 2 S]."""
    n_sent = len(offsets) - 1
    out = np.empty(len(ids) + 2 * n_sent, dtype=np.int32)
    p = 0
    for s in range(n_sent):
        out[p] = bos
        p += 1
        for i in range(offsets[s], offsets[s + 1]):
            out[p] = ids[i]
            p += 1
        out[p] = eos
        p += 1
    return out


@njit(cache=True)
def _capacity(n):
    cap = 16
    while cap < 2 * n:
        cap *= 2
    return cap


@njit(cache=True, nogil=True)
def build_hash(keys, like):
    """Open-addressing table over distinct non-negative int64 keys: key -> position in ``keys``.

    Returns (table_keys int64[cap], table_vals[cap] of ``like``'s dtype (int32 halves the
    values' memory when positions fit)); empty slots hold -1.
    """
    cap = _capacity(len(keys))
    shift = np.uint64(64 - int(np.log2(cap)))
    tk = np.full(cap, -1, dtype=np.int64)
    tv = np.full(cap, -1, dtype=like.dtype)
    mask = cap - 1
    for i in range(len(keys)):
        k = keys[i]
        h = np.int64((np.uint64(k) * HASH_MULT) >> shift)
        while tk[h] != -1 and tk[h] != k:
            h = (h + 1) & mask
        tk[h] = k
        tv[h] = i
    return tk, tv


@njit(cache=True, nogil=True, inline="always")
def _shift_of(cap):
    """64 - log2(cap) for a power-of-two capacity: the hash's shift (see :func:`build_hash`)."""
    bits = 0
    while (np.int64(1) << bits) < cap:
        bits += 1
    return np.uint64(64 - bits)


@njit(cache=True, nogil=True)
def shifts_of(table_cap):
    """:func:`_shift_of` of every order's capacity (0 where an order has no table)."""
    out = np.zeros(len(table_cap), dtype=np.uint64)
    for k in range(len(table_cap)):
        if table_cap[k] > 0:
            out[k] = _shift_of(table_cap[k])
    return out


@njit(cache=True, nogil=True, inline="always")
def _probe(tk, tv, start, cap, shift, key):
    """Position of ``key`` in the table slice ``[start, start + cap)`` hashed with ``shift``, or -1."""
    if cap == 0:
        return -1
    h = np.int64((np.uint64(key) * HASH_MULT) >> shift)
    mask = cap - 1
    while True:
        k = tk[start + h]
        if k == key:
            return tv[start + h]
        if k == -1:
            return -1
        h = (h + 1) & mask


@njit(cache=True, nogil=True, inline="always")
def read_bits(bits, at, width):
    """The ``width``-bit unsigned field (width <= 64) starting at bit ``at`` of ``bits``."""
    if width == 0:
        return np.int64(0)
    q = at >> 6
    s = np.uint64(at & 63)
    v = bits[q] >> s
    if s + np.uint64(width) > np.uint64(64):
        v |= bits[q + 1] << (np.uint64(64) - s)
    if width < 64:
        v &= (np.uint64(1) << np.uint64(width)) - np.uint64(1)
    return np.int64(v)


@njit(cache=True, nogil=True, inline="always")
def _field_at(fields, k, i, column):
    """Bit position of field ``column`` (F_WORD .. F_BO_BITS) of order k's record ``i``."""
    at = fields[k, F_BASE] + i * fields[k, F_RECORD]
    for c in range(F_WORD, column):
        at += fields[k, c]
    return at


@njit(cache=True, nogil=True, inline="always")
def trie_child(bits, fields, k, parent, w):
    """Id of the order-k n-gram (parent, w) in a trie, or -1: the parent's children are the
    records from its pointer to the next record's pointer, sorted by word: binary search.
    Pointers are clamped to the order's records, so damaged ones cannot reach outside them."""
    n = fields[k, F_SIZE]
    lo = min(read_bits(bits, _field_at(fields, k - 1, parent, F_PTR), fields[k - 1, F_PTR]), n)
    hi = min(read_bits(bits, _field_at(fields, k - 1, parent + 1, F_PTR), fields[k - 1, F_PTR]), n)
    width = fields[k, F_WORD]
    base = fields[k, F_BASE]
    record = fields[k, F_RECORD]
    while lo < hi:
        mid = (lo + hi) >> 1
        x = read_bits(bits, base + mid * record, width)
        if x < w:
            lo = mid + 1
        elif x > w:
            hi = mid
        else:
            return mid
    return -1


@intrinsic
def _float32_from_bits(typingctx, bits):
    """The float32 whose IEEE bits are the uint32 ``bits`` (a bit cast, no conversion)."""
    if not isinstance(bits, types.Integer) or bits.bitwidth != 32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(bits), codegen


@njit(cache=True, nogil=True, inline="always")
def trie_value(bits, fields, centers, floats, gram_start, k, i, column):
    """Order k's n-gram ``i`` in a trie: the value its record holds in ``column`` (F_LP_BITS /
    F_BO_BITS), a bin's code or the float32's bits (31: sign bit implied), or when the record
    holds none, ``floats[gram_start[k] + i]``."""
    width = fields[k, column]
    if width > 0:
        code = read_bits(bits, _field_at(fields, k, i, column), width)
        at = fields[k, column + 2]
        if at != RAW:
            return np.float64(centers[at + code])
        if width == 31:
            code |= SIGN_BIT
        return np.float64(_float32_from_bits(np.uint32(code)))
    return np.float64(floats[gram_start[k] + i])


@njit(cache=True, nogil=True, inline="always")
def _home_slot(key, cap):
    """Where ``key``'s probe starts in a table of ``cap`` slots (cap < 2**32): the top 32 bits
    of the multiplicative hash scaled to [0, cap)."""
    h = np.uint64(key) * HASH_MULT
    return np.int64(((h >> np.uint64(32)) * np.uint64(cap)) >> np.uint64(32))


@njit(cache=True, nogil=True, inline="always")
def probe_slot(slots, start, cap, key):
    """Slot (0 .. cap - 1) of ``key`` in the probing table at slot ``start`` of ``slots``, or -1.
    At most ``cap`` slots are read, so a table without an empty slot (a damaged file) still ends."""
    s = _home_slot(key, cap)
    for _ in range(cap):
        k = slots[SLOT_WORDS * (start + s)]
        if k == key:
            return s
        if k == -1:
            return -1
        s += 1
        if s == cap:
            s = 0
    return -1


@njit(cache=True, nogil=True)
def fill_slots(keys, logprob, backoff, slots, slot_vals, start, cap):
    """Insert one order's distinct keys with their values (``backoff`` may be empty) into its
    table (``slots`` int64 and ``slot_vals``, its float32 view); returns each key's slot."""
    out = np.empty(len(keys), dtype=np.int64)
    for i in range(len(keys)):
        s = _home_slot(keys[i], cap)
        while slots[SLOT_WORDS * (start + s)] != -1:
            s += 1
            if s == cap:
                s = 0
        slots[SLOT_WORDS * (start + s)] = keys[i]
        slot_vals[2 * SLOT_WORDS * (start + s) + 2] = logprob[i]
        if len(backoff):
            slot_vals[2 * SLOT_WORDS * (start + s) + 3] = backoff[i]
        out[i] = s
    return out


@njit(cache=True, nogil=True)
def check_slots(slots, slot_vals, start, cap, n, vocab_size, lower_slots_start, lower_cap, k):
    """"" if order k's probing table holds exactly ``n`` keys, keeps an empty slot, and every
    key is an n-gram of a listed context (k = 2: a word id) that its own lookup finds where it
    is (so it is reachable and listed once), with a possible log10 probability (<= 0 or -inf)
    and backoff (not NaN or +inf); else what is wrong."""
    empty = 0
    for s in range(cap):
        if slots[SLOT_WORDS * (start + s)] == -1:
            empty += 1
    if cap - empty != n:
        return "a number of keys other than its n-grams'"
    if empty == 0:
        return "no empty slot"
    for s in range(cap):
        key = slots[SLOT_WORDS * (start + s)]
        if key == -1:
            continue
        if key < 0:
            return "a negative key"
        ctx = key // vocab_size
        if k == 2:
            if ctx >= vocab_size:
                return "a context outside the vocabulary"
        elif ctx >= lower_cap or slots[SLOT_WORDS * (lower_slots_start + ctx)] == -1:
            return "a context that is not an n-gram of the order below"
        if probe_slot(slots, start, cap, key) != s:
            return "a key its lookup does not reach (or listed twice)"
        lp = slot_vals[2 * SLOT_WORDS * (start + s) + 2]
        bo = slot_vals[2 * SLOT_WORDS * (start + s) + 3]
        if np.isnan(lp) or lp > 0 or np.isnan(bo) or bo == np.inf:
            return "impossible probabilities or backoffs (NaN, > 0, +inf)"
    return ""


@njit(cache=True, nogil=True, inline="always")
def probing_value(slot_vals, table_start, floats, k, i, column):
    """Order k's n-gram ``i`` (a unigram's word id, else its slot) in the probing layout:
    ``floats[i]`` for unigrams, else word ``column`` (2 probability, 3 backoff) of its slot."""
    if k == 1:
        return np.float64(floats[i])
    return np.float64(slot_vals[2 * SLOT_WORDS * (table_start[k] + i) + column])


@njit(cache=True, nogil=True)
def score_words(ids, offsets, order, vocab_size, bos, eos,
                slots, slot_vals, table_start, table_cap, logprob, backoff, gram_start,
                trie_bits, trie_fields, centers, suffix_closed, use_bos, use_eos,
                unseen_context_backoff=0.0, uniform_fallback=np.nan):
    """Backoff scoring of every word of every sentence, word after word (what
    :func:`score_tokens` does for tries; the rule its probing path follows).

    The model's tables (see :class:`lmkit.ngram.layouts.Tables`): probing layout when
    ``trie_bits`` is None (order k's table is slots ``table_start[k] .. + table_cap[k]`` of
    ``slots``, values inside them; numba compiles the trie branches away), else the trie.
    ``suffix_closed``: every listed n-gram's suffix is listed too, so a word's lookups stop at
    the first missing n-gram, as KenLM's do (the longer ones cannot be listed).
    ``unseen_context_backoff``: log10 weight of a backoff step from a context the model does
    not list (0 for backoff models; stupid backoff's log10 0.4). ``uniform_fallback`` (log10
    1/V, or NaN): when finite, an n-gram not listed with the whole available context gets that
    context's weight times the uniform distribution instead of backing off to lower orders
    (additive smoothing). Returns, per scored word (</s> included when ``use_eos``): log10
    probability (float64), n-gram length used (int32).
    """
    uniform = not np.isnan(uniform_fallback)
    n_sent = len(offsets) - 1
    n_out = len(ids) + (n_sent if use_eos else 0)
    out_lp = np.empty(n_out, dtype=np.float64)
    out_len = np.empty(n_out, dtype=np.int32)
    ctx = np.full(order + 1, -1, dtype=np.int64)  # ctx[j]: id of the j-gram ending at the previous word
    new = np.full(order + 1, -1, dtype=np.int64)
    o = 0
    for s in range(n_sent):
        for j in range(order + 1):
            ctx[j] = -1
        history = 0   # words of context available (<s> included)
        if use_bos:
            ctx[1] = bos
            history = 1
        start, end = offsets[s], offsets[s + 1]
        last = end + 1 if use_eos else end
        for i in range(start, last):
            full = min(history, order - 1)   # context length the model could use
            w = eos if i == end else ids[i]
            # the longest n-gram (context, w) in the model; shorter ones are kept as the
            # next word's contexts
            new[1] = w
            found = 1
            for k in range(2, order + 1):
                c = ctx[k - 1]
                g = -1
                if c >= 0 and (found == k - 1 or not suffix_closed):
                    if trie_bits is None:
                        g = probe_slot(slots, table_start[k], table_cap[k], c * vocab_size + w)
                    else:
                        g = trie_child(trie_bits, trie_fields, k, c, w)
                new[k] = g
                if g >= 0:
                    found = k
            if uniform and found <= full:
                lp = uniform_fallback
                c = ctx[full]
                if c >= 0:
                    if trie_bits is None:
                        lp += probing_value(slot_vals, table_start, backoff, full, c, 3)
                    else:
                        lp += trie_value(trie_bits, trie_fields, centers, backoff, gram_start, full, c, F_BO_BITS)
            else:
                if trie_bits is None:
                    lp = probing_value(slot_vals, table_start, logprob, found, new[found], 2)
                else:
                    lp = trie_value(trie_bits, trie_fields, centers, logprob, gram_start, found, new[found],
                                    F_LP_BITS)
                # backoff weights of the contexts longer than the one used
                for j in range(found, full + 1):
                    c = ctx[j]
                    if c < 0:
                        lp += unseen_context_backoff
                    elif trie_bits is None:
                        lp += probing_value(slot_vals, table_start, backoff, j, c, 3)
                    else:
                        lp += trie_value(trie_bits, trie_fields, centers, backoff, gram_start, j, c, F_BO_BITS)
            out_lp[o] = lp
            out_len[o] = found
            o += 1
            for k in range(1, order):
                ctx[k] = new[k]
            history += 1
    return out_lp, out_len


#: positions scored together by :func:`score_tokens` (its scratch: (2 N + 5) x 8 bytes each)
SCORE_BLOCK = 1 << 15


@njit(cache=True, nogil=True, inline="always")
def _gram_values(k, g, order, slot_vals, table_start, logprob, backoff):
    """(log10 probability, log10 backoff; 0 for the highest order) of order k's n-gram ``g``
    (a word id for unigrams, else its slot) in the probing layout."""
    p = probing_value(slot_vals, table_start, logprob, k, g, 2)
    b = probing_value(slot_vals, table_start, backoff, k, g, 3) if k < order else 0.0
    return p, b


@njit(cache=True, nogil=True)
def score_tokens(ids, offsets, order, vocab_size, bos, eos,
                 slots, slot_vals, table_start, table_cap, logprob, backoff, gram_start,
                 trie_bits, trie_fields, centers, suffix_closed, use_bos, use_eos,
                 unseen_context_backoff=0.0, uniform_fallback=np.nan):
    """Backoff scoring of every word of every sentence: arguments and results as
    :func:`score_words` (per scored word, ``</s>`` included when ``use_eos``: log10 probability
    float64, n-gram length used int32).

    Probing tables are scored :data:`SCORE_BLOCK` positions at a time, and in a block one
    order at a time: a position's context of length k-1 is the n-gram found at the position
    before it, so order k's lookups need only order k-1's, and the lookups of one order are
    independent of each other (the processor overlaps their cache misses: 1.4-1.9x the words a
    second of scoring word by word, Brown test x 5 on the order-5 probing file, six runs). Each n-gram's values are read
    when it is found, and a word's score adds them in :func:`score_words`'s order, bit for bit.
    Tries are scored word by word (:func:`score_words`): their lookups are binary searches of
    dependent reads, which gain nothing from the reordering (batch 0.87-1.01x, three runs).
    """
    if trie_bits is not None:
        return score_words(ids, offsets, order, vocab_size, bos, eos, slots, slot_vals, table_start, table_cap,
                           logprob, backoff, gram_start, trie_bits, trie_fields, centers, suffix_closed, use_bos,
                           use_eos, unseen_context_backoff, uniform_fallback)
    n_sent = len(offsets) - 1
    extra = 1 if use_eos else 0
    n_out = len(ids) + (n_sent if use_eos else 0)
    out_lp = np.empty(n_out, dtype=np.float64)
    out_len = np.empty(n_out, dtype=np.int32)
    size = max(1, min(SCORE_BLOCK, n_out))
    scratch_i = np.empty((order + 4, size), dtype=np.int64)     # grams[0..order], words, full, first
    scratch_f = np.empty((order + 1, size), dtype=np.float64)   # backoffs[0..order-1], probability
    s = 0
    o = 0
    while s < n_sent:
        e = s + 1
        m = offsets[e] - offsets[s] + extra
        while e < n_sent and m + offsets[e + 1] - offsets[e] + extra <= size:
            m += offsets[e + 1] - offsets[e] + extra
            e += 1
        if m > size:                  # one sentence longer than a block
            size = m
            scratch_i = np.empty((order + 4, size), dtype=np.int64)
            scratch_f = np.empty((order + 1, size), dtype=np.float64)
        _score_block(ids, offsets, s, e, order, vocab_size, bos, eos, slots, slot_vals, table_start, table_cap,
                     logprob, backoff, suffix_closed, use_bos, use_eos, unseen_context_backoff, uniform_fallback,
                     scratch_i, scratch_f, out_lp[o:o + m], out_len[o:o + m])
        o += m
        s = e
    return out_lp, out_len


@njit(cache=True, nogil=True, inline="always")
def _context(grams, first, i, j, bos, use_bos):
    """The context n-gram of length j of position ``i``: the j-gram found at the position
    before it, or at a sentence's first word ``<s>`` (j = 1, with ``use_bos``), else -1."""
    if first:
        return bos if (j == 1 and use_bos) else -1
    return grams[j, i - 1]


@njit(cache=True, nogil=True)
def _score_block(ids, offsets, s0, s1, order, vocab_size, bos, eos, slots, slot_vals, table_start, table_cap,
                 logprob, backoff, suffix_closed, use_bos, use_eos, unseen_context_backoff, uniform_fallback,
                 scratch_i, scratch_f, out_lp, out_len):
    """:func:`score_tokens` on probing tables for sentences ``s0 .. s1 - 1`` (their positions
    fit the scratch): order by order, each n-gram's values read as it is found; ``out_len``
    holds the longest n-gram found so far."""
    grams, words, full, first = scratch_i[:order + 1], scratch_i[order + 1], scratch_i[order + 2], scratch_i[order + 3]
    bo, prob = scratch_f[:order], scratch_f[order]
    n = 0
    for s in range(s0, s1):                       # the positions: word, context length, sentence start
        start, end = offsets[s], offsets[s + 1]
        history = 1 if use_bos else 0             # words of context available (<s> included)
        for i in range(start, end + 1 if use_eos else end):
            words[n] = eos if i == end else ids[i]
            full[n] = min(history, order - 1)     # context length the model could use
            first[n] = i == start
            history += 1
            n += 1
    for i in range(n):                            # unigrams
        grams[0, i] = -1
        grams[1, i] = words[i]
        out_len[i] = 1
        prob[i], b = _gram_values(1, words[i], order, slot_vals, table_start, logprob, backoff)
        if order > 1:
            bo[1, i] = b
    for k in range(2, order + 1):                 # order k's lookups need only order k-1's
        for i in range(n):
            c = _context(grams, first[i], i, k - 1, bos, use_bos)
            g = -1
            if c >= 0 and (out_len[i] == k - 1 or not suffix_closed):
                g = probe_slot(slots, table_start[k], table_cap[k], c * vocab_size + words[i])
            grams[k, i] = g
            if g >= 0:
                out_len[i] = k
                p, b = _gram_values(k, g, order, slot_vals, table_start, logprob, backoff)
                prob[i] = p
                if k < order:
                    bo[k, i] = b
    uniform = not np.isnan(uniform_fallback)
    bos_backoff = np.float64(backoff[bos]) if order > 1 and use_bos else 0.0
    for i in range(n):
        found, f = out_len[i], full[i]
        if uniform and found <= f:
            lp = uniform_fallback
            if _context(grams, first[i], i, f, bos, use_bos) >= 0:
                lp += bos_backoff if first[i] else bo[f, i - 1]
        else:
            lp = prob[i]
            for j in range(found, f + 1):         # backoff weights of the contexts longer than the one used
                if _context(grams, first[i], i, j, bos, use_bos) < 0:
                    lp += unseen_context_backoff
                else:
                    lp += bos_backoff if first[i] else bo[j, i - 1]
        out_lp[i] = lp


@njit(cache=True, nogil=True)
def sentence_logprob(ids, order, vocab_size, bos, eos, slots, slot_vals, table_start, table_cap,
                     logprob, backoff, gram_start, trie_bits, trie_fields, centers, suffix_closed, use_bos, use_eos,
                     unseen_context_backoff, uniform_fallback):
    """Total log10 probability of one sentence ``ids`` (int32), summed word by word in order:
    :func:`score_tokens` for a single sentence without returning its arrays."""
    offsets = np.zeros(2, dtype=np.int64)
    offsets[1] = len(ids)
    lp, _ = score_tokens(ids, offsets, order, vocab_size, bos, eos, slots, slot_vals, table_start, table_cap,
                         logprob, backoff, gram_start, trie_bits, trie_fields, centers, suffix_closed, use_bos, use_eos,
                         unseen_context_backoff, uniform_fallback)
    total = 0.0
    for i in range(len(lp)):
        total += lp[i]
    return total


@njit(cache=True, nogil=True)
def text_logprob(text, word_index, word_blob, word_offsets, unk, order, vocab_size, bos, eos, slots,
                 slot_vals, table_start, table_cap, logprob, backoff, gram_start, trie_bits, trie_fields, centers,
                 suffix_closed, use_bos, use_eos, unseen_context_backoff, uniform_fallback):
    """Total log10 probability of one sentence given as UTF-8 bytes: split where ``str.split()``
    splits, each word looked up in the vocabulary's word index (``unk`` when absent; see
    :func:`lmkit.text._kernels.find_word`), then :func:`sentence_logprob`."""
    n = len(text)
    lo = np.empty(n // 2 + 1, dtype=np.int64)
    hi = np.empty(n // 2 + 1, dtype=np.int64)
    ids = np.empty(n // 2 + 1, dtype=np.int32)
    m = 0
    p = 0
    while p < n:                    # _split_line stops at a newline, which str.split() skips too
        fields, e, _ = _split_line(text, p, lo, hi)
        for f in range(fields):
            word = find_word(text, lo[f], hi[f], word_index, word_blob, word_offsets)
            ids[m] = word if word >= 0 else unk
            m += 1
        p = e + 1
    return sentence_logprob(ids[:m], order, vocab_size, bos, eos, slots, slot_vals, table_start, table_cap,
                            logprob, backoff, gram_start, trie_bits, trie_fields, centers, suffix_closed, use_bos,
                            use_eos, unseen_context_backoff, uniform_fallback)


@njit(cache=True, nogil=True)
def _row_less(a, i, b, j, width):
    for c in range(width):
        if a[i, c] != b[j, c]:
            return a[i, c] < b[j, c]
    return False


@njit(cache=True, nogil=True)
def prefix_ids(rows, lower):
    """For lexicographically sorted n-gram rows [n, k] and the sorted unique (k-1)-gram rows
    ``lower`` [m, k-1], the index in ``lower`` of each row's first k-1 words (-1 if absent)."""
    n, k = rows.shape
    out = np.full(n, -1, dtype=np.int64)
    j = 0
    m = lower.shape[0]
    for i in range(n):
        while j < m and _row_less(lower, j, rows, i, k - 1):
            j += 1
        if j < m:
            same = True
            for c in range(k - 1):
                if lower[j, c] != rows[i, c]:
                    same = False
                    break
            if same:
                out[i] = j
    return out


@njit(cache=True, nogil=True)
def arpa_lines(rows, prob_txt, prob_len, bo_txt, bo_len, keep, word_blob, word_off):
    """The ARPA lines ``prob<TAB>w1 ... wk[<TAB>backoff]\\n`` of the kept rows, as bytes.

    ``rows`` int32 ``[n, k]`` word ids; ``prob_txt``/``bo_txt`` uint8 ``[n, W]`` numbers
    spelled out, ``prob_len``/``bo_len`` their lengths (``bo_len`` empty: no backoff column);
    ``keep`` bool ``[n]``; a word's UTF-8 is ``word_blob[word_off[w]:word_off[w + 1]]``.
    """
    n, k = rows.shape
    has_bo = len(bo_len) > 0
    size = 0
    for i in range(n):
        if keep[i]:
            size += prob_len[i] + k + 1
            if has_bo:
                size += bo_len[i] + 1
            for j in range(k):
                w = rows[i, j]
                size += word_off[w + 1] - word_off[w]
    out = np.empty(size, dtype=np.uint8)
    p = 0
    for i in range(n):
        if not keep[i]:
            continue
        p = put_bytes(out, p, prob_txt[i], 0, prob_len[i])
        for j in range(k):
            out[p] = 9 if j == 0 else 32
            w = rows[i, j]
            p = put_bytes(out, p + 1, word_blob, word_off[w], word_off[w + 1])
        if has_bo:
            out[p] = 9
            p = put_bytes(out, p + 1, bo_txt[i], 0, bo_len[i])
        out[p] = 10
        p += 1
    return out


@njit(cache=True, nogil=True)
def positions_by_word(tok, vocab_size, like):
    """Every position of ``tok``, ordered by word id and, within a word, by position: the first
    digit of the radix sort that orders each order's n-grams by (context, word). The result
    has ``like``'s dtype (int32 when positions fit: half the memory)."""
    start = np.zeros(vocab_size + 1, dtype=np.int64)
    for p in range(len(tok)):
        start[tok[p] + 1] += 1
    for w in range(vocab_size):
        start[w + 1] += start[w]
    out = np.empty(len(tok), dtype=like.dtype)
    for p in range(len(tok)):
        w = tok[p]
        out[start[w]] = p
        start[w] += 1
    return out


@njit(cache=True, nogil=True, inline="always")
def _extends(prev_ids, tok, p, bos, eos):
    """The id of the context of the n-gram ending at ``p`` (-1 when none: no shorter n-gram
    ends at p - 1, or the n-gram would cross a sentence boundary)."""
    if p == 0 or tok[p] == bos or tok[p - 1] == eos:
        return -1
    return prev_ids[p - 1]


@njit(cache=True, nogil=True)
def count_next_order(prev_ids, n_prev, tok, by_word, word_start, bos, eos):
    """Count the n-grams one word longer than those whose ids ``prev_ids`` gives per position.

    The n-gram ending at ``p`` is (context ``prev_ids[p - 1]``, word ``tok[p]``). Positions
    are sorted by (context, word) without comparisons: ``by_word`` (from
    :func:`positions_by_word`; word ``w``'s positions are ``by_word[word_start[w]:word_start[w
    + 1]]``) already orders them by word, and one stable counting pass over the ``n_prev``
    contexts finishes the radix sort.
    Returns the distinct n-grams in that order, ``(ctx int64, word int32, count int64,
    suffix int64, ids [len(tok)])``: ``suffix`` is the id of each n-gram's last k-1 words
    (``prev_ids`` at its end) and ``ids`` (``prev_ids``'s dtype) the id of the n-gram ending at
    every position (-1 where none).
    """
    n = len(tok)
    start = np.zeros(n_prev + 1, dtype=np.int64)
    ids = np.empty(n, dtype=prev_ids.dtype)   # the context at each position first, ids at the end
    ctx_at = ids
    for p in range(n):
        c = _extends(prev_ids, tok, p, bos, eos)
        ctx_at[p] = c
        if c >= 0:
            start[c + 1] += 1
    for c in range(n_prev):
        start[c + 1] += start[c]
    n_valid = start[n_prev]
    fill = start[:n_prev].copy()
    # positions by (context, word), each with its word in one int64 (position << 32 | word):
    # the scattered writes of this pass touch one array, not two
    at = np.empty(n_valid, dtype=np.int64)
    for w in range(len(word_start) - 1):
        for i in range(word_start[w], word_start[w + 1]):
            p = by_word[i]
            c = ctx_at[p]
            if c >= 0:
                at[fill[c]] = (np.int64(p) << 32) | w
                fill[c] += 1
    n_distinct = 0
    for c in range(n_prev):
        for j in range(start[c], start[c + 1]):
            if j == start[c] or (at[j] & 0xFFFFFFFF) != (at[j - 1] & 0xFFFFFFFF):
                n_distinct += 1
    ctx = np.empty(n_distinct, dtype=np.int64)
    word = np.empty(n_distinct, dtype=np.int32)
    count = np.zeros(n_distinct, dtype=np.int64)
    suffix = np.empty(n_distinct, dtype=np.int64)
    ids[:] = -1
    g = -1
    for c in range(n_prev):
        for j in range(start[c], start[c + 1]):
            p = (at[j] >> 32) & 0xFFFFFFFF      # positions below 2**32 (count_ngrams checks)
            w = at[j] & 0xFFFFFFFF
            if j == start[c] or w != (at[j - 1] & 0xFFFFFFFF):
                g += 1
                ctx[g] = c
                word[g] = w
                suffix[g] = prev_ids[p]
            count[g] += 1
            ids[p] = g
    return ctx, word, count, suffix, ids


@njit(cache=True, nogil=True)
def check_table(keys, vals, ctx, word, vocab_size, n_lower):
    """Check one order's stored hash table against its n-grams; return "" or what is wrong.

    Every context must be an id below ``n_lower``; every used slot must hold an n-gram's own key
    (``ctx * V + word``), each n-gram exactly once, and sit where a lookup finds it: linear
    probing from the key's home slot (:func:`build_hash`) meets no empty slot before it.
    """
    n, cap = len(word), len(keys)
    for i in range(n):
        if ctx[i] < 0 or ctx[i] >= n_lower:
            return "contexts outside the order below"
    if cap < 2 * n or cap & (cap - 1) or len(vals) != cap:
        return "an impossible size"
    if n == 0:
        return ""
    shift = np.uint64(64 - int(np.log2(cap)))
    seen = np.zeros(n, dtype=np.bool_)
    first_empty = -1
    for s in range(cap):
        if vals[s] < 0:
            first_empty = s
            break
    if first_empty < 0:
        return "no empty slot"
    run = 0   # occupied slots since the last empty one
    used = 0
    for j in range(1, cap + 1):
        s = (first_empty + j) % cap
        v = vals[s]
        if v < 0:
            if keys[s] != -1:
                return "a key in an empty slot"
            run = 0
            continue
        if v >= n or seen[v]:
            return "slots pointing outside its n-grams or twice to one"
        seen[v] = True
        used += 1
        if keys[s] != ctx[v] * vocab_size + word[v]:
            return "a slot whose key is not its n-gram's"
        home = np.int64((np.uint64(keys[s]) * HASH_MULT) >> shift)
        if (s - home) % cap > run:
            return "a key its lookup cannot reach"
        run += 1
    if used != n:
        return "n-grams missing from it"
    return ""


@njit(cache=True, nogil=True)
def match_rows(query, table):
    """For sorted unique rows ``query`` [n, k] and sorted unique rows ``table`` [m, k] (both
    lexicographic), the index in ``table`` of each query row (-1 where it is absent)."""
    n, k = query.shape
    m = table.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    j = 0
    for i in range(n):
        while j < m and _row_less(table, j, query, i, k):
            j += 1
        if j < m and not _row_less(query, i, table, j, k):
            out[i] = j
    return out


@njit(cache=True, nogil=True)
def merge_sorted_runs(keys, starts):
    """Merge runs of sorted int64 keys (run r is ``keys[starts[r]:starts[r + 1]]``) into the
    sorted distinct keys, and the index among them of every input key. Memory: the output and
    one int64 per input key (no sort of the whole)."""
    n_runs = len(starts) - 1
    pos = starts[:-1].copy()
    inverse = np.empty(len(keys), dtype=np.int64)
    uniq = np.empty(len(keys), dtype=np.int64)
    n = 0
    while True:
        best = -1
        best_key = np.int64(0)
        for r in range(n_runs):
            if pos[r] < starts[r + 1] and (best < 0 or keys[pos[r]] < best_key):
                best = r
                best_key = keys[pos[r]]
        if best < 0:
            break
        if n == 0 or uniq[n - 1] != best_key:
            uniq[n] = best_key
            n += 1
        inverse[pos[best]] = n - 1
        pos[best] += 1
    return uniq[:n].copy(), inverse


@njit(cache=True, nogil=True)
def fill_hash(keys, table_keys, table_vals, start, cap):
    """:func:`build_hash` into the slice ``[start, start + cap)`` of preallocated tables (the
    layout :func:`score_tokens` reads): key -> position in ``keys``."""
    if cap == 0:
        return
    shift = np.uint64(64 - int(np.log2(cap)))
    mask = cap - 1
    for i in range(len(keys)):
        k = keys[i]
        h = np.int64((np.uint64(k) * HASH_MULT) >> shift)
        while table_keys[start + h] != -1 and table_keys[start + h] != k:
            h = (h + 1) & mask
        table_keys[start + h] = k
        table_vals[start + h] = i


@njit(cache=True, nogil=True)
def lookup_in(table_keys, table_vals, start, cap, keys):
    """Positions of ``keys`` in one order's slice of the concatenated tables (-1 where absent)."""
    out = np.empty(len(keys), dtype=np.int64)
    shift = _shift_of(cap) if cap > 0 else np.uint64(0)
    for i in range(len(keys)):
        out[i] = _probe(table_keys, table_vals, start, cap, shift, keys[i]) if keys[i] >= 0 else -1
    return out


# ---------------------------------------------------------------- ARPA reading
#: what :func:`parse_arpa_lines` stopped at (``state[ST_STATUS]``)
ARPA_DONE, ARPA_MORE, ARPA_EOF, ARPA_SLOW_FULL, ARPA_ROOM = 0, 1, 2, 3, 4
#: ... or the line it stopped at is wrong: these the caller turns into messages
ARPA_BAD_LINE, ARPA_DUPLICATE_UNIGRAM, ARPA_NOT_UNIGRAM, ARPA_NO_CONTEXT, ARPA_BAD_VALUE = 10, 11, 12, 13, 14
#: fields of the ``state`` array carried from call to call
ST_POS, ST_I, ST_TYPES, ST_SLOW, ST_PREFIX, ST_STATUS, ST_ERR_WORD = 0, 1, 2, 3, 4, 5, 6
_POW10 = np.array([10.0 ** e for e in range(23)])
_MAX_EXACT = 1 << 53


@njit(cache=True, nogil=True, inline="always")
def _fast_float(data, lo, hi):
    """``data[lo:hi]`` as a float64 when it is a plain decimal (``[-+]digits[.digits][e[-+]digits]``)
    whose digits fit 2**53 and whose power of ten is within +-22: then the one multiplication
    or division is correctly rounded, so the value equals Python's ``float()``. Returns
    (value, True), or (0.0, False) for anything else (Python parses those)."""
    i = lo
    neg = False
    if i < hi and (data[i] == 45 or data[i] == 43):   # - +
        neg = data[i] == 45
        i += 1
    mant = np.int64(0)
    digits = 0
    frac = 0
    while i < hi and 48 <= data[i] <= 57:
        mant = mant * 10 + (data[i] - 48)
        digits += 1
        i += 1
        if mant >= _MAX_EXACT:
            return 0.0, False
    if i < hi and data[i] == 46:   # .
        i += 1
        while i < hi and 48 <= data[i] <= 57:
            mant = mant * 10 + (data[i] - 48)
            digits += 1
            frac += 1
            i += 1
            if mant >= _MAX_EXACT:
                return 0.0, False
    if digits == 0:
        return 0.0, False
    exp = 0
    if i < hi and (data[i] == 101 or data[i] == 69):   # e E
        i += 1
        eneg = False
        if i < hi and (data[i] == 45 or data[i] == 43):
            eneg = data[i] == 45
            i += 1
        if i == hi:
            return 0.0, False
        while i < hi and 48 <= data[i] <= 57:
            exp = exp * 10 + (data[i] - 48)
            i += 1
            if exp > 1000:
                return 0.0, False
        if eneg:
            exp = -exp
    if i != hi:
        return 0.0, False
    p = exp - frac
    v = np.float64(mant)
    if p > 22 or p < -22:
        return 0.0, False
    v = v * _POW10[p] if p >= 0 else v / _POW10[-p]
    return (-v if neg else v), True


@njit(cache=True, nogil=True)
def _valid_utf8(data, lo, hi):
    """Whether ``data[lo:hi]`` is well-formed UTF-8 (what Python's strict decoder accepts)."""
    i = lo
    while i < hi:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        if 0xC2 <= b <= 0xDF:
            n, low, high = 1, 0x80, 0xBF
        elif 0xE0 <= b <= 0xEF:
            n = 2
            low = 0xA0 if b == 0xE0 else 0x80
            high = 0x9F if b == 0xED else 0xBF
        elif 0xF0 <= b <= 0xF4:
            n = 3
            low = 0x90 if b == 0xF0 else 0x80
            high = 0x8F if b == 0xF4 else 0xBF
        else:
            return False
        if i + n >= hi:
            return False
        c = data[i + 1]
        if c < low or c > high:
            return False
        for j in range(2, n + 1):
            if data[i + j] < 0x80 or data[i + j] > 0xBF:
                return False
        i += n + 1
    return True


@njit(cache=True, nogil=True, inline="always")
def _split_line(data, p, tok_lo, tok_hi):
    """Cut the line starting at byte ``p`` at white space (every character ``str.split()``
    splits at), up to its newline or the end of ``data``. Field starts and ends go to
    ``tok_lo``/``tok_hi`` (as many as fit). Returns (number of fields, end of the line,
    whether it holds bytes >= 0x80). Printable ASCII takes the short path."""
    n = len(data)
    m = 0
    j = p
    high = False
    in_field = False
    while j < n:
        b = data[j]
        if 32 < b < 127:
            if not in_field:
                if m < len(tok_lo):
                    tok_lo[m] = j
                in_field = True
            j += 1
            continue
        if b == 10:
            break
        step = 0
        if b < 128:
            if BYTE_CLASS[b] == 1:
                step = 1
        else:
            high = True
            if BYTE_CLASS[b] == 3:
                step = space_length(data, j, n)
        if step:
            if in_field:
                if m < len(tok_lo):
                    tok_hi[m] = j
                m += 1
                in_field = False
            j += step
        else:
            if not in_field:
                if m < len(tok_lo):
                    tok_lo[m] = j
                in_field = True
            j += 1
    if in_field:
        if m < len(tok_lo):
            tok_hi[m] = j
        m += 1
    return m, j, high


@njit(cache=True, nogil=True, inline="always")
def _same_bytes(data, lo, hi, lo2, hi2):
    if hi - lo != hi2 - lo2:
        return False
    for j in range(hi - lo):
        if data[lo + j] != data[lo2 + j]:
            return False
    return True


@njit(cache=True, nogil=True, inline="always")
def _gallop(ctx, word, vocab_size, lo, hi, hint, key):
    """Index (from ``lo``) of ``key`` among the sorted n-gram keys ``ctx[i] * V + word[i]`` for
    ``lo <= i < hi``, searched forward from ``hint``: -1 if absent, -2 if it lies before the
    hint (look elsewhere)."""
    n = hi - lo
    if n == 0:
        return -1
    a = hint
    if a >= n:
        a = n - 1
    at = ctx[lo + a] * vocab_size + word[lo + a]
    if at > key:
        return -2
    if at == key:
        return a
    step = 1
    b = a + 1
    while b < n and ctx[lo + b] * vocab_size + word[lo + b] < key:
        a = b
        step *= 2
        b = a + step
    if b >= n:
        b = n - 1
    # the key at a is below ``key``; the one at b is not, unless ``key`` is beyond the end
    while a + 1 < b:
        mid = (a + b) // 2
        if ctx[lo + mid] * vocab_size + word[lo + mid] < key:
            a = mid
        else:
            b = mid
    return b if ctx[lo + b] * vocab_size + word[lo + b] == key else -1


@njit(cache=True, nogil=True)
def parse_arpa_lines(data, final, k, want, vocab_size, state, table, hashes, blob, offsets, remap,
                     table_keys, table_vals, table_start, table_cap, all_ctx, all_word, gram_start,
                     probs, bows, ctx, wid, slow, prev_w, prev_id, hint):
    """Parse the lines of an ARPA file's order-``k`` section from byte ``state[ST_POS]`` of
    ``data`` (uint8; ``final``: nothing follows it) until ``want`` n-grams are read, the data
    runs out, or a line is wrong; ``state[ST_STATUS]`` says which (``ARPA_*``), the other
    ``state`` fields carry the position, n-gram count, word count, slow numbers and cached
    prefix from call to call.

    Words: unigrams are added to the token table (``table, hashes, blob, offsets``, the text
    layer's :func:`find_or_add` layout) in file order; higher orders look their words up there
    (never writing: two threads may parse two parts of one section) and map them through
    ``remap`` (file order -> word id). Contexts: the prefix of an order-k
    n-gram is found order by order in the sorted orders' hash tables (``table_*``, the
    :func:`score_tokens` layout), reusing the previous line's prefix where the words agree. In
    files sorted as lmkit writes them the prefixes only move forward, so each is first sought
    from the last one found (``hint``) among the order's sorted n-grams (``all_ctx``/``all_word``
    from ``gram_start[j]`` on, the model's arrays concatenated; galloping: memory read in
    sequence), the hash table only when it lies behind.
    Outputs per n-gram ``i``: ``probs``/``bows`` float32 (log10; ``-99`` or less becomes -inf),
    ``ctx`` int64 (prefix id), ``wid`` int32 (word id; file order for unigrams). Numbers that are
    not plain decimals go to ``slow`` rows ``(i, field 0 prob / 1 backoff, lo, hi)`` for Python.
    """
    n = len(data)
    p, i, n_types = state[ST_POS], state[ST_I], state[ST_TYPES]
    n_slow, n_prefix = state[ST_SLOW], state[ST_PREFIX]
    m_max = k + 3
    shift = shifts_of(table_cap)
    tok_lo = np.empty(m_max, dtype=np.int64)
    tok_hi = np.empty(m_max, dtype=np.int64)
    # the previous line's words (bytes in ``data``, ids): equal bytes need no lookup
    last_lo = np.empty(k, dtype=np.int64)
    last_hi = np.empty(k, dtype=np.int64)
    last_w = np.empty(k, dtype=np.int32)
    have_last = False
    status = ARPA_DONE
    while True:
        if i == want:
            status = ARPA_DONE
            break
        if p >= n:
            status = ARPA_EOF if final else ARPA_MORE
            break
        m, e, high = _split_line(data, p, tok_lo, tok_hi)
        if e == n and not final:
            status = ARPA_MORE
            break
        if n_slow + 2 > slow.shape[0]:
            status = ARPA_SLOW_FULL
            break
        if high and not _valid_utf8(data, p, e):
            status = ARPA_BAD_LINE
            break
        if m != k + 1 and m != k + 2:
            status = ARPA_BAD_LINE
            break
        line_slow = n_slow
        pv, ok = _fast_float(data, tok_lo[0], tok_hi[0])
        if not ok:
            slow[n_slow, 0], slow[n_slow, 1], slow[n_slow, 2], slow[n_slow, 3] = i, 0, tok_lo[0], tok_hi[0]
            n_slow += 1
        elif not (-1e30 < pv <= 0.0):
            status = ARPA_BAD_VALUE
            break
        bv = 0.0
        if m == k + 2:
            bv, ok = _fast_float(data, tok_lo[m - 1], tok_hi[m - 1])
            if not ok:
                slow[n_slow, 0], slow[n_slow, 1], slow[n_slow, 2], slow[n_slow, 3] = i, 1, tok_lo[m - 1], tok_hi[m - 1]
                n_slow += 1
                bv = 0.0
            elif not (-1e30 < bv < 1e30):
                status = ARPA_BAD_VALUE
                break
        probs[i] = -np.inf if pv <= -99.0 else pv
        bows[i] = bv
        if k == 1:
            t = find_or_add(data, tok_lo[1], tok_hi[1], table, hashes, blob, offsets, n_types)
            if t < 0:
                n_slow = line_slow
                status = ARPA_ROOM
                break
            if t < n_types:
                state[ST_ERR_WORD] = t
                status = ARPA_DUPLICATE_UNIGRAM
                break
            n_types += 1
            wid[i] = t
            ctx[i] = 0
        else:
            same = True
            for j in range(k):
                lo, hi = tok_lo[1 + j], tok_hi[1 + j]
                if have_last and _same_bytes(data, lo, hi, last_lo[j], last_hi[j]):
                    w = last_w[j]
                else:
                    t = find_token(data, lo, hi, table, blob, offsets)
                    if t < 0:     # a context with an unknown word is not a listed n-gram either
                        state[ST_ERR_WORD] = j
                        status = ARPA_NOT_UNIGRAM if j == k - 1 else ARPA_NO_CONTEXT
                        break
                    w = remap[t]
                last_lo[j], last_hi[j], last_w[j] = lo, hi, w
                if j == k - 1:
                    wid[i] = w
                    break
                if same and j < n_prefix and prev_w[j] == w:
                    continue
                same = False
                n_prefix = j
                if j == 0:
                    g = np.int64(w)
                else:
                    key = prev_id[j - 1] * vocab_size + w
                    g = _gallop(all_ctx, all_word, vocab_size, gram_start[j + 1], gram_start[j + 2], hint[j], key)
                    if g == -2:
                        g = _probe(table_keys, table_vals, table_start[j + 1], table_cap[j + 1], shift[j + 1], key)
                    else:
                        hint[j] = max(g, 0)
                if g < 0:
                    status = ARPA_NO_CONTEXT
                    break
                prev_w[j] = w
                prev_id[j] = g
                n_prefix = j + 1
            have_last = status == ARPA_DONE
            if not have_last:
                break
            ctx[i] = prev_id[k - 2]
        i += 1
        p = e + 1
    state[ST_POS], state[ST_I], state[ST_TYPES] = min(p, n), i, n_types
    state[ST_SLOW], state[ST_PREFIX], state[ST_STATUS] = n_slow, n_prefix, status


@njit(cache=True, nogil=True)
def radix_argsort(keys):
    """The stable sorting permutation of non-negative int64 ``keys`` (int64 [n]): least
    significant digit first, 11 bits a pass (the buckets' write positions stay in cache),
    only as many passes as the largest key needs; keys travel with their positions so that
    every pass reads in sequence."""
    n = len(keys)
    perm = np.arange(n, dtype=np.int64)
    if n < 2:
        return perm
    top = keys.max()
    cur = keys.copy()
    next_keys = np.empty(n, dtype=np.int64)
    next_perm = np.empty(n, dtype=np.int64)
    count = np.zeros(1 << 11, dtype=np.int64)
    shift = 0
    while shift < 64 and (top >> shift) > 0:
        count[:] = 0
        for i in range(n):
            count[(cur[i] >> shift) & 0x7FF] += 1
        total = 0
        for d in range(1 << 11):
            c = count[d]
            count[d] = total
            total += c
        for i in range(n):
            key = cur[i]
            d = (key >> shift) & 0x7FF
            at = count[d]
            next_keys[at] = key
            next_perm[at] = perm[i]
            count[d] = at + 1
        cur, next_keys = next_keys, cur
        perm, next_perm = next_perm, perm
        shift += 11
    return perm


# ---------------------------------------------------------------- trie layout
@njit(cache=True, nogil=True)
def write_field(bits, base, record, offset, width, values):
    """Store ``values[i]`` (non-negative, < 2**width) as the ``width``-bit field at bit
    ``base + i * record + offset`` of ``bits`` (zero there before)."""
    if width == 0:
        return
    for i in range(len(values)):
        at = base + i * record + offset
        q = at >> 6
        s = np.uint64(at & 63)
        v = np.uint64(values[i])
        bits[q] |= v << s
        if s + np.uint64(width) > np.uint64(64):
            bits[q + 1] |= v >> (np.uint64(64) - s)


@njit(cache=True, nogil=True)
def read_field(bits, base, record, offset, width, n):
    """The ``width``-bit fields of ``n`` records (see :func:`write_field`): int64 [n]."""
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        out[i] = read_bits(bits, base + i * record + offset, width)
    return out


@njit(cache=True, nogil=True)
def check_children(ptr, word, vocab_size):
    """"" if the pointers (int64 [n_parents + 1]) start at 0, never decrease, end at
    ``len(word)``, and every parent's children have words below ``vocab_size`` in strictly
    increasing order; else what is wrong."""
    if ptr[0] != 0 or ptr[len(ptr) - 1] != len(word):
        return "child pointers that do not span the order above"
    for p in range(len(ptr) - 1):
        if ptr[p + 1] < ptr[p]:
            return "child pointers that go backwards"
        for i in range(ptr[p], ptr[p + 1]):
            if word[i] < 0 or word[i] >= vocab_size:
                return "word ids outside the vocabulary"
            if i > ptr[p] and word[i] <= word[i - 1]:
                return "children out of order"
    return ""
