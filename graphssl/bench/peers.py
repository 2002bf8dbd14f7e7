"""Peer references: our epoch over a peer library's implementation of the same method, same
encoder (class and weights), same graph, timed in interleaved rounds of one process.

Peers installable here: PyG's ``DeepGraphInfomax`` (for ``dgi``) and ``GAE`` / ``VGAE`` (for
``gae`` / ``vgae``; both sides then use the sampled reconstruction loss with one negative per
edge, since PyG's ``recon_loss`` samples, so the shipped Planetoid ``dense`` setting is
switched to ``sampled`` for the comparison).
"""
from __future__ import annotations

import copy
import statistics
import time

import torch

from ..methods import build_method
from ..sparse import to_sparse_features


def time_interleaved(cases: dict, rounds: int, per_round: int, warmup: int) -> dict:
    """``{name: [seconds per step, one per round]}``: ``warmup`` steps of each case, then
    ``rounds`` rounds that each time ``per_round`` steps of every case in turn, so slow drifts
    of the machine hit all cases alike."""
    for step in cases.values():
        for _ in range(warmup):
            step()
    times = {name: [] for name in cases}
    for _ in range(rounds):
        for name, step in cases.items():
            start = time.perf_counter()
            for _ in range(per_round):
                step()
            times[name].append((time.perf_counter() - start) / per_round)
    return times


def _dgi(data, config):
    from torch_geometric.nn import DeepGraphInfomax

    ours = build_method("dgi", data.num_features, **config["model"])
    encoder = copy.deepcopy(ours.encoder)
    gen = torch.Generator().manual_seed(0)

    def corruption(x, edge_index):
        return x[torch.randperm(x.size(0), generator=gen)], edge_index

    peer = DeepGraphInfomax(encoder.out_channels, encoder=encoder,
                            summary=lambda z, *args, **kwargs: torch.sigmoid(z.mean(dim=0)),
                            corruption=corruption)
    encoder.load_state_dict(ours.encoder.state_dict())  # PyG's constructor re-initialises it

    def peer_loss():
        pos, neg, summary = peer(data.x, data.edge_index)
        return peer.loss(pos, neg, summary)
    return ours, peer, peer_loss, "torch_geometric.nn.DeepGraphInfomax"


def _autoencoder(name):
    def build(data, config):
        from torch_geometric.nn import GAE, VGAE

        model_cfg = dict(config["model"], reconstruction="sampled")
        ours = build_method(name, data.num_features, **model_cfg)
        encoder = copy.deepcopy(ours.encoder)
        state = copy.deepcopy(encoder.state_dict())
        peer = (VGAE if name == "vgae" else GAE)(encoder)
        encoder.load_state_dict(state)  # PyG's constructor re-initialises the encoder

        def peer_loss():
            z = peer.encode(data.x, data.edge_index)
            loss = peer.recon_loss(z, data.edge_index)
            return loss + peer.kl_loss() / data.num_nodes if name == "vgae" else loss
        return ours, peer, peer_loss, f"torch_geometric.nn.{name.upper()}"
    return build


PEERS = {"dgi": _dgi, "gae": _autoencoder("gae"), "vgae": _autoencoder("vgae")}


def peer_timing(method: str, data, config: dict, rounds: int = 5, per_round: int = 3,
                warmup: int = 2) -> dict | None:
    """``{'peer', 'ours_seconds_per_epoch', 'peer_seconds_per_epoch', 'ratio'}`` (ratio: ours
    over the peer, median of per-round ratios) for a method with a peer, else ``None``. Both
    models start from the same weights, train with Adam at the configuration's learning rate on
    the full graph ``data`` (CPU), one step per epoch."""
    if method not in PEERS:
        return None
    step_ours, step_peer, peer_name = peer_steps(method, data, config)
    times = time_interleaved({"ours": step_ours, "peer": step_peer}, rounds, per_round, warmup)
    return {"peer": peer_name,
            "ours_seconds_per_epoch": statistics.median(times["ours"]),
            "peer_seconds_per_epoch": statistics.median(times["peer"]),
            "ratio": statistics.median(a / b for a, b in zip(times["ours"], times["peer"])),
            "rounds": rounds, "epochs_per_round": per_round}


def training_step(method, data, optimizer, generator):
    """A closure that runs one training step of ``method`` on ``data``: zero the gradients, the
    loss with views drawn from ``generator``, backward, ``optimizer.step()``. It returns the
    loss, detached. This is the step the speed and memory scripts of ``benchmarks/`` time."""

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = method.loss(data, generator)
        loss.backward()
        optimizer.step()
        return loss.detach()
    return step


def peer_steps(method: str, data, config: dict):
    """``(step_ours, step_peer, peer_name)``: one training step (epoch) of ours and of the peer,
    from the same weights (seed 0), each with its own Adam at the configuration's rate."""
    torch.manual_seed(0)
    ours, peer, peer_loss, peer_name = PEERS[method](data, config)
    ours_data = data
    if getattr(ours.encoder, "supports_sparse_input", False) and ours.encoder.sparse_input:
        ours_data = to_sparse_features(data)  # as graphssl pretrain feeds it
    lr = config["train"].get("lr", 1e-3)
    opt_ours = torch.optim.Adam(ours.parameters(), lr=lr)
    opt_peer = torch.optim.Adam(peer.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(0)

    step_ours = training_step(ours, ours_data, opt_ours, gen)

    def step_peer():
        opt_peer.zero_grad(set_to_none=True)
        peer_loss().backward()
        opt_peer.step()

    return step_ours, step_peer, peer_name
