"""Data-parallel training on torch.distributed: 2 processes, gloo, CPU.

One ``torch.multiprocessing`` spawn (2 ranks) runs every multi-process scenario in turn and
saves what it saw; the tests compare it with single-process references computed here. The rest
(environment, partitioning, argument checks, the CLI's rank logic) runs in this process.
"""
import copy
import datetime
import json
import logging
import os
import shutil
import socket
import time
import traceback

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from conftest import Interrupt
from graphssl.encoders.tokenizers import ImagePatches
from graphssl.encoders.transformer import TransformerEncoder
from graphssl.methods import GRACE
from graphssl.methods.base import Method
from graphssl.methods.bgrl import ema_update
from graphssl.objectives import BootstrapLoss, InfoNCE
from graphssl.train import (DistributedError, Trainer, distributed_loader, distributed_session,
                            init_distributed, load_checkpoint, read_env, shard_model)
from graphssl.train import distributed as D

WORLD = 2
TIMEOUT = 60  # seconds a collective may wait inside the workers (a hang fails, never stalls CI)
ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


# -- the method every scenario trains -------------------------------------------------------

class PairMethod(Method):
    """Batches ``[B, 2, ...]`` hold both views; ``noise > 0`` adds generator-drawn noise (so the
    per-rank augmentation streams matter). ``objective``: ``'bootstrap'`` (BYOL-style, with an
    EMA target updated in ``after_step``), ``'infonce'`` or ``'mse'`` (per item)."""

    def __init__(self, objective="bootstrap", gather=False, noise=0.0, vit=False):
        if vit:
            encoder = TransformerEncoder(ImagePatches(1, image_size=4, patch_size=2, dim=8),
                                         depth=2, heads=2, mlp_ratio=2.0)
        else:
            encoder = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8))
        super().__init__(encoder)
        self.kind, self.noise = objective, noise
        self.head = nn.Linear(8, 8)
        if objective == "bootstrap":
            self.target = copy.deepcopy(encoder)
            for p in self.target.parameters():
                p.requires_grad_(False)
            self.objective = BootstrapLoss(symmetric=True)
        elif objective == "infonce":
            self.objective = InfoNCE(0.5, gather_negatives=gather)

    def loss(self, batch, generator=None):
        x1, x2 = batch[:, 0], batch[:, 1]
        if self.noise:
            x1 = x1 + self.noise * torch.randn(x1.shape, generator=generator)
            x2 = x2 + self.noise * torch.randn(x2.shape, generator=generator)
        h1, h2 = self.head(self.encoder(x1)), self.head(self.encoder(x2))
        if self.kind == "bootstrap":
            with torch.no_grad():
                t1, t2 = self.target(x1), self.target(x2)
            return self.objective(h1, t2, h2, t1)
        if self.kind == "infonce":
            return self.objective(h1, h2)
        return ((h1 * h2).sum(1) - 1.0).pow(2).mean()

    def after_step(self, step, total_steps):
        if self.kind == "bootstrap":
            ema_update(self.target, self.encoder, 0.9)


def make(objective="bootstrap", seed=0, **kwargs):
    torch.manual_seed(seed)
    return PairMethod(objective, **kwargs)


def pair_batches(sizes, seed=0, vit=False):
    g = torch.Generator().manual_seed(seed)
    shape = (2, 1, 4, 4) if vit else (2, 6)
    return [torch.randn(n, *shape, generator=g) for n in sizes]


def grads_of(method):
    return {n: p.grad.clone() for n, p in method.named_parameters() if p.grad is not None}


def trainer(**kwargs):
    base = dict(epochs=1, lr=0.1, optimizer="sgd", seed=0, progress=False)
    return Trainer(**{**base, **kwargs})


def interrupted_fit(method, data, at, **kwargs):
    Interrupt(method, at)
    try:
        trainer(**kwargs).fit(method, data)
    except KeyboardInterrupt:
        pass
    del method.loss  # back to the class's loss


# -- what each rank runs ----------------------------------------------------------------------

