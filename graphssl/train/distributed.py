"""Several processes, one model: data-parallel and sharded training on ``torch.distributed``.

Everything here is PyTorch's own engine: process groups (gloo on CPU, NCCL on CUDA),
:class:`~torch.nn.parallel.DistributedDataParallel` (gradients all-reduced in the backward pass),
:class:`~torch.utils.data.DistributedSampler`, FSDP2's
:func:`~torch.distributed.fsdp.fully_shard`, and post-local SGD
(:mod:`torch.distributed.algorithms.ddp_comm_hooks.post_localSGD_hook` with
:class:`~torch.distributed.algorithms.model_averaging.averagers.PeriodicModelAverager`).
This module reads the launcher's environment, starts and stops the process group, partitions
batches over ranks and decides what FSDP can wrap; :class:`~graphssl.train.Trainer` does the rest
when a process group is up. See ``docs/distributed.md``.

Launch with ``torchrun --nproc_per_node=N script.py`` (or ``-m graphssl.cli pretrain ...``);
torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``.
"""
from __future__ import annotations

import contextlib
import datetime
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ..checks import check_positive, check_positive_int
from ..objectives._gather import gather_rows  # noqa: F401  (re-exported)

logger = logging.getLogger("graphssl.distributed")

#: the variables torchrun sets for every worker
ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
#: the variables :func:`init_distributed` cannot do without (``LOCAL_RANK`` defaults to ``RANK``)
REQUIRED_ENV_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
#: how long a collective may wait for the other ranks before it raises (a dead or stuck rank)
DEFAULT_TIMEOUT_SECONDS = 1800.0
BACKENDS = ("auto", "gloo", "nccl")
LAUNCH_HINT = ("launch with `torchrun --nproc_per_node=N your_script.py ...` (or `torchrun "
               "--nproc_per_node=N -m graphssl.cli pretrain ...`), which sets all of "
               + ", ".join(ENV_VARS))


class DistributedError(RuntimeError):
    """A distributed setup that cannot work: a partial launcher environment, a backend that does
    not fit the device, a world size that does not divide the batches, a model FSDP cannot
    shard."""


@dataclass(frozen=True)
class DistributedEnv:
    """The launcher's view of this process: ``rank`` of ``world_size`` processes, ``local_rank``
    on its machine (the GPU it uses), and the rendezvous address of rank 0."""

    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int


def _env_int(environ, name: str, minimum: int) -> int:
    text = environ[name]
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise DistributedError(f"{name}={text!r} must be an integer >= {minimum}; {LAUNCH_HINT}")
    return value


def read_env(environ=None) -> DistributedEnv | None:
    """The torchrun environment of this process, or ``None`` when none of its variables is set
    (a plain single-process run).

    Raises:
        DistributedError: some variables are set and others missing (e.g. ``RANK`` without
            ``MASTER_ADDR``), or a value is malformed (``RANK`` not below ``WORLD_SIZE``, a port
            outside 1-65535); the message names the variables and how to launch.
    """
    environ = os.environ if environ is None else environ
    present = [name for name in ENV_VARS if environ.get(name, "") != ""]
    if not present:
        return None
    missing = [name for name in REQUIRED_ENV_VARS if environ.get(name, "") == ""]
    if missing:
        raise DistributedError(
            f"incomplete distributed environment: {', '.join(present)} set but "
            f"{', '.join(missing)} missing. Either unset {', '.join(present)} to run as one "
            f"process, or {LAUNCH_HINT}.")
    rank = _env_int(environ, "RANK", 0)
    world = _env_int(environ, "WORLD_SIZE", 1)
    local = _env_int(environ, "LOCAL_RANK", 0) if environ.get("LOCAL_RANK", "") else rank
    port = _env_int(environ, "MASTER_PORT", 1)
    if rank >= world:
        raise DistributedError(f"RANK={rank} must be below WORLD_SIZE={world}; {LAUNCH_HINT}")
    if port > 65535:
        raise DistributedError(f"MASTER_PORT={port} is not a TCP port (1-65535)")
    return DistributedEnv(rank, world, local, environ["MASTER_ADDR"], port)


