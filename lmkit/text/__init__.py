"""The shared text layer: tokenizer, vocabulary, streaming corpus readers, encoded corpora."""
from .corpus import Corpus, ReadStats, Span, expand_sources, read_line_blocks
from .encoded import (
    EncodedCorpus,
    LazyFolder,
    build_and_encode,
    encode_corpus,
    encode_first_seen,
    id_counts,
    read_ids,
    spill_corpus,
)
from .tokenizer import Tokenizer
from .types import utf8_blob, utf8_strings
from .vocab import (
                    BOS,
                    BOS_ID,
                    DEFAULT_SPECIALS,
                    EOS,
                    EOS_ID,
                    PAD,
                    PAD_ID,
                    UNK,
                    UNK_ID,
                    Vocabulary,
                    count_tokens,
)

__all__ = ["Corpus", "ReadStats", "Span", "expand_sources", "read_line_blocks", "EncodedCorpus", "LazyFolder",
           "encode_first_seen",
           "build_and_encode", "encode_corpus", "id_counts", "read_ids", "spill_corpus", "Tokenizer", "Vocabulary",
           "count_tokens",
           "DEFAULT_SPECIALS", "utf8_blob", "utf8_strings",
           "UNK", "BOS", "EOS", "PAD", "UNK_ID", "BOS_ID", "EOS_ID", "PAD_ID"]