def _scenarios(rank, tmp):
    import torch.distributed as dist
    out = {}

    # one DDP step == one step over the combined batch: per-item loss, EMA target
    method = make("bootstrap", seed=rank)  # rank 1 starts elsewhere: DDP broadcasts rank 0's
    t = trainer()
    t.fit(method, pair_batches([4, 4]))
    out["bootstrap"] = dict(state=method.state_dict(), grads=grads_of(method),
                            loss=t.history[0]["loss"])

    # InfoNCE with cross-rank negatives, equal and unequal local batches
    for name, sizes in (("gather", [6, 6]), ("gather_uneven", [5, 7])):
        method = make("infonce", gather=True)
        t = trainer()
        t.fit(method, pair_batches(sizes))
        out[name] = dict(state=method.state_dict(), grads=grads_of(method),
                         loss=t.history[0]["loss"])

    # InfoNCE without gathering: the mean of the per-rank losses
    method = make("infonce", gather=False)
    t = trainer()
    t.fit(method, pair_batches([6, 6]))
    out["local"] = dict(state=method.state_dict(), grads=grads_of(method),
                        loss=t.history[0]["loss"])

    # a DataLoader: rebuilt with a DistributedSampler, reshuffled every epoch
    pairs = pair_batches([8])[0]
    seen, method = [], make("mse")
    loss = method.loss
    method.loss = lambda batch, generator=None: (seen.append(batch[:, 0, 0]),
                                                 loss(batch, generator))[1]
    trainer(epochs=2).fit(method, torch.utils.data.DataLoader(pairs, batch_size=2, shuffle=True))
    out["loader"] = [torch.cat(seen[:2]), torch.cat(seen[2:])]  # 2 steps per epoch

    # rank 0 alone logs and checkpoints (each rank is given its own paths)
    own = tmp / f"own{rank}"
    trainer(epochs=2, checkpoint_dir=own, log_path=own / "log.jsonl", progress=True).fit(
        make("bootstrap"), pair_batches([4, 4, 4, 4]))

    # an interrupted 2-process run, resumed by 1 process in the test (same paths on both ranks)
    w2 = tmp / "w2"
    interrupted_fit(make("bootstrap", noise=0.1), pair_batches([4, 4, 4, 4]), at=5, epochs=4,
                    checkpoint_dir=w2, log_path=w2 / "log.jsonl")

    # a checkpoint written by 1 process (before the spawn), resumed by 2
    method = make("bootstrap", noise=0.1)
    t = trainer(epochs=4, checkpoint_dir=tmp / "w1", log_path=tmp / "w1" / "log.jsonl")
    t.fit(method, pair_batches([4, 4, 4, 4]), resume=True)
    out["from_w1"] = dict(state=method.state_dict(), resumed=t.resumed_from_epoch,
                          world=t.resumed_world_size, epochs=len(t.history))

    # same world size: resume is exact (each rank gets its own RNG streams back)
    data = pair_batches([4, 4, 4, 4])
    full = make("bootstrap", noise=0.1)
    trainer(epochs=3).fit(full, data)
    exact = tmp / "exact"
    interrupted_fit(make("bootstrap", noise=0.1), data, at=4, epochs=3, checkpoint_dir=exact)
    resumed = make("bootstrap", noise=0.1, seed=7)
    trainer(epochs=3, checkpoint_dir=exact).fit(resumed, data, resume=True)
    out["exact"] = dict(full=full.state_dict(), resumed=resumed.state_dict())

    # post-local SGD: 4 steps per rank, gradients all-reduced at step 0, averages at 1 and 3
    method = make("mse")
    trainer(epochs=2, sync="post_local_sgd", average_every=2, sync_warmup_steps=1).fit(
        method, pair_batches([4, 4, 4, 4]))
    out["post_local"] = dict(state=method.state_dict())

    # FSDP2 on CPU/gloo: one step equals one step over the combined batch
    method = make("bootstrap", vit=True)
    t = trainer(fsdp=True)
    t.fit(method, pair_batches([4, 4], vit=True))
    out["fsdp"] = dict(state=method.state_dict(), loss=t.history[0]["loss"])

    # FSDP + Adam: interrupted, resumed under FSDP (exact), and the checkpoint kept for a
    # 1-process resume without FSDP in the test
    data = pair_batches([4, 4], vit=True)
    adam = dict(optimizer="adam", lr=0.01, epochs=2, fsdp=True)
    full = make("bootstrap", vit=True)
    trainer(**adam).fit(full, data)
    ck = tmp / "fsdp_ckpt"
    interrupted_fit(make("bootstrap", vit=True), data, at=2, checkpoint_dir=ck, **adam)
    if rank == 0:
        shutil.copy(ck / "checkpoint.pt", tmp / "fsdp_epoch1.pt")
    dist.barrier()
    resumed = make("bootstrap", vit=True, seed=3)
    trainer(checkpoint_dir=ck, **adam).fit(resumed, data, resume=True)
    out["fsdp_resume"] = dict(full=full.state_dict(), resumed=resumed.state_dict())

    # a dead rank: rank 1 leaves; rank 0's next training step must raise, not hang
    torch.save(out, tmp / f"rank{rank}.pt")
    dist.barrier()
    if rank == 1:
        os._exit(0)
    time.sleep(0.5)
    start = time.perf_counter()
    try:
        trainer(epochs=3).fit(make("bootstrap"), pair_batches([4, 4]))
        out["dead"] = dict(error=None)
    except Exception as err:  # noqa: BLE001 - recorded for the test
        out["dead"] = dict(error=f"{type(err).__name__}: {err}"[:500],
                           seconds=time.perf_counter() - start)
    torch.save(out, tmp / f"rank{rank}.pt")