def resolve_backend(backend: str = "auto") -> str:
    """``'auto'``: NCCL when CUDA is available, else gloo. An explicit ``'nccl'`` without CUDA is
    an error."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    cuda = torch.cuda.is_available()
    if backend == "auto":
        return "nccl" if cuda and dist.is_nccl_available() else "gloo"
    if backend == "nccl" and not (cuda and dist.is_nccl_available()):
        raise DistributedError("backend 'nccl' needs CUDA GPUs and a CUDA build of PyTorch; "
                               "use backend='gloo' on CPU")
    return backend


def init_distributed(backend: str = "auto", timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
                     environ=None) -> DistributedEnv:
    """Join the process group the launcher (torchrun) describes.

    Reads ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``; uses gloo on
    CPU and NCCL on CUDA (``backend='auto'``), and with NCCL binds this process to GPU
    ``LOCAL_RANK`` (so ``'cuda'`` means that GPU). ``timeout_seconds`` bounds every collective:
    when a rank dies or stalls, the others raise an error after at most that long instead of
    hanging (with gloo a dead peer is usually detected at once, as a closed connection).
    Calling it again in an initialised process returns the environment and changes nothing.

    Pair it with :func:`shutdown` (``destroy_process_group``), or use
    :func:`distributed_session`, which also shuts down when the body raises.

    Raises:
        DistributedError: not launched by torchrun (no environment), a partial environment
            (the message names the missing variables), or NCCL without a GPU for this rank.
    """
    timeout = check_positive("timeout_seconds", timeout_seconds)
    backend = resolve_backend(backend)
    env = read_env(environ)
    if dist.is_available() and dist.is_initialized():
        if env is not None:
            return env
        return DistributedEnv(dist.get_rank(), dist.get_world_size(),
                              int(os.environ.get("LOCAL_RANK", dist.get_rank())), "", 0)
    if not dist.is_available():
        raise DistributedError("this PyTorch build has no torch.distributed")
    if env is None:
        raise DistributedError(f"not launched by a distributed launcher: none of "
                               f"{', '.join(ENV_VARS)} is set; {LAUNCH_HINT}")
    kwargs = {}
    if backend == "nccl":
        if env.local_rank >= torch.cuda.device_count():
            raise DistributedError(
                f"LOCAL_RANK={env.local_rank} but this machine has "
                f"{torch.cuda.device_count()} GPU(s): start at most that many processes per "
                f"machine (--nproc_per_node), or use backend='gloo'")
        torch.cuda.set_device(env.local_rank)
        kwargs["device_id"] = torch.device("cuda", env.local_rank)
    os.environ.setdefault("MASTER_ADDR", env.master_addr)
    os.environ.setdefault("MASTER_PORT", str(env.master_port))
    dist.init_process_group(backend=backend, init_method="env://", rank=env.rank,
                            world_size=env.world_size,
                            timeout=datetime.timedelta(seconds=timeout), **kwargs)
    return env


def shutdown() -> None:
    """``destroy_process_group`` if a process group is up; safe to call twice."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def distributed_session(backend: str = "auto",
                        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS):
    """``with distributed_session() as env:`` runs the body in the process group torchrun
    describes and destroys the group afterwards, also when the body raises. Without any torchrun
    variable it yields ``None`` and the body runs as one ordinary process, so the same script
    works with ``python`` and with ``torchrun``. A partial environment is an error
    (:func:`read_env`)."""
    if read_env() is None:
        check_positive("timeout_seconds", timeout_seconds)
        resolve_backend(backend)
        yield None
        return
    already = is_distributed()
    env = init_distributed(backend, timeout_seconds)
    try:
        yield env
    finally:
        if not already:
            shutdown()


def is_distributed() -> bool:
    """Whether a process group is initialised in this process."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Processes in the default group; 1 without a process group."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """This process's rank; 0 without a process group."""
    return dist.get_rank() if is_distributed() else 0


