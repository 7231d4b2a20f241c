"""Training: Adam/SGD/Adagrad, global-norm clipping, learning-rate decay on plateau, early
stopping, atomic checkpoints that resume exactly, and checkpoint averaging."""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .._io import atomic_folder, atomic_write, load_npz, read_json_object
from ..checkpoints import latest_checkpoint, write_checkpoint
from ..checks import Range, check_ranges
from ..errors import ConfigError, ModelFormatError
from ..nn import OPTIMIZERS, clip_by_global_norm
from ..nn.optim import TRAINING_RANGES
from ..progress import progress
from ..text import Tokenizer, Vocabulary
from .bleu import corpus_bleu
from .data import ParallelData, make_batches, pad_batch
from .model import MODEL_SUBDIR, Seq2Seq

log = logging.getLogger(__name__)


#: allowed values of the training settings (shared with the CLI)
TRAIN_RANGES = dict(TRAINING_RANGES, lr=Range(0, 10, lo_open=True),
                    valid_bleu_sentences=Range(0, None, integer=True))


@dataclass
class TrainConfig:
    epochs: int = 10
    max_steps: int | None = None
    batch: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    clip: float = 1.0
    lr_decay: float = 0.5          # multiply the rate by this when validation loss stops improving
    patience: int = 3              # epochs without improvement before early stopping
    checkpoint_every: int = 500    # steps
    keep_checkpoints: int = 5
    seed: int = 1
    valid_bleu_sentences: int = 500

    def check(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer {self.optimizer!r} is unknown; choose one of {', '.join(OPTIMIZERS)}")
        check_ranges(self, TRAIN_RANGES)


@dataclass
class TrainState:
    epoch: int = 0                 # epochs finished
    batch_in_epoch: int = 0        # batches of the current epoch finished
    step: int = 0
    best_valid: float = float("inf")
    bad_epochs: int = 0
    history: list = field(default_factory=list)
    finished: bool = False


class Trainer:
    """Trains a :class:`Seq2Seq` in ``out_dir``; ``out_dir/checkpoints/step-N`` hold resumable
    states and ``out_dir`` itself the final model (weights, config, vocabularies)."""

    def __init__(self, model: Seq2Seq, src_vocab: Vocabulary, tgt_vocab: Vocabulary, tokenizer: Tokenizer,
                 out_dir: str | os.PathLike, config: TrainConfig) -> None:
        config.check()
        self.model, self.src_vocab, self.tgt_vocab = model, src_vocab, tgt_vocab
        self.tokenizer = tokenizer
        self.out = Path(out_dir)
        self.config = config
        self.optimizer = OPTIMIZERS[config.optimizer](lr=config.lr)
        self.state = TrainState()

    # ---------------------------------------------------------------- checkpoints
    def save_model(self, folder: Path) -> None:
        """The complete model (weights, config, vocabularies, tokenizer) in ``folder``, which
        is replaced as a whole in one step."""
        with atomic_folder(folder) as tmp:
            self._write_model(tmp)

    def _write_model(self, folder: Path) -> None:
        self.model.save(folder)
        self.src_vocab.save(folder / "src_vocab.tsv")
        self.tgt_vocab.save(folder / "tgt_vocab.tsv")
        with open(folder / "tokenizer.json", "w", encoding="utf-8") as out:
            json.dump(self.tokenizer.config(), out)

    def checkpoint(self) -> Path:
        """Write a complete resumable state under a temporary name, then rename it into place."""
        def write(tmp: Path) -> None:
            self._write_model(tmp)
            with open(tmp / "optimizer.npz", "wb") as f:
                np.savez(f, **self.optimizer.state_arrays())
            with open(tmp / "trainer.json", "w", encoding="utf-8") as f:
                json.dump({"state": asdict(self.state), "config": asdict(self.config)}, f)
        return write_checkpoint(self.out, self.state.step, write, self.config.keep_checkpoints)

    @classmethod
    def resume(cls, out_dir: str | os.PathLike, overrides: dict | None = None) -> Trainer:
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
        model = Seq2Seq.load(ck)
        tok = Tokenizer.from_config(read_json_object(ck / "tokenizer.json"))
        trainer = cls(model, Vocabulary.load(ck / "src_vocab.tsv"), Vocabulary.load(ck / "tgt_vocab.tsv"),
                      tok, out, config)
        shapes = {name: p.shape for name, p, _ in model.parameters()}
        trainer.optimizer.load_state_arrays(load_npz(ck / "optimizer.npz"), shapes, f"{ck}/optimizer.npz")
        trainer.state = st = state
        if st.finished and st.bad_epochs < config.patience and (config.max_steps is None or st.step < config.max_steps):
            st.finished = False   # it stopped at the old --max-steps, which the new run lifts
        log.info("resumed %s at epoch %d, step %d", ck, trainer.state.epoch, trainer.state.step)
        return trainer

    # ---------------------------------------------------------------- training
    def validation_loss(self, data: ParallelData, batch: int = 64) -> float:
        total, tokens = 0.0, 0
        for start in range(0, len(data), batch):
            idx = np.arange(start, min(start + batch, len(data)))
            src, sm, tin, tout, tm = pad_batch(data, idx)
            n = int(tm.sum())
            total += self.model.loss(src, sm, tin, tout, tm) * n
            tokens += n
        return total / max(tokens, 1)

    def validation_bleu(self, data: ParallelData) -> float:
        from .translator import Translator
        n = min(self.config.valid_bleu_sentences, len(data))
        tr = Translator(self.model, self.src_vocab, self.tgt_vocab, self.tokenizer)
        hyps = tr.translate_ids([data.src[i] for i in range(n)], beam=1)
        refs = [" ".join(self.tgt_vocab.decode(data.tgt[i])) for i in range(n)]
        return corpus_bleu([" ".join(h.words) for h in hyps], refs, tokenize="none").score

    def train(self, train: ParallelData, valid: ParallelData | None = None, quiet: bool | None = None) -> TrainState:
        c, st = self.config, self.state
        params = list(self.model.parameters())
        grads = [g for _, _, g in params]
        while st.epoch < c.epochs and not st.finished:
            batches = make_batches(train, c.batch, c.seed, st.epoch)
            bar = progress(total=len(batches), initial=st.batch_in_epoch, desc=f"epoch {st.epoch + 1}",
                           unit="batch", quiet=quiet)
            t0, tok_count, loss_sum = time.perf_counter(), 0, 0.0
            for b in range(st.batch_in_epoch, len(batches)):
                src, sm, tin, tout, tm = pad_batch(train, batches[b])
                self.model.zero_grad()
                rng = np.random.default_rng([c.seed, st.epoch, b])
                loss = self.model.loss(src, sm, tin, tout, tm, training=True, rng=rng, backward=True)
                if not np.isfinite(loss):
                    raise FloatingPointError(f"loss became {loss} at step {st.step}; lower --lr")
                clip_by_global_norm(grads, c.clip)
                self.optimizer.step(params)
                st.step += 1
                st.batch_in_epoch = b + 1
                n = int(tm.sum())
                tok_count += n
                loss_sum += loss * n
                dt = time.perf_counter() - t0
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{tok_count / max(dt, 1e-9):.0f}",
                                lr=f"{self.optimizer.lr:.2e}", refresh=False)
                if st.step % c.checkpoint_every == 0:
                    self.checkpoint()
                if c.max_steps is not None and st.step >= c.max_steps:
                    st.finished = True
                    break
            bar.close()
            epoch_done = st.batch_in_epoch >= len(batches)
            record = {"epoch": st.epoch + 1, "step": st.step, "train_loss": loss_sum / max(tok_count, 1),
                      "seconds": time.perf_counter() - t0, "target_tokens": tok_count,
                      "tokens_per_s": tok_count / max(time.perf_counter() - t0, 1e-9), "lr": self.optimizer.lr}
            if epoch_done:
                st.epoch += 1
                st.batch_in_epoch = 0
            if valid is not None and (epoch_done or st.finished):
                vl = self.validation_loss(valid)
                record["valid_loss"] = vl
                record["valid_bleu"] = self.validation_bleu(valid)
                if vl < st.best_valid - 1e-4:
                    st.best_valid, st.bad_epochs = vl, 0
                    self.save_model(self.out / "best")
                else:
                    st.bad_epochs += 1
                    self.optimizer.lr *= c.lr_decay
                    if st.bad_epochs >= c.patience:
                        log.info("early stopping: validation loss has not improved for %d epochs", st.bad_epochs)
                        st.finished = True
            st.history.append(record)
            log.info("epoch %d: %s", record["epoch"], ", ".join(
                f"{k} {v:.4g}" for k, v in record.items() if k not in ("epoch",)))
            self.checkpoint()
        self.save_model(self.out / MODEL_SUBDIR)
        with atomic_write(self.out / "history.json") as out:
            json.dump(st.history, out, indent=1)
        return st


