"""Neural language models (recurrent: LSTM, GRU, Mikolov's RNN; feed-forward: Bengio et al.)
over the shared text layer and ``lmkit.nn``, answering the same scoring calls as the n-gram
models: full, class-factored, hierarchical and sampled (importance sampling, NCE) outputs."""
from .model import NeuralLM, is_model_folder
from .network import ARCHS, NETWORK_RANGES, OUTPUTS, Network, NetworkConfig
from .train import TRAIN_RANGES, TrainConfig, Trainer, TrainState, train_model

__all__ = ["NeuralLM", "Network", "NetworkConfig", "Trainer", "TrainConfig", "TrainState", "train_model",
           "is_model_folder", "ARCHS", "OUTPUTS", "NETWORK_RANGES", "TRAIN_RANGES"]
