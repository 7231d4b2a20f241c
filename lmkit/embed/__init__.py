"""word2vec embeddings: training, vectors and their queries, file formats."""
from .tables import (
           alias_table,
           huffman_codes,
           keep_probabilities,
           negative_sampling_table,
)
from .vectors import KeyedVectors
from .word2vec import WORD2VEC_RANGES, EpochStats, Word2Vec, Word2VecConfig

__all__ = ["Word2Vec", "Word2VecConfig", "WORD2VEC_RANGES", "EpochStats", "KeyedVectors", "huffman_codes",
           "alias_table", "negative_sampling_table", "keep_probabilities"]