def _worker(rank, port, tmp):
    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    env = init_distributed(backend="gloo", timeout_seconds=TIMEOUT)
    assert (env.rank, env.world_size) == (rank, WORLD)
    try:
        _scenarios(rank, tmp)
    except BaseException:
        (tmp / f"error{rank}.txt").write_text(traceback.format_exc())
        raise
    finally:
        if rank == 0:
            D.shutdown()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Run the scenarios on 2 ranks; returns ``(rank 0's results, rank 1's, their folder)``."""
    tmp = tmp_path_factory.mktemp("ranks")
    # the 1-process checkpoint that the ranks resume (interrupted at epoch 3 of 4)
    interrupted_fit(make("bootstrap", noise=0.1), pair_batches([4, 4, 4, 4]), at=9, epochs=4,
                    checkpoint_dir=tmp / "w1", log_path=tmp / "w1" / "log.jsonl")
    context = mp.start_processes(_worker, args=(_free_port(), tmp), nprocs=WORLD, join=False,
                                 start_method="spawn")
    deadline = time.monotonic() + 240
    try:
        while not context.join(timeout=1):
            if time.monotonic() > deadline:
                raise TimeoutError("the 2-rank scenarios did not finish in 240 s")
    except Exception:
        errors = "\n".join(p.read_text() for p in sorted(tmp.glob("error*.txt")))
        raise AssertionError(f"a rank failed:\n{errors}") from None
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
    return torch.load(tmp / "rank0.pt"), torch.load(tmp / "rank1.pt"), tmp


def assert_close(a, b, **tol):
    tol = {"rtol": 1e-5, "atol": 1e-6, **tol}
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], **tol, msg=lambda m, n=name: f"{n}: {m}")


def single_process(objective, sizes, vit=False, **kwargs):
    """The reference: one process, one step, over the concatenation of the ranks' batches."""
    method = make(objective, vit=vit, **kwargs)
    t = trainer()
    t.fit(method, [torch.cat(pair_batches(sizes, vit=vit))])
    return method, t


# -- one DDP step equals one step over the combined batch ------------------------------------

def test_ddp_step_equals_single_process_step_per_item_loss(ranks):
    r0, r1, _ = ranks
    ref, t = single_process("bootstrap", [4, 4])
    got = r0["bootstrap"]
    assert got["loss"] == pytest.approx(t.history[0]["loss"], rel=1e-6)
    assert_close(got["grads"], grads_of(ref))
    assert_close(got["state"], ref.state_dict())  # updated parameters and EMA target
    assert_close(r1["bootstrap"]["state"], ref.state_dict())  # rank 1 started elsewhere


@pytest.mark.parametrize("case,sizes", [("gather", [6, 6]), ("gather_uneven", [5, 7])])
def test_gathered_infonce_equals_single_process_infonce_on_the_concatenation(ranks, case, sizes):
    ref, t = single_process("infonce", sizes)
    for result in (ranks[0][case], ranks[1][case]):
        assert result["loss"] == pytest.approx(t.history[0]["loss"], rel=1e-5)
        assert_close(result["grads"], grads_of(ref))
        assert_close(result["state"], ref.state_dict())