def local_rank() -> int:
    """This process's rank on its machine (``LOCAL_RANK``); 0 without a launcher."""
    return int(os.environ.get("LOCAL_RANK", "0") or 0) if is_distributed() else 0


def is_main_process() -> bool:
    """True on rank 0 (and in a single-process run): the process that prints, logs and writes
    checkpoints."""
    return rank() == 0


_current_world_size, _current_rank = world_size, rank  # for functions whose arguments shadow them


def rank_seed(seed: int, rank_: int | None = None) -> int:
    """The seed of rank ``rank_``'s RNGs: ``seed + rank``. Rank 0 (and a single process) keeps
    ``seed``, so a one-process run is unchanged; the other ranks draw different augmentations.
    Model initialisation does not depend on it: DDP broadcasts rank 0's parameters and buffers
    when it wraps the model, and the FSDP path does the same before sharding."""
    return seed + (rank() if rank_ is None else rank_)


# -- batches ----------------------------------------------------------------------------------

UNEVEN = ("error", "drop")


class RankBatches:
    """Rank ``rank``'s share of an iterable of batches: batches ``rank``, ``rank + world_size``,
    ``rank + 2 world_size``, ... of every pass.

    Every rank iterates the whole underlying sequence and keeps its share, so the sequence must
    be the same on every rank: a list, or batches reshuffled from a generator seeded alike on
    every rank (e.g. :class:`~graphssl.bench.modalities.TensorBatches`). Every rank must take
    the same number of steps (otherwise DDP waits forever for the missing all-reduce): when
    ``world_size`` does not divide the number of batches, ``uneven='error'`` raises and
    ``uneven='drop'`` leaves out the last ``len % world_size`` batches of each pass.
    """

    def __init__(self, batches, rank: int, world_size: int, uneven: str = "error"):
        if uneven not in UNEVEN:
            raise ValueError(f"uneven must be one of {UNEVEN}, got {uneven!r}")
        if not isinstance(world_size, int) or world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank!r}, "
                             f"world_size={world_size!r}")
        if not hasattr(batches, "__len__"):
            raise DistributedError(
                f"with {world_size} processes the batches need a length (every rank must take "
                f"the same number of steps): pass a list, a DataLoader (see "
                f"graphssl.train.distributed_loader) or an iterable with __len__, got "
                f"{type(batches).__name__}")
        total = len(batches)
        if total < world_size:
            raise DistributedError(
                f"{total} batch(es) per epoch for {world_size} processes: every rank needs at "
                f"least one. Use smaller batches or fewer processes.")
        if total % world_size and uneven == "error":
            raise DistributedError(
                f"{total} batches per epoch do not split evenly over {world_size} processes "
                f"(rank r takes batches r, r + {world_size}, ...): ranks would take different "
                f"numbers of steps and DDP would wait for the missing all-reduce. Make the "
                f"number of batches a multiple of {world_size} (change batch_size), or pass "
                f"Trainer(uneven_batches='drop') (command line: --set "
                f"train.uneven_batches=drop) to leave out the last {total % world_size} "
                f"batch(es) of each epoch, or use a DataLoader with distributed_loader().")
        self.batches, self.rank, self.world_size = batches, rank, world_size
        self.steps = total // world_size

    def __len__(self) -> int:
        return self.steps

    def set_epoch(self, epoch: int) -> None:
        set_epoch(self.batches, epoch)

    def __iter__(self):
        taken = 0
        for i, batch in enumerate(self.batches):
            if taken == self.steps:
                break
            if i % self.world_size == self.rank:
                taken += 1
                yield batch


def set_epoch(batches, epoch: int) -> None:
    """Tell ``batches`` which epoch comes next, where it can hear it: its own ``set_epoch`` (the
    mini-batch samplers of :mod:`graphssl.train.sampling`, :class:`RankBatches`) or its
    sampler's (a DataLoader's :class:`~torch.utils.data.DistributedSampler`). Every epoch's
    batches are then a function of the epoch, so a resumed run draws the same ones."""
    if hasattr(batches, "set_epoch"):
        batches.set_epoch(epoch)
    sampler = getattr(batches, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)


