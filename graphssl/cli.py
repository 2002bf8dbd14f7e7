"""The ``graphssl`` command: ``pretrain``, ``bench``, ``report``, ``datasets``, ``demo``.

``pretrain`` and ``demo`` also run under ``torchrun --nproc_per_node=N -m graphssl.cli ...``
(or ``torchrun --nproc_per_node=N --no-python graphssl ...``): every process trains its share
(``docs/distributed.md``), rank 0 alone prints and writes ``--out``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

import yaml

from .data import MIRROR_ENV, DatasetError, available_datasets
from .bench.results import ResultsError
from .bench.runner import CHECKPOINT_SECONDS
from .train import CheckpointError, NonFiniteLossError
from .train import distributed as dist_env

#: the commands that train, hence may run as several torchrun processes
DISTRIBUTED_COMMANDS = ("pretrain", "demo")


def _write_json(record: dict, path: str):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def run_ids(text: str) -> list[int]:
    """``'0,1,4'`` -> ``[0, 1, 4]``, checked as ``run_pretrain`` checks a list of runs."""
    from .bench.pretrain import resolve_runs
    try:
        return resolve_runs([int(part) for part in text.split(",")], default=1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects distinct run ids >= 0 separated by commas "
                                         f"(e.g. 0,1,4), got {text!r}") from None


def _add_data_args(p):
    p.add_argument("--root", default=None, help="writable data root (default $GRAPHSSL_ROOT or "
                                                "./datasets)")
    p.add_argument("--mirror", default=None, help=f"offline mirror of raw files (default "
                                                  f"${MIRROR_ENV}); nothing is downloaded")


def config_override(text: str) -> dict:
    """``'model.encoder.hidden_channels=64'`` -> ``{'model': {'encoder': {'hidden_channels':
    64}}}``; the value is read as YAML (numbers, booleans, lists; ``1e-3`` is a number)."""
    key, sep, value = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts) or parts[0] not in ("protocol", "data", "train", "model"):
        raise argparse.ArgumentTypeError(
            f"--set expects SECTION.KEY=VALUE with SECTION one of protocol, data, train, model "
            f"(e.g. model.encoder.hidden_channels=64), got {text!r}")
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as err:
        raise argparse.ArgumentTypeError(f"--set {key}: cannot read {value!r}: {err}") from err
    if isinstance(parsed, str):  # YAML 1.1 reads '1e-3' as a string
        try:
            parsed = float(parsed)
        except ValueError:
            pass
    out = parsed
    for part in reversed(parts):
        out = {part: out}
    return out


def cmd_pretrain(args) -> int:
    from .bench import run_pretrain
    from .bench.config import deep_update
    overrides = {}
    for item in args.set or ():
        overrides = deep_update(overrides, item)
    _prepare_data_on_rank0(args.dataset, args.root, args.mirror)
    record = run_pretrain(args.method, args.dataset, split=args.split,
                          runs=args.run_ids if args.run_ids is not None else args.runs,
                          epochs=args.epochs, root=args.root, mirror=args.mirror,
                          device=args.device, checkpoint_dir=args.checkpoint_dir,
                          progress=not args.quiet, task=args.task, overrides=overrides)
    record["command"] = "graphssl " + " ".join(sys.argv[1:])
    if dist_env.is_distributed():
        import torch.distributed as dist
        record["distributed"] = {"world_size": dist.get_world_size(),
                                 "backend": str(dist.get_backend())}
    if args.out and dist_env.is_main_process():
        _write_json(record, args.out)
        print(f"wrote {args.out}")
    return 0


def _prepare_data_on_rank0(dataset: str, root, mirror):
    """Under torchrun: rank 0 loads (downloads, processes) the dataset first while the others
    wait, so that several processes never write the same processed files at once. Best effort:
    a failure here is reported by the real run that follows."""
    if not dist_env.is_distributed() or dist_env.world_size() == 1:
        return
    import torch.distributed as dist
    if dist_env.is_main_process():
        from .data import load_dataset
        try:
            load_dataset(dataset, root=root, mirror=mirror)
        except Exception:  # noqa: BLE001 - the run below raises it with its context
            pass
    dist.barrier()


def cmd_bench(args) -> int:
    from .bench.runner import plan_grid, run_grid
    # benchmarks/configs/quick.yaml -> benchmarks/results/quick
    results = args.results or Path(args.config).resolve().parent.parent / "results" / Path(
        args.config).stem
    if args.plan:
        from .bench.progress import render_progress
        heading = f"Plan of {args.config}" + (f" ({' '.join(args.only)})" if args.only else "")
        print("\n".join(render_progress(plan_grid(args.config, results, only=args.only),
                                         heading=heading)).strip())
        return 0
    out = run_grid(args.config, results, root=args.root, mirror=args.mirror,
                   device=args.device, progress=not args.quiet, plots=not args.no_plots,
                   shard=args.shard, only=args.only,
                   checkpoint_seconds=args.checkpoint_seconds or None)
    other = f", {out['elsewhere']} left to other processes" if out["elsewhere"] else ""
    print(f"{out['ran']} cells run, {out['skipped']} reused{other}; leaderboard: "
          f"{out['leaderboard']}")
    return 0


def cmd_report(args) -> int:
    from .bench.runner import report
    report(args.results, published=args.published, plots=not args.no_plots)
    return 0


def cmd_datasets(args) -> int:
    for task, names in available_datasets().items():
        print(f"{task}: {', '.join(names)}")
    print("Names are case-insensitive; any TU set also loads as 'TU:<exact name>'.")
    return 0


def cmd_demo(args) -> int:
    """GRACE on Cora (mirror or download), else on the built-in synthetic graph."""
    from .bench import run_pretrain
    from .data import load_dataset
    dataset = "Cora"
    _prepare_data_on_rank0(dataset, args.root, args.mirror)
    try:
        load_dataset(dataset, root=args.root, mirror=args.mirror)
        where = "the mirror" if (args.mirror or os.environ.get(MIRROR_ENV)) else "disk/download"
        print(f"demo: Cora loaded from {where}")
    except DatasetError as err:
        dataset = "CSBM"
        print(f"demo: Cora is not available ({str(err).splitlines()[0][:160]}...).\n"
              f"demo: running on the built-in synthetic graph (contextual SBM, 2000 nodes, "
              f"5 classes) instead; set {MIRROR_ENV}=DIR to use real data.")
    run_pretrain("grace", dataset, runs=args.runs, epochs=args.epochs, root=args.root,
                 mirror=args.mirror, progress=not args.quiet)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphssl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("pretrain", help="pretrain a method on a dataset and probe its embeddings")
    p.add_argument("--method", required=True, help="grace, dgi, ...")
    p.add_argument("--dataset", required=True, help="Cora, CiteSeer, Amazon-Photo, ...")
    p.add_argument("--split", choices=["public", "random", "ogb", "wikics"], default=None,
                   help="split family (default: the paper's)")
    p.add_argument("--task", choices=["node", "cluster", "link", "graph", "transfer"],
                   default=None,
                   help="node classification, node clustering (k-means), link prediction, "
                        "graph classification (SVM) or molecule transfer (pretrain on OGB "
                        "molecules, fine-tune on the dataset's scaffold split); default: the "
                        "method's protocol for the dataset")
    runs = p.add_mutually_exclusive_group()
    runs.add_argument("--runs", type=positive_int, default=None,
                      help="runs 0 .. RUNS-1 (run r: seed r, random split r)")
    runs.add_argument("--run-ids", type=run_ids, default=None, metavar="R,R,...",
                      help="only these runs, e.g. 0,1,4: the runs of a --checkpoint-dir that "
                           "have finished, or a share of the runs for another machine")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="override the tuned epochs")
    p.add_argument("--set", type=config_override, action="append", metavar="SECTION.KEY=VALUE",
                   help="override the shipped configuration, e.g. --set "
                        "model.encoder.hidden_channels=64 (repeatable; recorded in the result)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda")
    p.add_argument("--checkpoint-dir", default=None,
                   help="checkpoint each run here; rerunning resumes interrupted runs, and "
                        "processes started with the same folder share the runs")
    p.add_argument("--out", default=None, help="write the result record as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_data_args(p)
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("bench", help="run a benchmark grid (resumable) and render its "
                                     "leaderboard and plots")
    p.add_argument("config", help="grid file, e.g. benchmarks/configs/quick.yaml")
    p.add_argument("--results", default=None,
                   help="results folder (default: benchmarks/results/<config name>)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--no-plots", action="store_true", help="leaderboard only")
    p.add_argument("--shard", default=None, metavar="K/N",
                   help="run only every N-th cell, starting at the K-th (processes sharing a "
                        "results folder also split a grid without it: each claims the cell it "
                        "runs)")
    p.add_argument("--only", action="append", default=None, metavar="FIELD=V[,V...]",
                   help="run only the cells whose FIELD (method, dataset, seed, task, split) "
                        "is one of the values; repeat for several fields (the cells keep their "
                        "keys: a slice fills the grid's own results)")
    p.add_argument("--plan", action="store_true",
                   help="run nothing: validate the grid and print its (or the --only slice's) "
                        "finished cells, their measured time and the estimated time of the rest")
    p.add_argument("--checkpoint-seconds", type=float, default=CHECKPOINT_SECONDS, metavar="S",
                   help="checkpoint each cell's training at most every S seconds, under "
                        "RESULTS/.checkpoints/cell-KEY, so that a killed cell resumes there "
                        f"(default {CHECKPOINT_SECONDS:g}; 0: no cell checkpoints)")
    _add_data_args(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("report", help="re-render a results folder's leaderboard and plots")
    p.add_argument("results", help="results folder holding results.jsonl")
    p.add_argument("--published", default=None, help="published.yaml to compare with")
    p.add_argument("--no-plots", action="store_true", help="leaderboard only")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("datasets", help="list the datasets that load by name")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("demo", help="GRACE on Cora (or a synthetic graph offline), one run")
    p.add_argument("--runs", type=positive_int, default=1)
    p.add_argument("--epochs", type=positive_int, default=None)
    p.add_argument("--quiet", action="store_true")
    _add_data_args(p)
    p.set_defaults(func=cmd_demo)
    return parser


def _communication_errors() -> tuple:
    """torch.distributed's errors: a peer that died, a collective that timed out."""
    import torch.distributed as dist
    return (dist.DistError,) if hasattr(dist, "DistError") else ()


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        env = dist_env.read_env()
    except dist_env.DistributedError as err:
        print(f"graphssl: error: {err}", file=sys.stderr)
        return 2
    several = env is not None and env.world_size > 1
    if several and args.command not in DISTRIBUTED_COMMANDS:
        if env.rank == 0:
            print(f"graphssl: error: `graphssl {args.command}` runs as one process, but this is "
                  f"process {env.rank} of {env.world_size} (torchrun): run it without torchrun. "
                  f"Under torchrun: {', '.join(DISTRIBUTED_COMMANDS)}.", file=sys.stderr)
        return 2
    prefix = f"[rank {env.rank}] " if several else ""
    with contextlib.ExitStack() as stack:
        try:
            if env is not None and args.command in DISTRIBUTED_COMMANDS:
                dist_env.init_distributed()
                stack.callback(dist_env.shutdown)  # also when the command raises
                if not dist_env.is_main_process():  # rank 0 alone prints
                    devnull = stack.enter_context(open(os.devnull, "w"))
                    stack.enter_context(contextlib.redirect_stdout(devnull))
                    args.quiet = True
            return args.func(args)
        except KeyboardInterrupt:
            if not several or env.rank == 0:
                print("graphssl: interrupted; rerun the same command to resume from the "
                      "checkpoints (--checkpoint-dir)", file=sys.stderr)
            return 130
        except (DatasetError, KeyError, ValueError, TypeError, NotImplementedError,
                CheckpointError, NonFiniteLossError, ResultsError, FileNotFoundError) as err:
            msg = err.args[0] if isinstance(err, KeyError) and err.args else err
            print(f"graphssl: error: {prefix}{msg}", file=sys.stderr)
            return 2
        except dist_env.DistributedError as err:
            print(f"graphssl: error: {prefix}{err}", file=sys.stderr)
            return 2
        except _communication_errors() as err:
            hint = (" (another process may have failed first: see its messages)"
                    if several else "")
            print(f"graphssl: error: {prefix}{err}{hint}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