def test_local_infonce_is_the_mean_of_the_per_rank_losses(ranks):
    got = ranks[0]["local"]
    b0, b1 = pair_batches([6, 6])
    losses, grads = [], []
    for b in (b0, b1):
        method = make("infonce")
        loss = method.loss(b)
        loss.backward()
        losses.append(loss.item())
        grads.append(grads_of(method))
    assert got["loss"] == pytest.approx(sum(losses) / 2, rel=1e-6)
    assert_close(got["grads"], {n: (grads[0][n] + grads[1][n]) / 2 for n in grads[0]})
    _, joint = single_process("infonce", [6, 6])
    assert abs(got["loss"] - joint.history[0]["loss"]) > 1e-2  # a different loss


def test_dataloader_is_split_over_ranks_and_reshuffled(ranks):
    ids = pair_batches([8])[0][:, 0, 0]
    for epoch in range(2):
        mine, theirs = ranks[0]["loader"][epoch], ranks[1]["loader"][epoch]
        assert sorted(torch.cat([mine, theirs]).tolist()) == sorted(ids.tolist())
    assert not torch.equal(ranks[0]["loader"][0], ranks[0]["loader"][1])


# -- logs, checkpoints, resume ------------------------------------------------------------------

def test_rank0_alone_logs_and_writes_checkpoints(ranks):
    tmp = ranks[2]
    assert (tmp / "own0" / "checkpoint.pt").exists()
    lines = (tmp / "own0" / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert not (tmp / "own1").exists()  # rank 1 wrote nothing
    ckpt = load_checkpoint(tmp / "own0" / "checkpoint.pt")
    assert ckpt["world_size"] == 2 and len(ckpt["rank_rng"]) == 2


def test_checkpoint_of_2_processes_resumes_in_1(ranks, caplog):
    path = ranks[2] / "w2"
    ckpt = load_checkpoint(path / "checkpoint.pt")
    assert (ckpt["epoch"], ckpt["world_size"]) == (2, 2)
    method = make("bootstrap", noise=0.1, seed=11)
    t = trainer(epochs=4, checkpoint_dir=path, log_path=path / "log.jsonl")
    with caplog.at_level(logging.WARNING, logger="graphssl.train"):
        t.fit(method, pair_batches([4, 4, 4, 4]), resume=True)
    assert (t.resumed_from_epoch, t.resumed_world_size) == (2, 2)
    assert "written by 2 process(es), this run has 1" in caplog.text
    assert [r["epoch"] for r in t.history] == [1, 2, 3, 4]
    lines = (path / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3, 4]
    assert load_checkpoint(path / "checkpoint.pt")["world_size"] == 1


def test_checkpoint_of_1_process_resumes_in_2(ranks):
    r0, r1, _ = ranks
    assert (r0["from_w1"]["resumed"], r0["from_w1"]["world"], r0["from_w1"]["epochs"]) == (
        2, 1, 4)
    assert_close(r0["from_w1"]["state"], r1["from_w1"]["state"], rtol=0, atol=0)


def test_resume_with_the_same_world_size_is_exact(ranks):
    for r in ranks[:2]:
        assert_close(r["exact"]["full"], r["exact"]["resumed"], rtol=0, atol=0)


# -- post-local SGD ---------------------------------------------------------------------------

def test_post_local_sgd_matches_its_definition(ranks):
    """Replicas step on their own gradients after the warm-up and are averaged every 2 steps
    (and at the end), as simulated here by hand."""
    lr, warmup, period = 0.1, 1, 2
    batches = pair_batches([4, 4, 4, 4])
    replicas = [make("mse") for _ in range(WORLD)]
    shards = [batches[r::WORLD] for r in range(WORLD)]
    params = [dict(m.named_parameters()) for m in replicas]

    def average(values):
        mean = torch.stack(values).mean(0)
        for v in values:
            v.data.copy_(mean)

    step = 0
    for _ in range(2):  # epochs
        for k in range(2):  # steps per epoch
            for r, m in enumerate(replicas):
                m.zero_grad()
                m.loss(shards[r][k]).backward()
            with torch.no_grad():
                for name in params[0]:
                    grads = [p[name].grad for p in params]
                    if step < warmup:
                        average(grads)
                    for p in params:
                        p[name] -= lr * p[name].grad
                    if step >= warmup and (step - warmup) % period == 0:
                        average([p[name] for p in params])
            step += 1
    with torch.no_grad():
        for name in params[0]:
            average([p[name] for p in params])
    for r in ranks[:2]:
        assert_close(r["post_local"]["state"], replicas[0].state_dict())
    ddp = make("mse")
    trainer(epochs=2).fit(ddp, [torch.cat(batches[i:i + 2]) for i in (0, 2)])
    drift = max((a - b).abs().max().item() for a, b in
                zip(ddp.state_dict().values(), replicas[0].state_dict().values()))
    assert drift > 1e-4  # not what DDP would have computed


# -- FSDP ---------------------------------------------------------------------------------------

def test_fsdp_step_equals_single_process_step(ranks):
    ref, t = single_process("bootstrap", [4, 4], vit=True)
    for r in ranks[:2]:
        assert r["fsdp"]["loss"] == pytest.approx(t.history[0]["loss"], rel=1e-5)
        assert_close(r["fsdp"]["state"], ref.state_dict())  # weights and EMA target


def test_fsdp_resume_is_exact_and_its_checkpoint_loads_without_fsdp(ranks):
    for r in ranks[:2]:
        assert_close(r["fsdp_resume"]["full"], r["fsdp_resume"]["resumed"], rtol=0, atol=0)
    path = ranks[2] / "fsdp_epoch1.pt"
    ckpt = load_checkpoint(path)
    assert (ckpt["epoch"], ckpt["world_size"]) == (1, 2)
    method = make("bootstrap", vit=True, seed=5)
    method.load_state_dict(ckpt["model"])  # plain tensors, no DTensor, no prefix
    optim = torch.optim.Adam(method.parameters(), lr=0.01)
    optim.load_state_dict(ckpt["optimizer"])  # torch.optim's own format
    trainable = [p for p in method.parameters() if p.requires_grad]
    assert len(optim.state) == len(trainable)
    for p in trainable:
        assert optim.state[p]["exp_avg"].shape == p.shape
    # and a 1-process run without FSDP resumes from it
    run = ranks[2] / "fsdp_w1"
    run.mkdir()
    shutil.copy(path, run / "checkpoint.pt")
    t = trainer(optimizer="adam", lr=0.01, epochs=2, checkpoint_dir=run)
    t.fit(make("bootstrap", vit=True), pair_batches([4, 4], vit=True), resume=True)
    assert (t.resumed_from_epoch, len(t.history)) == (1, 2)


def test_fsdp_refuses_encoders_without_transformer_blocks():
    grace = GRACE.from_config(8, encoder={"hidden_channels": 8, "out_channels": 4},
                              projection_dim=4)
    with pytest.raises(DistributedError, match=r"GCNEncoder.*no TransformerBlock.*DDP"):
        shard_model(grace)
    assert D.find_transformer_blocks(grace) == []
    vit = make("bootstrap", vit=True)
    assert len(D.find_transformer_blocks(vit)) == 4  # online and target encoders, 2 each
    with pytest.raises(DistributedError, match="process group"):
        shard_model(vit)


# -- a dead rank --------------------------------------------------------------------------------

def test_dead_rank_raises_instead_of_hanging(ranks):
    dead = ranks[0]["dead"]
    assert dead["error"] is not None, "training with a dead peer did not fail"
    assert dead["seconds"] < TIMEOUT + 5


def test_timeout_and_backend_reach_init_process_group(monkeypatch):
    seen = {}
    monkeypatch.setattr(D.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(D.dist, "init_process_group", lambda **kw: seen.update(kw))
    env = {"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    got = init_distributed(backend="gloo", timeout_seconds=42)
    assert (got.rank, got.world_size, got.local_rank) == (1, 2, 1)
    assert seen == dict(backend="gloo", init_method="env://", rank=1, world_size=2,
                        timeout=datetime.timedelta(seconds=42))


# -- the environment ----------------------------------------------------------------------------

@pytest.fixture
def no_launcher(monkeypatch):
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_partial_environment_names_what_is_missing(no_launcher):
    no_launcher.setenv("RANK", "0")
    no_launcher.setenv("WORLD_SIZE", "2")
    with pytest.raises(DistributedError,
                       match=r"RANK, WORLD_SIZE set but MASTER_ADDR, MASTER_PORT missing.*"
                             r"torchrun --nproc_per_node=N"):
        init_distributed()
    with pytest.raises(DistributedError, match="MASTER_ADDR"):
        with distributed_session():
            pass
    with pytest.raises(DistributedError, match="MASTER_ADDR"):
        Trainer(epochs=1, distributed=True, progress=False).fit(make(), pair_batches([4]))


def test_malformed_environment(no_launcher):
    base = {"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "29500"}
    assert read_env(base) == D.DistributedEnv(0, 2, 0, "h", 29500)
    assert read_env({}) is None
    for change, match in (({"RANK": "2"}, "below WORLD_SIZE"), ({"WORLD_SIZE": "two"},
                          "WORLD_SIZE='two'"), ({"MASTER_PORT": "70000"}, "TCP port"),
                          ({"LOCAL_RANK": "-1"}, "LOCAL_RANK")):
        with pytest.raises(DistributedError, match=match):
            read_env({**base, **change})


def test_without_launcher(no_launcher):
    with pytest.raises(DistributedError, match="not launched by a distributed launcher"):
        init_distributed()
    with distributed_session() as env:  # one ordinary process
        assert env is None
    with pytest.raises(DistributedError, match="torchrun"):
        Trainer(epochs=1, fsdp=True, progress=False).fit(make(vit=True),
                                                         pair_batches([4], vit=True))
    assert (D.world_size(), D.rank(), D.is_main_process(), D.rank_seed(5)) == (1, 0, True, 5)


def test_bad_arguments():
    for kwargs, match in (({"sync": "allreduce"}, "sync"),
                          ({"sync": "post_local_sgd", "average_every": 0}, "average_every"),
                          ({"sync_warmup_steps": -1}, "sync_warmup_steps"),
                          ({"fsdp": True, "sync": "post_local_sgd"}, "do not combine"),
                          ({"distributed": False, "fsdp": True}, "contradicts"),
                          ({"distributed": "yes"}, "distributed"),
                          ({"uneven_batches": "pad"}, "uneven_batches")):
        with pytest.raises(ValueError, match=match):
            Trainer(**kwargs)
    with pytest.raises(ValueError, match="backend"):
        init_distributed(backend="mpi")
    with pytest.raises(ValueError, match="timeout_seconds"):
        init_distributed(timeout_seconds=0)
    with pytest.raises(ValueError, match="gather_negatives"):
        InfoNCE(gather_negatives=True, chunk_size=4)
    with pytest.raises(ValueError, match="gather_negatives"):
        InfoNCE(gather_negatives=1)
    if not torch.cuda.is_available():
        with pytest.raises(DistributedError, match="gloo"):
            init_distributed(backend="nccl")


# -- partitioning -------------------------------------------------------------------------------

def test_rank_batches_partition_and_uneven_counts():
    batches = list(range(6))
    assert [list(D.RankBatches(batches, r, 3)) for r in range(3)] == [[0, 3], [1, 4], [2, 5]]
    with pytest.raises(DistributedError, match=r"7 batches per epoch do not split evenly over 2"
                                               r".*uneven_batches='drop'"):
        D.RankBatches(list(range(7)), 0, 2)
    dropped = [list(D.RankBatches(list(range(7)), r, 2, uneven="drop")) for r in range(2)]
    assert dropped == [[0, 2, 4], [1, 3, 5]]
    with pytest.raises(DistributedError, match="at least one"):
        D.RankBatches([0], 0, 2)
    with pytest.raises(DistributedError, match="need a length"):
        D.RankBatches((x for x in range(4)), 0, 2)


def test_distributed_loader_splits_the_dataset():
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
    data = TensorDataset(torch.arange(10))
    loaders = [distributed_loader(data, batch_size=2, seed=1, rank=r, world_size=2)
               for r in range(2)]
    seen = [torch.cat([b[0] for b in loader]).tolist() for loader in loaders]
    assert sorted(seen[0] + seen[1]) == list(range(10)) and len(seen[0]) == 5
    loaders[0].sampler.set_epoch(1)
    assert torch.cat([b[0] for b in loaders[0]]).tolist() != seen[0]  # reshuffled per epoch
    plain = DataLoader(data, batch_size=3, shuffle=False)
    converted, note = D.partition(plain, 1, 2)
    assert isinstance(converted.sampler, DistributedSampler) and not converted.sampler.shuffle
    assert torch.cat([b[0] for b in converted]).tolist() == [1, 3, 5, 7, 9] and "rebuilt" in note
    with pytest.raises(DistributedError, match="does not split over 4"):
        distributed_loader(data, global_batch_size=6, rank=0, world_size=4)
    assert distributed_loader(data, global_batch_size=8, rank=0, world_size=4).batch_size == 2
    with pytest.raises(ValueError, match="exactly one"):
        distributed_loader(data, rank=0, world_size=2)


def test_gathered_infonce_algebra(monkeypatch):
    """In one process, with the gather faked: the ranks' weighted losses average to the loss
    over the concatenation, and so do their gradients (what DDP averages)."""
    from graphssl.objectives import _gather as gather_module
    from graphssl.objectives import infonce
    sizes = [3, 5]
    g = torch.Generator().manual_seed(0)
    for kwargs in ({}, {"decoupled": True}, {"intra_view_negatives": False},
                   {"symmetric": False}, {"normalize": False, "temperature": 0.7}):
        z1 = torch.randn(8, 4, generator=g, requires_grad=True)
        z2 = torch.randn(8, 4, generator=g, requires_grad=True)
        full = InfoNCE(**kwargs)(z1, z2)
        expected = torch.autograd.grad(full, (z1, z2))
        monkeypatch.setattr(infonce, "world_size", lambda: 2)
        total = 0.0
        for r, (start, stop) in enumerate(((0, 3), (3, 8))):
            def fake_gather(rows, start=start, stop=stop, norm=kwargs.get("normalize", True)):
                both = torch.cat([F.normalize(z1, dim=1), F.normalize(z2, dim=1)] if norm
                                 else [z1, z2], 1)
                live = torch.cat([both[:start], rows, both[stop:]])  # this rank's rows: its own
                return live, start, sizes
            monkeypatch.setattr(gather_module, "gather_rows", fake_gather)
            total = total + InfoNCE(gather_negatives=True, **kwargs)(z1[start:stop],
                                                                      z2[start:stop])
        monkeypatch.undo()
        got = torch.autograd.grad(total / 2, (z1, z2))
        assert (total / 2).item() == pytest.approx(full.item(), rel=1e-5), kwargs
        for a, b in zip(got, expected):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    z1, z2 = torch.randn(5, 3), torch.randn(5, 3)  # no process group: the option does nothing
    assert InfoNCE(gather_negatives=True)(z1, z2).item() == InfoNCE()(z1, z2).item()


# -- the command line ---------------------------------------------------------------------------

def test_cli_reports_a_partial_environment(no_launcher, capsys):
    from graphssl.cli import main
    no_launcher.setenv("RANK", "0")
    assert main(["datasets"]) == 2
    err = capsys.readouterr().err
    assert "WORLD_SIZE, MASTER_ADDR, MASTER_PORT missing" in err and "torchrun" in err


def test_cli_only_rank0_prints_and_writes(no_launcher, tmp_path, capsys):
    import graphssl.bench
    from graphssl import cli
    env = {"WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    for key, value in env.items():
        no_launcher.setenv(key, value)
    calls = []
    no_launcher.setattr(cli.dist_env, "init_distributed", lambda: calls.append("init"))
    no_launcher.setattr(cli.dist_env, "shutdown", lambda: calls.append("shutdown"))
    no_launcher.setattr(cli, "_prepare_data_on_rank0", lambda *a: None)

    def fake_run(*args, progress=True, **kwargs):
        print("result line")
        return {"progress": progress}

    no_launcher.setattr(graphssl.bench, "run_pretrain", fake_run)
    argv = ["pretrain", "--method", "grace", "--dataset", "Cora", "--out"]
    for r in (1, 0):
        no_launcher.setenv("RANK", str(r))
        no_launcher.setattr(cli.dist_env, "is_main_process", lambda r=r: r == 0)
        assert cli.main(argv + [str(tmp_path / f"out{r}.json")]) == 0
        printed = capsys.readouterr().out
        assert ("result line" in printed) == (r == 0)
        assert (tmp_path / f"out{r}.json").exists() == (r == 0)
    assert calls == ["init", "shutdown"] * 2
    assert cli.main(["datasets"]) == 2  # RANK=0 of 2: not a distributed command
    assert "runs as one process" in capsys.readouterr().err