def _is_loader(obj) -> bool:
    return isinstance(obj, torch.utils.data.DataLoader)


def _convertible(loader) -> bool:
    """A DataLoader over a map-style dataset with a plain sequential or random sampler."""
    from torch.utils.data import BatchSampler, IterableDataset, RandomSampler, SequentialSampler
    return (not isinstance(loader.dataset, IterableDataset)
            and type(loader.batch_sampler) is BatchSampler
            and type(loader.sampler) in (RandomSampler, SequentialSampler))


def distributed_loader(data, batch_size: int | None = None, shuffle: bool | None = None,
                       seed: int = 0, drop_last: bool | None = None,
                       global_batch_size: int | None = None, rank: int | None = None,
                       world_size: int | None = None, **loader_kwargs):
    """A DataLoader whose :class:`~torch.utils.data.DistributedSampler` gives each rank a
    disjoint ``1/world_size`` of the dataset (padded by repeating a few items so every rank has
    as many, hence takes the same number of steps).

    ``data`` is a map-style dataset, or a DataLoader to convert (its dataset, batch size, collate
    function, e.g. PyG's ``Collater``, workers and ``drop_last`` are kept; ``shuffle`` defaults
    to whether it shuffled). ``batch_size`` is per rank (the PyTorch convention: each step
    processes ``world_size x batch_size`` items in all); pass ``global_batch_size`` instead to
    keep the items per step fixed whatever the world size, which must then divide it. Shuffling
    is seeded by ``seed`` and the epoch: the :class:`~graphssl.train.Trainer` calls
    ``sampler.set_epoch`` every epoch (call it yourself in your own loop). ``rank`` and
    ``world_size`` default to the process group's.
    """
    from torch.utils.data import DataLoader, DistributedSampler, RandomSampler
    world = world_size if world_size is not None else _current_world_size()
    me = rank if rank is not None else _current_rank()
    if _is_loader(data):
        if not _convertible(data):
            raise DistributedError(
                "distributed_loader converts DataLoaders over a map-style dataset with the "
                "default sequential/random sampler; this one has "
                f"{type(data.sampler).__name__}/{type(data.batch_sampler).__name__} over "
                f"{type(data.dataset).__name__}. Build one from the dataset instead.")
        if shuffle is None:
            shuffle = isinstance(data.sampler, RandomSampler)
        if batch_size is None and global_batch_size is None:
            batch_size = data.batch_size
        if drop_last is None:
            drop_last = data.drop_last
        for key, value in (("collate_fn", data.collate_fn), ("num_workers", data.num_workers),
                           ("pin_memory", data.pin_memory)):
            loader_kwargs.setdefault(key, value)
        data = data.dataset
    if (batch_size is None) == (global_batch_size is None):
        raise ValueError("give exactly one of batch_size (per rank) and global_batch_size, got "
                         f"batch_size={batch_size!r}, global_batch_size={global_batch_size!r}")
    if global_batch_size is not None:
        global_batch_size = check_positive_int("global_batch_size", global_batch_size)
        if global_batch_size % world:
            raise DistributedError(
                f"global_batch_size={global_batch_size} does not split over {world} "
                f"processes; use a multiple of {world} (or batch_size= per rank)")
        batch_size = global_batch_size // world
    batch_size = check_positive_int("batch_size", batch_size)
    shuffle = True if shuffle is None else bool(shuffle)
    drop_last = False if drop_last is None else bool(drop_last)
    sampler = DistributedSampler(data, num_replicas=world, rank=me, shuffle=shuffle, seed=seed,
                                 drop_last=drop_last)
    return DataLoader(data, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                      **loader_kwargs)


