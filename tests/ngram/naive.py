"""Slow, obviously-correct references for the n-gram kernels."""
from collections import Counter


def naive_counts(sentences, order):
    """Counter of n-gram tuples over <s> w1 .. wn </s> for orders 1..order."""
    counts = Counter()
    for sent in sentences:
        padded = ["<s>"] + list(sent) + ["</s>"]
        for k in range(1, order + 1):
            for i in range(len(padded) - k + 1):
                counts[tuple(padded[i:i + k])] += 1
    return counts


def naive_backoff_logprob(table, word, context, order):
    """Backoff rule over a {ngram tuple: (logprob, backoff)} table."""
    context = tuple(context)[-(order - 1):] if order > 1 else ()
    total = 0.0
    while True:
        gram = context + (word,)
        if gram in table:
            return total + table[gram][0]
        if context in table:
            total += table[context][1]
        context = context[1:]
