"""Neural-network building blocks with hand-written backward passes (shared ground for the
neural model families)."""
from .gradcheck import numerical_grad, relative_error
from .huffman import huffman_codes
from .layers import (
                     GRU,
                     LSTM,
                     RNN,
                     AdditiveAttention,
                     BilinearAttention,
                     Dropout,
                     Embedding,
                     GRUCell,
                     Linear,
                     sigmoid,
                     softmax_cross_entropy,
)
from .optim import OPTIMIZERS, SGD, Adagrad, Adam, clip_by_global_norm, global_norm

__all__ = ["Embedding", "Linear", "GRUCell", "GRU", "LSTM", "RNN", "huffman_codes", "AdditiveAttention",
           "BilinearAttention", "Dropout", "sigmoid", "softmax_cross_entropy", "Adam", "SGD", "Adagrad", "OPTIMIZERS",
           "clip_by_global_norm", "global_norm", "numerical_grad", "relative_error"]
