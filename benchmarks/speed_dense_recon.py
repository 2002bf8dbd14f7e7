"""The dense GAE reconstruction loss (every node pair of Cora's size): graphssl's
``dense_recon_loss`` (no dense target matrix) against the straightforward form with a dense
N x N target and ``binary_cross_entropy_with_logits`` (what graphssl used before), same inputs.
Prints both values, the largest gradient difference and seconds per loss + backward.

Usage: OMP_NUM_THREADS=1 python benchmarks/speed_dense_recon.py
"""
import time

import torch
import torch.nn.functional as F

from graphssl.methods.gae import dense_recon_loss


def dense_target_loss(z, edge_index):
    n = z.size(0)
    target = torch.zeros(n, n, dtype=z.dtype)
    target[edge_index[0], edge_index[1]] = 1.0
    target.fill_diagonal_(1.0)
    positives = target.sum()
    pos_weight = (n * n - positives) / positives
    norm = n * n / (2.0 * (n * n - positives))
    return norm * F.binary_cross_entropy_with_logits(z @ z.t(), target, pos_weight=pos_weight)


def main():
    torch.manual_seed(0)
    n = 2708  # Cora's nodes, 16-dimensional latents as GAE's config
    z = torch.randn(n, 16, requires_grad=True)
    edge_index = torch.randint(n, (2, 10556))
    edge_index = torch.cat([edge_index, edge_index[:, :50]], 1)  # duplicated edges too
    a, b = dense_target_loss(z, edge_index), dense_recon_loss(z, edge_index)
    ga, = torch.autograd.grad(a, z)
    gb, = torch.autograd.grad(b, z)
    print(f"values {a.item():.9f} {b.item():.9f}, max gradient difference "
          f"{(ga - gb).abs().max().item():.2e}")
    for fn in (dense_target_loss, dense_recon_loss):
        start = time.perf_counter()
        for _ in range(10):
            fn(z, edge_index).backward()
        print(f"{fn.__name__}: {(time.perf_counter() - start) / 10:.3f} s per loss + backward")


if __name__ == "__main__":
    main()
