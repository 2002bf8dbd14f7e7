"""What subnormal floats cost a CPU step, with and without flushing them to zero.

GCA's Amazon-Photo cells slowed from about 3.7 s to 14-19 s an epoch after about 1,450
epochs on an Intel Xeon; their checkpoints then held 77% subnormal values in the first layer's
Adam ``exp_avg`` (512 x 745) and 5% in its weight. This replays the shape of that work on
synthetic tensors with the same fractions: the first layer's product with Photo-like binary
features (7,650 x 745, 35% ones), an Adam-like moment update and a sign, timed with
``torch.set_flush_denormal`` off and on (what :class:`graphssl.train.Trainer` now does while
training, ``flush_denormal=True``).

Usage: OMP_NUM_THREADS=1 python benchmarks/diag_denormals.py [--rounds 3] [--out F.json]
"""
from __future__ import annotations

import argparse
import time

import torch

from graphssl.bench.environment import device_info, save_record, versions


def with_subnormals(shape, fraction, generator):
    """Normal values of scale 1e-2, a ``fraction`` of them replaced by subnormal ones."""
    x = torch.randn(*shape, generator=generator) * 1e-2
    tiny = torch.finfo(torch.float32).tiny
    mask = torch.rand(*shape, generator=generator) < fraction
    return torch.where(mask, torch.rand(*shape, generator=generator) * tiny, x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    weight = with_subnormals((512, 745), 0.05, g)
    moment = with_subnormals((512, 745), 0.77, g)
    features = (torch.rand(7650, 745, generator=g) < 0.35).float()

    def step():
        features @ weight.t()
        moment.mul(0.9).add_(weight, alpha=0.1)
        weight.sign()

    seconds = {}
    for flush in (False, True, False, True):  # interleaved: a drift shows as a mismatch
        torch.set_flush_denormal(flush)
        step()
        start = time.perf_counter()
        for _ in range(args.rounds):
            step()
        seconds.setdefault(str(flush), []).append((time.perf_counter() - start) / args.rounds)
    torch.set_flush_denormal(False)
    record = {"seconds_per_step": seconds,
              "ratio_kept_over_flushed": min(seconds["False"]) / min(seconds["True"]),
              **device_info(torch.device("cpu")), "versions": versions()}
    print(record)
    if args.out:
        save_record(record, args.out)


if __name__ == "__main__":
    main()
