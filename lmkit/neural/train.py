"""Training a neural language model: truncated back-propagation through time over the
encoded corpus (B parallel streams, T steps a batch, the state carried across batches),
Adam or SGD, global-norm clipping, the learning rate decayed when validation perplexity stops
improving, early stopping, and checkpoints (every N steps and every epoch) that resume
exactly: weights, optimizer state, the carried hidden state and the position in the epoch.

OUT/model holds the model to use (the best on validation text when there is some, else the
last epoch's); OUT/checkpoints/step-N the resumable states; OUT/history.json one record per
epoch.
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write, load_npz, read_json_object
from ..checkpoints import latest_checkpoint, write_checkpoint
from ..checks import Range, check_ranges
from ..errors import ConfigError, ModelFormatError
from ..nn import OPTIMIZERS, SGD, clip_by_global_norm
from ..nn.optim import TRAINING_RANGES
from ..progress import progress
from ..text import EncodedCorpus
from .data import Stream, StreamBatches
from .model import MODEL_SUBDIR, NeuralLM
from .network import stream_contexts

log = logging.getLogger(__name__)

#: allowed values of the training settings (shared with the CLI)
TRAIN_RANGES = dict(TRAINING_RANGES, bptt=Range(1, 100_000, integer=True), lr=Range(0, 100, lo_open=True))


@dataclass
class TrainConfig:
    epochs: int = 10
    max_steps: int | None = None
    batch: int = 32                # parallel streams (recurrent) / rows of the grid (ffnn)
    bptt: int = 35                 # steps a batch: back-propagation is truncated there
    lr: float = 2e-3
    optimizer: str = "adam"
    clip: float = 1.0              # largest global gradient norm (0: no clipping)
    lr_decay: float = 0.5          # rate multiplied by this when validation perplexity stops improving
    patience: int = 2              # epochs without improvement before early stopping
    checkpoint_every: int = 1000   # steps
    keep_checkpoints: int = 3
    seed: int = 1

    def check(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer {self.optimizer!r} is unknown; choose one of {', '.join(OPTIMIZERS)}")
        check_ranges(self, TRAIN_RANGES)


@dataclass
class TrainState:
    epoch: int = 0                 # epochs finished
    batch_in_epoch: int = 0        # batches of the current epoch finished
    step: int = 0
    best_valid: float = float("inf")   # best validation perplexity
    bad_epochs: int = 0
    epoch_loss: float = 0.0        # nats summed over the current epoch's predictions so far
    epoch_tokens: int = 0
    epoch_seconds: float = 0.0
    history: list = field(default_factory=list)
    finished: bool = False


class Trainer:
    """Trains a :class:`NeuralLM` into ``out_dir``."""

    def __init__(self, model: NeuralLM, out_dir: str | os.PathLike, config: TrainConfig) -> None:
        config.check()
        self.model = model
        self.out = Path(out_dir)
        self.config = config
        # plain SGD (no momentum), as Mikolov's and Zaremba et al.'s recipes train recurrent LMs
        self.optimizer = SGD(lr=config.lr, momentum=0.0) if config.optimizer == "sgd" \
            else OPTIMIZERS[config.optimizer](lr=config.lr)
        self.state = TrainState()
        self.carried: list[np.ndarray] | None = None     # hidden state between batches

    # ---------------------------------------------------------------- checkpoints
    def checkpoint(self) -> Path:
        def write(tmp: Path) -> None:
            self.model.write(tmp)
            with open(tmp / "optimizer.npz", "wb") as f:
                np.savez(f, **self.optimizer.state_arrays())
            with open(tmp / "carried.npz", "wb") as f:
                carried: dict[str, Any] = {f"s{i}": s for i, s in enumerate(self.carried or [])}
                np.savez(f, **carried)
            with open(tmp / "trainer.json", "w", encoding="utf-8") as f:
                json.dump({"state": asdict(self.state), "config": asdict(self.config)}, f)
        return write_checkpoint(self.out, self.state.step, write, self.config.keep_checkpoints)

    @classmethod
    def resume(cls, out_dir: str | os.PathLike, overrides: dict | None = None) -> Trainer:
        """The trainer of the newest checkpoint in ``out_dir``, ready to go on exactly where it
        stopped (``overrides``: training settings to change, e.g. more epochs)."""
        out = Path(out_dir)
        ck = latest_checkpoint(out)
        meta = read_json_object(ck / "trainer.json")
        try:
            config = TrainConfig(**dict(meta["config"], **(overrides or {})))
            config.check()
            state = TrainState(**meta["state"])
            _check_state(state)
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise ModelFormatError(f"{ck}/trainer.json: bad or missing field ({type(exc).__name__}: {exc})") from None
        trainer = cls(NeuralLM.load(ck), out, config)
        shapes = {name: p.shape for name, p, _ in trainer.model.network.parameters()}
        trainer.optimizer.load_state_arrays(load_npz(ck / "optimizer.npz"), shapes, f"{ck}/optimizer.npz")
        trainer.carried = _check_carried(load_npz(ck / "carried.npz"), trainer, state, f"{ck}/carried.npz")
        trainer.state = state
        if state.finished and state.bad_epochs < config.patience and state.epoch < config.epochs and \
                (config.max_steps is None or state.step < config.max_steps):
            state.finished = False   # it stopped at an old limit that the new settings lift
        log.info("resumed %s at epoch %d, step %d", ck, state.epoch, state.step)
        return trainer

    # ---------------------------------------------------------------- training
    def _batch(self, stream: Stream, batches: StreamBatches, k: int):
        pos = batches.positions(k)
        targets = stream.targets[pos]
        n = targets.size
        weights = np.full(targets.shape, 1.0 / n, self.model.network.dtype)
        net = self.model.network
        if net.config.recurrent:
            return stream.inputs[pos], targets, weights, n
        ctx = stream_contexts(stream.inputs, stream.sentence_start, pos.reshape(-1), net.config.order)
        return ctx, targets.reshape(-1), weights.reshape(-1), n

    def train(self, train: EncodedCorpus, valid: EncodedCorpus | None = None, quiet: bool | None = None) -> TrainState:
        c, st, net = self.config, self.state, self.model.network
        stream = Stream.from_encoded(train.ids, train.offsets)
        batches = StreamBatches(stream, c.batch, c.bptt)
        params = list(net.parameters())
        grads = [g for _, _, g in params]
        while st.epoch < c.epochs and not st.finished:
            if st.batch_in_epoch == 0 or self.carried is None:
                self.carried = net.initial_state(c.batch)
            bar = progress(total=batches.tokens, initial=min(st.batch_in_epoch * c.batch * c.bptt, batches.tokens),
                           desc=f"epoch {st.epoch + 1}", unit="word", quiet=quiet)
            t0 = time.perf_counter() - st.epoch_seconds
            for k in range(st.batch_in_epoch, len(batches)):
                inputs, targets, weights, n = self._batch(stream, batches, k)
                net.zero_grad()
                rng = np.random.default_rng([c.seed, st.epoch, k])
                loss, self.carried = net.loss(inputs, targets, weights, self.carried, rng, training=True,
                                              backward=True)
                if not np.isfinite(loss):
                    raise FloatingPointError(f"loss became {loss} at step {st.step}; lower --lr")
                sparse = net.sparse_rows()          # only these rows of embeddings / tree nodes moved
                clip_by_global_norm(grads, c.clip, [sparse.get(name) for name, _, _ in params])
                self.optimizer.step(params, sparse)
                st.step += 1
                st.batch_in_epoch = k + 1
                st.epoch_loss += loss * n
                st.epoch_tokens += n
                st.epoch_seconds = time.perf_counter() - t0
                bar.update(n)
                bar.set_postfix(ppl=f"{math.exp(st.epoch_loss / st.epoch_tokens):.1f}",
                                words_s=f"{st.epoch_tokens / max(st.epoch_seconds, 1e-9):.0f}",
                                valid=f"{st.best_valid:.1f}", lr=f"{self.optimizer.lr:.2e}", refresh=False)
                if st.step % c.checkpoint_every == 0:
                    self.checkpoint()
                if c.max_steps is not None and st.step >= c.max_steps:
                    st.finished = True
                    break
            bar.close()
            self._end_of_epoch(batches, valid)
        if valid is None or not (self.out / MODEL_SUBDIR).exists():
            self.model.save(self.out / MODEL_SUBDIR)
        with atomic_write(self.out / "history.json") as out:
            json.dump(st.history, out, indent=1)
        return st

    def _end_of_epoch(self, batches: StreamBatches, valid: EncodedCorpus | None) -> None:
        c, st = self.config, self.state
        epoch_done = st.batch_in_epoch >= len(batches)
        record = {"epoch": st.epoch + 1, "step": st.step,
                  "train_ppl": math.exp(st.epoch_loss / max(st.epoch_tokens, 1)),
                  "seconds": st.epoch_seconds, "words": st.epoch_tokens,
                  "words_per_s": st.epoch_tokens / max(st.epoch_seconds, 1e-9), "lr": self.optimizer.lr}
        if epoch_done:
            st.epoch += 1
            st.batch_in_epoch = 0
            st.epoch_loss, st.epoch_tokens, st.epoch_seconds = 0.0, 0, 0.0
        if not epoch_done:
            record["partial"] = True       # stopped inside the epoch (--max-steps): validated at its end
        elif valid is not None:
            ppl = self.model.perplexity(valid).perplexity
            record["valid_ppl"] = ppl
            if ppl < st.best_valid * (1 - 1e-4):
                st.best_valid, st.bad_epochs = ppl, 0
                self.model.save(self.out / MODEL_SUBDIR)
            else:
                st.bad_epochs += 1
                self.optimizer.lr *= c.lr_decay
                if st.bad_epochs >= c.patience:
                    log.info("early stopping: validation perplexity has not improved for %d epochs", st.bad_epochs)
                    st.finished = True
        else:
            self.model.save(self.out / MODEL_SUBDIR)
        st.history.append(record)
        log.info("epoch %d: %s", record["epoch"], ", ".join(f"{k} {v:.4g}" for k, v in record.items() if k != "epoch"))
        self.checkpoint()


def _check_state(st: TrainState) -> None:
    for name in ("epoch", "batch_in_epoch", "step", "bad_epochs", "epoch_tokens"):
        value = getattr(st, name)
        if type(value) is not int or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    for name in ("best_valid", "epoch_loss", "epoch_seconds"):
        value = getattr(st, name)
        if not isinstance(value, (int, float)) or value < 0 or math.isnan(value):
            raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if not isinstance(st.history, list) or not isinstance(st.finished, bool):
        raise ValueError("history or finished has the wrong type")


def _check_carried(arrays: dict, trainer: Trainer, state: TrainState, where: str) -> list[np.ndarray] | None:
    """The hidden state carried between batches, checked against the network and batch size."""
    want = trainer.model.network.initial_state(trainer.config.batch)
    if not arrays:
        return None
    names = [f"s{i}" for i in range(len(want))]
    if sorted(arrays) != sorted(names):
        raise ModelFormatError(f"{where}: expected arrays {names}, found {sorted(arrays)} (was --batch changed?)")
    out = []
    for name, w in zip(names, want):
        a = arrays[name]
        if a.shape != w.shape or not np.issubdtype(a.dtype, np.floating) or not np.isfinite(a).all():
            raise ModelFormatError(f"{where}: {name} has shape {a.shape} {a.dtype}, expected {w.shape} finite floats")
        out.append(np.array(a, dtype=w.dtype))
    return out


def train_model(model: NeuralLM, train: EncodedCorpus, out_dir: str | os.PathLike, config: TrainConfig | None = None,
                valid: EncodedCorpus | None = None, quiet: bool | None = None) -> NeuralLM:
    """Train ``model`` into ``out_dir`` and return the model OUT/model holds."""
    out = Path(out_dir)
    if (out / "checkpoints").exists():
        raise ConfigError(f"{out}: holds a training run already; resume it (Trainer.resume / --resume) or "
                          "choose another folder")
    Trainer(model, out, config or TrainConfig()).train(train, valid, quiet)
    return NeuralLM.load(out)