def _check_state(st: TrainState) -> None:
    for name in ("epoch", "batch_in_epoch", "step", "bad_epochs"):
        value = getattr(st, name)
        if type(value) is not int or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    if not isinstance(st.best_valid, (int, float)) or not isinstance(st.history, list) \
            or not isinstance(st.finished, bool):
        raise ValueError("best_valid, history or finished has the wrong type")


def average_checkpoints(folders: list[Path], out_dir: Path) -> None:
    """The element-wise mean of the weights of several checkpoints of one model."""
    if not folders:
        raise ConfigError("no checkpoints to average")
    models = [Seq2Seq.load(f) for f in folders]
    first = models[0]
    for (_name, p, _), *rest in zip(first.parameters(), *[m.parameters() for m in models[1:]]):
        p[...] = np.mean([p] + [r[1] for r in rest], axis=0)
    if (out_dir / "checkpoints").exists() or (out_dir.exists() and not (out_dir / "config.json").exists()
                                              and any(out_dir.iterdir())):
        raise ConfigError(f"{out_dir}: exists and is not a model folder; averaging writes a new folder")
    with atomic_folder(out_dir) as tmp:
        first.save(tmp)
        for name in ("src_vocab.tsv", "tgt_vocab.tsv", "tokenizer.json"):
            shutil.copyfile(folders[-1] / name, tmp / name)
