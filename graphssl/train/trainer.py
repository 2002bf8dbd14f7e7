"""The training loop: epochs, optimiser, seeds, progress, JSONL log, atomic checkpoints, resume."""
from __future__ import annotations

import atexit
import contextlib
import copy
import json
import logging
import math
import numbers
import os
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..checks import check_non_negative, check_non_negative_int, check_positive, \
    check_positive_int
from ..data.validation import check_graph
from . import distributed as _dist
from .checkpoint import FILENAME as CHECKPOINT_FILENAME
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .denormals import flushing_denormals
from .seed import seed_everything

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
SYNC_MODES = ("ddp", "post_local_sgd")
#: the clock of ``checkpoint_seconds`` (a name of its own, so that tests can drive it)
_now = time.monotonic
logger = logging.getLogger("graphssl.train")


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
        checkpoint_seconds: save at most this often: an epoch that ``checkpoint_every`` selects
            is saved only if at least this many seconds passed since the last save (or the
            start), so that short epochs of a large model do not spend their time writing
            checkpoints; ``None`` (default): every selected epoch. Not part of the run's
            configuration: a checkpoint resumes under any interval.
        log_path: JSONL file, one record per epoch (``epoch``, ``loss``, ``seconds``).
        progress: show a tqdm bar.
        distributed: ``None`` (default): train data-parallel exactly when a process group is
            initialised (e.g. by :func:`~graphssl.train.init_distributed` under torchrun);
            ``True``: require one (initialising it from the torchrun environment if needed);
            ``False``: never, each process trains alone.
        fsdp: shard the method with FSDP2 (:func:`~graphssl.train.shard_model`: every
            ``TransformerBlock``, then the root) instead of replicating it with DDP; for the
            Transformer adapter encoders only.
        sync: ``'ddp'`` (gradients all-reduced every step) or ``'post_local_sgd'``: after
            ``sync_warmup_steps`` steps of DDP, each rank steps on its own gradients and the
            parameters are averaged every ``average_every`` steps (and at the end).
        average_every, sync_warmup_steps: the post-local SGD period and warm-up, in steps.
        uneven_batches: when the world size does not divide the number of batches of an epoch:
            ``'error'`` (default) or ``'drop'`` (leave out the last few batches of each epoch).
        find_unused_parameters: passed to DDP, for methods with parameters that some steps do
            not use.
        flush_denormal: train with subnormal floats flushed to zero
            (:func:`~graphssl.train.denormals.flushing_denormals`): weights and Adam moments
            decaying into that range slowed a CPU epoch of GCA on Amazon-Photo about 4x
            (benchmarks/README.md; ``benchmarks/diag_denormals.py`` replays the cost).
            ``False`` keeps them. Not part of the run's configuration; each epoch's
            ``history`` entry (and log line) records whether the CPU flushed them
            (``flush_denormal``; ``False`` where the CPU cannot).

    ``fit(method, data, resume=True)`` continues from the checkpoint, restoring parameters,
    optimiser, RNG states, early-stopping state and log, so an interrupted run ends with the same
    parameters as an uninterrupted one.

    Under a process group (torchrun; see ``docs/distributed.md``), ``fit`` wraps the method in
    :class:`~torch.nn.parallel.DistributedDataParallel` and calls it through the wrapper, so
    gradients are averaged over ranks (``after_step``, e.g. EMA targets, runs on the method
    itself). A single graph is trained whole on every rank, each with its own augmentation draws
    (an effective batch of ``world_size`` pairs of views); other data is split: rank ``r`` takes
    batches ``r, r + world_size, ...`` (:class:`~graphssl.train.distributed.RankBatches`), and a
    DataLoader gets a :class:`~torch.utils.data.DistributedSampler`
    (:func:`~graphssl.train.distributed_loader`). Rank ``r`` seeds its RNGs and augmentation
    generator with ``seed + r``. The logged loss is the mean of the ranks' losses. Only rank 0
    shows progress, writes the log and the checkpoints; every rank reads the checkpoint on
    resume. Checkpoints record the world size and every rank's RNG state: a run resumed with
    the same world size continues exactly; with another, parameters and optimiser state (the
    same on every rank under DDP) load unchanged, with a logged note.

    Example:
        >>> trainer = Trainer(epochs=200, lr=5e-4, weight_decay=1e-5, seed=0,
        ...                   checkpoint_dir='runs/grace-cora')
        >>> trainer.fit(GRACE.from_config(1433), data, resume=True)
    """

    def __init__(self, epochs: int = 100, lr: float = 1e-3, weight_decay: float = 0.0,
                 optimizer: str = "adam", seed: int = 0, patience: int | None = None,
                 checkpoint_dir: str | os.PathLike | None = None, checkpoint_every: int = 1,
                 checkpoint_seconds: float | None = None,
                 log_path: str | os.PathLike | None = None, progress: bool = True,
                 lr_schedule: str | None = None, warmup_epochs: int = 0,
                 distributed: bool | None = None, fsdp: bool = False, sync: str = "ddp",
                 average_every: int = 4, sync_warmup_steps: int = 0,
                 uneven_batches: str = "error", find_unused_parameters: bool = False,
                 flush_denormal: bool = True):
        epochs = check_positive_int("epochs", epochs)
        check_positive("lr", lr)
        check_non_negative("weight_decay", weight_decay)
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
        if patience is not None:
            patience = check_positive_int("patience", patience)
        checkpoint_every = check_positive_int("checkpoint_every", checkpoint_every)
        if checkpoint_seconds is not None:
            check_positive("checkpoint_seconds", checkpoint_seconds)
        if lr_schedule not in (None, "cosine"):
            raise ValueError(f"lr_schedule must be None or 'cosine', got {lr_schedule!r}")
        if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, numbers.Integral) \
                or not 0 <= warmup_epochs < epochs:
            raise ValueError(f"warmup_epochs must be an integer in [0, epochs={epochs}), got "
                             f"{warmup_epochs!r}")
        warmup_epochs = int(warmup_epochs)
        if distributed is not None and not isinstance(distributed, bool):
            raise ValueError(f"distributed must be None, True or False, got {distributed!r}")
        if not isinstance(fsdp, bool):
            raise ValueError(f"fsdp must be True or False, got {fsdp!r}")
        if sync not in SYNC_MODES:
            raise ValueError(f"sync must be one of {SYNC_MODES}, got {sync!r}")
        average_every = check_positive_int("average_every", average_every)
        sync_warmup_steps = check_non_negative_int("sync_warmup_steps", sync_warmup_steps)
        if uneven_batches not in _dist.UNEVEN:
            raise ValueError(f"uneven_batches must be one of {_dist.UNEVEN}, got "
                             f"{uneven_batches!r}")
        if not isinstance(flush_denormal, bool):
            raise ValueError(f"flush_denormal must be True or False, got {flush_denormal!r}")
        if fsdp and sync != "ddp":
            raise ValueError("fsdp=True and sync='post_local_sgd' do not combine: post-local "
                             "SGD averages whole replicas, FSDP keeps none. Pick one.")
        if distributed is False and (fsdp or sync != "ddp"):
            raise ValueError(f"distributed=False contradicts fsdp={fsdp!r}, sync={sync!r} "
                             f"(both need a process group)")
        self.distributed, self.fsdp, self.sync = distributed, fsdp, sync
        self.average_every, self.sync_warmup_steps = average_every, sync_warmup_steps
        self.uneven_batches, self.find_unused_parameters = uneven_batches, \
            bool(find_unused_parameters)
        self.lr_schedule, self.warmup_epochs = lr_schedule, warmup_epochs
        self.epochs, self.lr, self.weight_decay = epochs, lr, weight_decay
        self.optimizer, self.seed, self.patience = optimizer, seed, patience
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.checkpoint_every, self.checkpoint_seconds = checkpoint_every, checkpoint_seconds
        self.log_path = Path(log_path) if log_path is not None else None
        self.progress = progress
        self.flush_denormal = flush_denormal
        self.history: list[dict] = []
        self.resumed_from_epoch = 0
        #: the world size the resumed checkpoint was written with (``None``: fresh start)
        self.resumed_world_size: int | None = None

    @property
    def checkpoint_path(self) -> Path | None:
        return None if self.checkpoint_dir is None else self.checkpoint_dir / CHECKPOINT_FILENAME

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
        full_graph = hasattr(data, "edge_index")
        if full_graph:
            check_graph(data)
            batches = [data]
        elif iter(data) is data:
            raise TypeError("data is a one-shot iterator: it would be empty after the first "
                            "epoch. Pass a graph, a list of graphs, or a DataLoader.")
        else:
            batches = data
        device = next(method.parameters()).device
        ctx = self._distributed_context(method, device)
        if ctx is None:
            optim = OPTIMIZERS[self.optimizer](method.parameters(), lr=self.lr,
                                               weight_decay=self.weight_decay)
            state = self._start(method, optim, resume)
            model = module = method
        else:
            if not full_graph:  # a single graph: every rank trains on all of it
                batches, note = _dist.partition(batches, ctx.rank, ctx.world_size,
                                                self.uneven_batches, self.seed)
                if note and ctx.main:
                    logger.info(note)
            model, module, optim, state = self._start_distributed(method, resume, ctx)
        generator = state["generator"]
        epoch = state["epoch"]
        self.resumed_from_epoch = epoch
        main = ctx is None or ctx.main
        bar = tqdm(total=self.epochs, initial=epoch, disable=not (self.progress and main),
                   desc=type(method).__name__, leave=False)
        steps_per_epoch = len(batches) if hasattr(batches, "__len__") else None
        # a resumed run starts from a checkpoint that already holds its epoch
        last_save, saved_epoch = _now(), (epoch or None)
        total_steps = self.epochs * steps_per_epoch if steps_per_epoch else None
        if ctx is not None:
            ctx.resume_sync(epoch * (steps_per_epoch or 0))
        module.train()
        try:
            with flushing_denormals(self.flush_denormal) as flushed:
                while epoch < self.epochs and not self._stopped(state):
                    start = time.perf_counter()
                    total, count = 0.0, 0
                    for group in optim.param_groups:
                        group["lr"] = self.lr * self.lr_factor(epoch)
                    _dist.set_epoch(batches, epoch)
                    for batch in batches:
                        batch = batch.to(device) if hasattr(batch, "to") else batch
                        value = self._step(method, model, optim, batch, generator, epoch, ctx)
                        total, count = total + value, count + 1
                        if steps_per_epoch:
                            module.after_step(epoch * steps_per_epoch + count, total_steps)
                    epoch += 1
                    record = {"epoch": epoch, "loss": total / max(count, 1),
                              "seconds": time.perf_counter() - start,
                              "flush_denormal": flushed}
                    self._track_best(state, method if ctx is None else ctx, record)
                    self.history.append(record)
                    if main:
                        self._log(record)
                    bar.update(1)
                    bar.set_postfix(loss=f"{record['loss']:.4f}")
                    if self._save_due(epoch, last_save, ctx):
                        self._save(method, optim, generator, epoch, state, ctx)
                        last_save, saved_epoch = _now(), epoch
        except KeyboardInterrupt:
            bar.close()
            last = self.checkpoint_path if self.checkpoint_path and self.checkpoint_path.exists() \
                else None
            if main:
                print(f"\ninterrupted at epoch {epoch}; "
                      + (f"last checkpoint {last} is intact: rerun with resume=True" if last
                         else "no checkpoint (set checkpoint_dir to keep progress)"),
                      file=sys.stderr)
            raise
        bar.close()
        if ctx is not None:
            ctx.finish()  # post-local SGD: a last average, so every rank ends with one model
        # the end state, unless the last epoch's save already holds it (post-local SGD's last
        # average changes the parameters after the loop)
        if self.checkpoint_dir is not None and (saved_epoch != epoch or ctx is not None):
            self._save(method, optim, generator, epoch, state, ctx)
        if ctx is not None:
            ctx.unwrap()  # FSDP: the trained full weights back into ``method``
        if state["best_state"] is not None:
            method.load_state_dict(state["best_state"])
        return method

    # -- internals ------------------------------------------------------------------------

    def _step(self, method, model, optim, batch, generator, epoch, ctx) -> float:
        """One optimiser step on ``batch``; returns its loss (the mean over ranks under
        ``torch.distributed``). A non-finite loss raises before any update."""
        optim.zero_grad(set_to_none=True)
        if ctx is None:
            loss = method.loss(batch, generator)
            value = loss.item() if torch.isfinite(loss) else None
        else:  # through the DDP/FSDP wrapper, so gradients are synchronised
            with ctx.explained():
                loss = model(batch, generator)
            value = ctx.mean_loss(loss)
        if value is None or not math.isfinite(value):
            where = "" if ctx is None else f" (on {ctx.nonfinite_ranks})"
            shown = loss.item() if ctx is None else value
            raise NonFiniteLossError(
                f"{type(method).__name__} loss is {shown} at epoch {epoch + 1}{where}. Likely "
                f"causes: a learning rate too high (now {self.lr}), a temperature too low, or "
                f"NaN/inf in the inputs.")
        if ctx is None:
            loss.backward()
        else:
            with ctx.explained():
                loss.backward()
        optim.step()
        if ctx is not None:
            ctx.after_optimizer_step()
        return value

    def _start(self, method, optim, resume):
        path = self.checkpoint_path
        if resume and path is not None and path.exists():
            ckpt = self._read_checkpoint(method)
            self._load_model(method, ckpt)
            optim.load_state_dict(ckpt["optimizer"])
            torch.set_rng_state(ckpt["torch_rng"])
            if ckpt.get("cuda_rng") is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
            generator = torch.Generator()
            generator.set_state(ckpt["generator"])
            self._note_world_size(ckpt, 1)
            return self._resumed_state(ckpt, generator)
        generator = seed_everything(self.seed)
        self.history = []
        self._rewrite_log()
        return {"epoch": 0, "generator": generator, "best_loss": math.inf, "bad_epochs": 0,
                "best_state": None}

    def _read_checkpoint(self, method) -> dict:
        path = self.checkpoint_path
        ckpt = load_checkpoint(path)
        if ckpt.get("config") != self._config(method):
            raise CheckpointError(
                f"checkpoint {str(path)!r} was written by another configuration "
                f"({ckpt.get('config')}); this run is {self._config(method)}. Use another "
                f"checkpoint_dir or delete the old one.")
        return ckpt

    def _load_model(self, method, ckpt):
        try:
            method.load_state_dict(ckpt["model"])
        except RuntimeError as err:
            raise CheckpointError(f"checkpoint {str(self.checkpoint_path)!r} does not fit this "
                                  f"model: {str(err)[:300]}") from err

    def _resumed_state(self, ckpt, generator) -> dict:
        self.history = [dict(r) for r in ckpt["history"]]
        if _dist.is_main_process() or self.distributed is False:
            self._rewrite_log()
        return {"epoch": ckpt["epoch"], "generator": generator,
                "best_loss": ckpt["best_loss"], "bad_epochs": ckpt["bad_epochs"],
                "best_state": ckpt.get("best_state")}

    def _note_world_size(self, ckpt, world: int):
        saved = int(ckpt.get("world_size", 1))
        self.resumed_world_size = saved
        if saved != world and (world == 1 or _dist.is_main_process()):
            logger.warning(
                "checkpoint %s was written by %d process(es), this run has %d: parameters, "
                "optimiser state, epoch, early-stopping state and log carry over unchanged (under "
                "DDP they are the same on every rank, whatever the world size); the data "
                "partition, the effective batch (%d x the per-rank batch), the steps per epoch "
                "and the ranks' RNG streams change, so the rest of the run is not the one an "
                "uninterrupted %d-process run would have produced.",
                self.checkpoint_path, saved, world, world, saved)

    def _distributed_context(self, method, device):
        wanted = self.distributed
        if wanted is None:
            wanted = _dist.is_distributed() or self.fsdp or self.sync != "ddp"
        if not wanted:
            return None
        if not _dist.is_distributed():
            _dist.init_distributed()  # the torchrun environment, or a clear error
            atexit.register(_dist.shutdown)
        return _DistributedRun(self, method, device)

    def _start_distributed(self, method, resume, ctx):
        """Load the checkpoint on every rank (or seed ``seed + rank``), then wrap the method:
        returns ``(model to call, module for after_step, optimiser, state)``."""
        path = self.checkpoint_path
        exists = bool(resume and path is not None and path.exists())
        ckpt, error = None, None
        flags = ctx.all_gather_object(exists)
        if flags[0] and not all(flags):
            missing = [r for r, f in enumerate(flags) if not f]
            error = (f"checkpoint {str(path)!r} exists on rank 0 but not on rank(s) {missing}: "
                     f"every rank reads it on resume, so checkpoint_dir must be on a filesystem "
                     f"all machines share (or copied to each)")
        elif flags[0]:
            try:
                ckpt = self._read_checkpoint(method)
                self._load_model(method, ckpt)
            except CheckpointError as err:
                error = str(err)
        errors = [e for e in ctx.all_gather_object(error) if e]
        if errors:
            raise CheckpointError(errors[0])
        model, module, optim = ctx.wrap()
        if ckpt is None:
            generator = seed_everything(_dist.rank_seed(self.seed, ctx.rank))
            self.history = []
            if ctx.main:
                self._rewrite_log()
            return model, module, optim, {"epoch": 0, "generator": generator,
                                          "best_loss": math.inf, "bad_epochs": 0,
                                          "best_state": None}
        ctx.load_optimizer(optim, ckpt["optimizer"])
        generator = ctx.restore_rng(ckpt, self.seed)
        self._note_world_size(ckpt, ctx.world_size)
        return model, module, optim, self._resumed_state(ckpt, generator)

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

    def _save_due(self, epoch: int, last_save: float, ctx=None) -> bool:
        """Whether to checkpoint after ``epoch``: a multiple of ``checkpoint_every``, and with
        ``checkpoint_seconds``, that long after the last save. Under a process group rank 0's
        clock decides for every rank (saving gathers from all of them)."""
        if self.checkpoint_dir is None or epoch % self.checkpoint_every:
            return False
        if self.checkpoint_seconds is None:
            return True
        due = _now() - last_save >= self.checkpoint_seconds
        return due if ctx is None else ctx.main_decides(due)

    def _save(self, method, optim, generator, epoch, state, ctx=None):
        if ctx is None:
            model_state, optim_state, rank_rng = method.state_dict(), optim.state_dict(), None
        else:  # collectives first (every rank), then rank 0 writes
            model_state, optim_state = ctx.state_dict(), ctx.optimizer_state(optim)
            rank_rng = ctx.gather_rng(generator)
            if not ctx.main:
                return
        save_checkpoint({"config": self._config(method), "epoch": epoch,
                         "model": model_state, "optimizer": optim_state,
                         "torch_rng": torch.get_rng_state(), "generator": generator.get_state(),
                         "cuda_rng": (torch.cuda.get_rng_state_all()
                                      if torch.cuda.is_available() else None),
                         "history": self.history, "best_loss": state["best_loss"],
                         "bad_epochs": state["bad_epochs"], "best_state": state["best_state"],
                         "world_size": 1 if ctx is None else ctx.world_size,
                         "rank_rng": rank_rng},
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


class _DistributedRun:
    """One :meth:`Trainer.fit` under a process group: the DDP or FSDP wrapper, post-local SGD,
    the per-step loss all-reduce, and the collectives behind checkpoints."""

    def __init__(self, trainer: Trainer, method, device):
        import torch.distributed as dist
        self.dist = dist
        self.trainer, self.method, self.device = trainer, method, device
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.main = self.rank == 0
        self.backend = dist.get_backend()
        if self.backend == "nccl" and device.type != "cuda":
            raise _dist.DistributedError(
                f"the process group uses NCCL but {type(method).__name__} is on {device}: move "
                f"it to this rank's GPU first (method.to('cuda')), or use backend='gloo'")
        self.model = self.module = None
        self.averager = self.hook_state = None
        self.nonfinite_ranks = ""
        self._names = [name for name, _ in method.named_parameters()]

    # -- setup ------------------------------------------------------------------------------

    def wrap(self):
        """The wrapped model, the module that owns ``after_step``, and the optimiser."""
        t, method = self.trainer, self.method
        if t.fsdp:
            _dist.broadcast_module(method)  # FSDP shards what each rank has: make it rank 0's
            self.module = _dist.shard_model(copy.deepcopy(method))
            self.model = self.module
        else:
            from torch.nn.parallel import DistributedDataParallel
            ids = [self.device.index if self.device.index is not None
                   else torch.cuda.current_device()] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(
                method, device_ids=ids, find_unused_parameters=t.find_unused_parameters)
            self.module = method
            if t.sync == "post_local_sgd":
                from torch.distributed.algorithms.ddp_comm_hooks.post_localSGD_hook import (
                    PostLocalSGDState, post_localSGD_hook)
                from torch.distributed.algorithms.model_averaging.averagers import (
                    PeriodicModelAverager)
                self.hook_state = PostLocalSGDState(
                    process_group=None, subgroup=None, start_localSGD_iter=t.sync_warmup_steps,
                    post_local_gradient_allreduce=False)
                self.model.register_comm_hook(self.hook_state, post_localSGD_hook)
                self.averager = PeriodicModelAverager(period=t.average_every,
                                                      warmup_steps=t.sync_warmup_steps)
        optim = OPTIMIZERS[t.optimizer](self.module.parameters(), lr=t.lr,
                                        weight_decay=t.weight_decay)
        return self.model, self.module, optim

    def resume_sync(self, step: int):
        """Put post-local SGD's step counters at ``step`` (a resumed run)."""
        if self.averager is not None:
            self.averager.step = step
            self.hook_state.iter = step

    # -- every step ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def explained(self):
        """Re-raise DDP's complaints about parameters without gradients with what to do."""
        try:
            yield
        except RuntimeError as err:
            text = str(err)
            if "find_unused_parameters" not in text and "DDP reducer" not in text:
                raise
            name = type(self.method).__name__
            raise _dist.DistributedError(
                f"DDP could not synchronise {name}'s gradients: {text.splitlines()[0][:300]}\n"
                f"If some parameters get no gradient in some steps (DEC and DinkNet until their "
                f"cluster centres are set), pass Trainer(find_unused_parameters=True) (command "
                f"line: --set train.find_unused_parameters=true). A method that trains a "
                f"sub-network with its own optimiser inside its loss (ARGA/ARGVA's "
                f"discriminator) cannot be synchronised by DDP: train it as one process.") \
                from err

    def mean_loss(self, loss) -> float | None:
        """The mean of the ranks' losses (``None`` if any is NaN/inf: every rank then raises
        together instead of leaving the others waiting in the backward all-reduce)."""
        value = loss.detach().float().reshape(())
        finite = bool(torch.isfinite(value))
        stats = torch.stack([value if finite else torch.zeros_like(value),
                             torch.zeros_like(value) if finite else torch.ones_like(value)])
        self.dist.all_reduce(stats)
        if stats[1].item() > 0:
            self.nonfinite_ranks = f"{int(stats[1].item())} of {self.world_size} ranks"
            return None
        return stats[0].item() / self.world_size

    def main_decides(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every rank (a time-based choice must be the same everywhere)."""
        value = torch.tensor([float(flag)], device=self.device)
        self.dist.broadcast(value, src=0)
        return bool(value.item())

    def after_optimizer_step(self):
        averager = self.averager
        if averager is None:
            return
        due = averager.step >= averager.warmup_steps and \
            (averager.step - averager.warmup_steps) % averager.period == 0
        averager.average_parameters(self.module.parameters())
        frozen = [p for p in self.module.parameters() if not p.requires_grad]
        if due and frozen:  # EMA targets drift with the online weights: average them too
            _dist.average_module(self.module, frozen)

    def finish(self):
        if self.averager is not None:
            _dist.average_module(self.module)

    # -- state --------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """The full model state, on every rank (a collective under FSDP)."""
        if not self.trainer.fsdp:
            return self.method.state_dict()
        from torch.distributed.checkpoint.state_dict import (StateDictOptions,
                                                             get_model_state_dict)
        return get_model_state_dict(self.module, options=StateDictOptions(full_state_dict=True))

    def optimizer_state(self, optim) -> dict:
        """The optimiser state in ``torch.optim``'s own format (parameters numbered in the
        method's order), whatever the wrapper: a checkpoint written under FSDP loads without."""
        if not self.trainer.fsdp:
            return optim.state_dict()
        from torch.distributed.checkpoint.state_dict import (StateDictOptions,
                                                             get_optimizer_state_dict)
        full = get_optimizer_state_dict(self.module, optim,
                                        options=StateDictOptions(full_state_dict=True))
        index = {name: i for i, name in enumerate(self._names)}
        return {"state": {index[k]: v for k, v in full["state"].items()},
                "param_groups": [{**g, "params": [index[k] for k in g["params"]]}
                                 for g in full["param_groups"]]}

    def load_optimizer(self, optim, saved: dict):
        if not self.trainer.fsdp:
            optim.load_state_dict(saved)
            return
        from torch.distributed.checkpoint.state_dict import (StateDictOptions,
                                                             set_optimizer_state_dict)
        names = self._names
        full = {"state": {names[i]: v for i, v in saved["state"].items()},
                "param_groups": [{**g, "params": [names[i] for i in g["params"]]}
                                 for g in saved["param_groups"]]}
        set_optimizer_state_dict(self.module, optim, full,
                                 options=StateDictOptions(full_state_dict=True))

    def all_gather_object(self, obj) -> list:
        out = [None] * self.world_size
        self.dist.all_gather_object(out, obj)
        return out

    def gather_rng(self, generator) -> list | None:
        """Every rank's RNG states, on rank 0 (``None`` elsewhere)."""
        mine = {"torch_rng": torch.get_rng_state(), "generator": generator.get_state(),
                "cuda_rng": torch.cuda.get_rng_state() if self.device.type == "cuda" else None}
        out = [None] * self.world_size if self.main else None
        self.dist.gather_object(mine, out, dst=0)
        return out

    def restore_rng(self, ckpt, seed: int) -> torch.Generator:
        """This rank's saved RNG states; a rank the checkpoint has none for (it was written by
        fewer processes) seeds from ``seed``, its rank and the epoch."""
        saved = ckpt.get("rank_rng") or []
        generator = torch.Generator()
        if self.rank < len(saved):
            mine = saved[self.rank]
        elif self.rank == 0:
            mine = {"torch_rng": ckpt["torch_rng"], "generator": ckpt["generator"],
                    "cuda_rng": None}
        else:
            fresh = (_dist.rank_seed(seed, self.rank) * 1_000_003 + int(ckpt["epoch"])) % 2 ** 63
            seed_everything(fresh % 2 ** 32)
            return generator.manual_seed(fresh)
        torch.set_rng_state(mine["torch_rng"])
        if mine.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(mine["cuda_rng"])
        generator.set_state(mine["generator"])
        return generator

    def unwrap(self):
        """FSDP trained a sharded copy: load its full weights into the method."""
        if self.trainer.fsdp:
            self.method.load_state_dict(self.state_dict())