def partition(data, rank_: int, world: int, uneven: str = "error", seed: int = 0):
    """Rank ``rank_``'s share of ``data`` for :class:`~graphssl.train.Trainer`: a DataLoader
    that already has a DistributedSampler is kept; one with a plain sampler is rebuilt by
    :func:`distributed_loader` (same batch size per rank); any other sized iterable becomes a
    :class:`RankBatches`. Returns ``(batches, note)``; ``note`` says what was done."""
    from torch.utils.data import DistributedSampler
    if _is_loader(data):
        if isinstance(data.sampler, DistributedSampler):
            return data, None
        if _convertible(data):
            return (distributed_loader(data, seed=seed, rank=rank_, world_size=world),
                    f"DataLoader rebuilt with a DistributedSampler (batch_size {data.batch_size} "
                    f"per rank, {world} ranks)")
    return RankBatches(data, rank_, world, uneven), None


# -- cross-rank gathering -----------------------------------------------------------------------
# -- model wrapping ---------------------------------------------------------------------------

def find_transformer_blocks(module: nn.Module) -> list[nn.Module]:
    """The :class:`~graphssl.encoders.transformer.TransformerBlock` s inside ``module`` (its
    online and target encoders alike), in registration order."""
    from ..encoders.transformer import TransformerBlock
    return [m for m in module.modules() if isinstance(m, TransformerBlock)]


def shard_model(method: nn.Module, reshard_after_forward: bool = True, **fsdp_kwargs):
    """Shard ``method`` over the process group with FSDP2: ``fully_shard`` on every
    :class:`~graphssl.encoders.transformer.TransformerBlock`, then on the method itself (the
    root: tokenizers, heads, whatever is left). In place; returns ``method``.

    Each rank then holds ``1/world_size`` of every parameter, gradient and optimiser state; a
    block's parameters are all-gathered just before it runs and freed after. Call the method
    through ``method(batch, generator)`` (its ``forward``, which FSDP hooks), create the
    optimiser afterwards, and read full weights with
    ``torch.distributed.checkpoint.state_dict.get_model_state_dict`` (the
    :class:`~graphssl.train.Trainer` does all of this with ``fsdp=True``). Works with gloo on CPU
    as with NCCL on CUDA.

    Raises:
        DistributedError: no TransformerBlock inside (GNN and ResNet encoders: train them with
            DDP, whose replicas are small anyway), or no process group.
    """
    blocks = find_transformer_blocks(method)
    if not blocks:
        encoder = getattr(method, "encoder", method)
        raise DistributedError(
            f"FSDP shards the Transformer adapter encoders block by block, and "
            f"{type(method).__name__}'s encoder ({type(encoder).__name__}) has no "
            f"TransformerBlock to wrap. Train it with DDP instead (Trainer(fsdp=False), the "
            f"default under torchrun): GNN and CNN encoders are small enough to replicate.")
    if not is_distributed():
        raise DistributedError(f"FSDP needs an initialised process group; {LAUNCH_HINT}, and "
                               f"call graphssl.train.init_distributed() first")
    try:
        from torch.distributed.fsdp import fully_shard
    except ImportError as err:  # pragma: no cover - torch < 2.6
        raise DistributedError(f"this PyTorch ({torch.__version__}) has no FSDP2 fully_shard; "
                               f"use DDP") from err
    for block in blocks:
        fully_shard(block, reshard_after_forward=reshard_after_forward, **fsdp_kwargs)
    fully_shard(method, reshard_after_forward=reshard_after_forward, **fsdp_kwargs)
    return method


def broadcast_module(module: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers into every rank's ``module`` (what DDP does
    when it wraps a model)."""
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src)


def average_module(module: nn.Module, tensors=None) -> None:
    """Replace every rank's floating-point parameters and buffers (or ``tensors``) by their mean
    over ranks."""
    from torch.distributed.algorithms.model_averaging.utils import average_parameters
    if tensors is None:
        tensors = [t for t in [*module.parameters(), *module.buffers()]
                   if t.is_floating_point()]
    if tensors:
        average_parameters(iter(tensors), dist.group.WORLD)
