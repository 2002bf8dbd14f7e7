"""The training loop: epochs, optimiser, seeds, progress, JSONL log, atomic checkpoints, resume."""
from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..data.validation import check_graph
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .seed import seed_everything

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the epoch and likely causes."""


class Trainer:
    """Train a :class:`~graphssl.methods.Method`.

    Args:
        epochs: maximum number of epochs.
        lr, weight_decay, optimizer: the optimiser (``'adam'``, ``'adamw'``, ``'sgd'``).
        seed: seeds torch/NumPy/Python and the augmentation generator at the start of a fresh run.
        patience: stop when the *training* loss has not improved for this many epochs and restore
            the best weights (DGI's schedule); ``None`` trains all epochs.
        lr_schedule: ``None`` (constant) or ``'cosine'``: linear warm-up over ``warmup_epochs``
            then cosine decay to 0 at ``epochs`` (BGRL's schedule).
        checkpoint_dir: write ``checkpoint.pt`` there every ``checkpoint_every`` epochs (and at the
            end), atomically.
        log_path: JSONL file, one record per epoch (``epoch``, ``loss``, ``seconds``).
        progress: show a tqdm bar.

    ``fit(method, data, resume=True)`` continues from the checkpoint, restoring parameters,
    optimiser, RNG states, early-stopping state and log, so an interrupted run ends with the same
    parameters as an uninterrupted one.

    Example:
        >>> trainer = Trainer(epochs=200, lr=5e-4, weight_decay=1e-5, seed=0,
        ...                   checkpoint_dir='runs/grace-cora')
        >>> trainer.fit(GRACE.from_config(1433), data, resume=True)
    """

    def __init__(self, epochs: int = 100, lr: float = 1e-3, weight_decay: float = 0.0,
                 optimizer: str = "adam", seed: int = 0, patience: int | None = None,
                 checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int = 1,
                 log_path: str | os.PathLike | None = None, progress: bool = True,
                 lr_schedule: str | None = None, warmup_epochs: int = 0):
        if not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
        if patience is not None and (not isinstance(patience, int) or patience < 1):
            raise ValueError(f"patience must be a positive integer or None, got {patience!r}")
        if not isinstance(checkpoint_every, int) or checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be a positive integer, got "
                             f"{checkpoint_every!r}")
        if lr_schedule not in (None, "cosine"):
            raise ValueError(f"lr_schedule must be None or 'cosine', got {lr_schedule!r}")
        if not isinstance(warmup_epochs, int) or not 0 <= warmup_epochs < epochs:
            raise ValueError(f"warmup_epochs must be an integer in [0, epochs), got "
                             f"{warmup_epochs!r}")
        self.lr_schedule, self.warmup_epochs = lr_schedule, warmup_epochs
        self.epochs, self.lr, self.weight_decay = epochs, lr, weight_decay
        self.optimizer, self.seed, self.patience = optimizer, seed, patience
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.checkpoint_every = checkpoint_every
        self.log_path = Path(log_path) if log_path is not None else None
        self.progress = progress
        self.history: list[dict] = []
        self.resumed_from_epoch = 0

    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.checkpoint_dir is None else self.checkpoint_dir / "checkpoint.pt"

    def _config(self, method) -> dict:
        return {"method": type(method).__name__, "epochs": self.epochs, "lr": self.lr,
                "weight_decay": self.weight_decay, "optimizer": self.optimizer,
                "seed": self.seed, "patience": self.patience, "lr_schedule": self.lr_schedule,
                "warmup_epochs": self.warmup_epochs}

    def lr_factor(self, epoch: int) -> float:
        """The learning-rate multiplier of (0-based) ``epoch``; a pure function of the epoch, so
        a resumed run follows the same schedule."""
        if self.lr_schedule is None:
            return 1.0
        if epoch < self.warmup_epochs:
            return (epoch + 1) / self.warmup_epochs
        progress = (epoch - self.warmup_epochs) / max(self.epochs - self.warmup_epochs, 1)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    def fit(self, method, data, resume: bool = False):
        """Train ``method`` on ``data``: one graph (full batch) or an iterable of batches.

        Returns the method (trained in place; with ``patience``, the best-loss weights).
        """
        if hasattr(data, "edge_index"):
            check_graph(data)
            batches = [data]
        elif iter(data) is data:
            raise TypeError("data is a one-shot iterator: it would be empty after the first "
                            "epoch. Pass a graph, a list of graphs, or a DataLoader.")
        else:
            batches = data
        optim = OPTIMIZERS[self.optimizer](method.parameters(), lr=self.lr,
                                           weight_decay=self.weight_decay)
        device = next(method.parameters()).device
        state = self._start(method, optim, resume)
        generator = state["generator"]
        epoch = state["epoch"]
        self.resumed_from_epoch = epoch
        bar = tqdm(total=self.epochs, initial=epoch, disable=not self.progress,
                   desc=type(method).__name__, leave=False)
        steps_per_epoch = len(batches) if hasattr(batches, "__len__") else None
        total_steps = self.epochs * steps_per_epoch if steps_per_epoch else None
        method.train()
        try:
            while epoch < self.epochs and not self._stopped(state):
                start = time.perf_counter()
                total, count = 0.0, 0
                for group in optim.param_groups:
                    group["lr"] = self.lr * self.lr_factor(epoch)
                for batch in batches:
                    batch = batch.to(device) if hasattr(batch, "to") else batch
                    optim.zero_grad(set_to_none=True)
                    loss = method.loss(batch, generator)
                    if not torch.isfinite(loss):
                        raise NonFiniteLossError(
                            f"{type(method).__name__} loss is {loss.item()} at epoch {epoch + 1}. "
                            f"Likely causes: a learning rate too high (now {self.lr}), a "
                            f"temperature too low, or NaN/inf in the inputs.")
                    loss.backward()
                    optim.step()
                    total, count = total + loss.item(), count + 1
                    if steps_per_epoch:
                        method.after_step(epoch * steps_per_epoch + count, total_steps)
                epoch += 1
                record = {"epoch": epoch, "loss": total / max(count, 1),
                          "seconds": time.perf_counter() - start}
                self._track_best(state, method, record)
                self.history.append(record)
                self._log(record)
                bar.update(1)
                bar.set_postfix(loss=f"{record['loss']:.4f}")
                if self.checkpoint_dir is not None and (epoch % self.checkpoint_every == 0):
                    self._save(method, optim, generator, epoch, state)
        except KeyboardInterrupt:
            bar.close()
            last = self.checkpoint_path if self.checkpoint_path and self.checkpoint_path.exists() \
                else None
            print(f"\ninterrupted at epoch {epoch}; "
                  + (f"last checkpoint {last} is intact: rerun with resume=True" if last
                     else "no checkpoint (set checkpoint_dir to keep progress)"),
                  file=sys.stderr)
            raise
        bar.close()
        if self.checkpoint_dir is not None:
            self._save(method, optim, generator, epoch, state)
        if state["best_state"] is not None:
            method.load_state_dict(state["best_state"])
        return method

    # -- internals ------------------------------------------------------------------------

    def _start(self, method, optim, resume):
        path = self.checkpoint_path
        if resume and path is not None and path.exists():
            ckpt = load_checkpoint(path)
            if ckpt.get("config") != self._config(method):
                raise CheckpointError(
                    f"checkpoint {str(path)!r} was written by another configuration "
                    f"({ckpt.get('config')}); this run is {self._config(method)}. Use another "
                    f"checkpoint_dir or delete the old one.")
            try:
                method.load_state_dict(ckpt["model"])
            except RuntimeError as err:
                raise CheckpointError(f"checkpoint {str(path)!r} does not fit this model: "
                                      f"{str(err)[:300]}") from err
            optim.load_state_dict(ckpt["optimizer"])
            torch.set_rng_state(ckpt["torch_rng"])
            if ckpt.get("cuda_rng") is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
            generator = torch.Generator()
            generator.set_state(ckpt["generator"])
            self.history = [dict(r) for r in ckpt["history"]]
            self._rewrite_log()
            return {"epoch": ckpt["epoch"], "generator": generator,
                    "best_loss": ckpt["best_loss"], "bad_epochs": ckpt["bad_epochs"],
                    "best_state": ckpt.get("best_state")}
        generator = seed_everything(self.seed)
        self.history = []
        self._rewrite_log()
        return {"epoch": 0, "generator": generator, "best_loss": math.inf, "bad_epochs": 0,
                "best_state": None}

    def _stopped(self, state) -> bool:
        return self.patience is not None and state["bad_epochs"] >= self.patience

    def _track_best(self, state, method, record):
        if self.patience is None:
            return
        if record["loss"] < state["best_loss"]:
            state["best_loss"], state["bad_epochs"] = record["loss"], 0
            state["best_state"] = copy.deepcopy(method.state_dict())
        else:
            state["bad_epochs"] += 1

    def _save(self, method, optim, generator, epoch, state):
        save_checkpoint({"config": self._config(method), "epoch": epoch,
                         "model": method.state_dict(), "optimizer": optim.state_dict(),
                         "torch_rng": torch.get_rng_state(), "generator": generator.get_state(),
                         "cuda_rng": (torch.cuda.get_rng_state_all()
                                      if torch.cuda.is_available() else None),
                         "history": self.history, "best_loss": state["best_loss"],
                         "bad_epochs": state["bad_epochs"], "best_state": state["best_state"]},
                        self.checkpoint_path)

    def _log(self, record):
        if self.log_path is None:
            return
        with open(self.log_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def _rewrite_log(self):
        """Make the log hold exactly the epochs of ``self.history`` (after a resume, epochs run
        after the last checkpoint are dropped: they are about to be rerun)."""
        if self.log_path is None:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.log_path.with_name(self.log_path.name + ".tmp")
        with open(tmp, "w") as f:
            for record in self.history:
                f.write(json.dumps(record) + "\n")
        os.replace(tmp, self.log_path)
