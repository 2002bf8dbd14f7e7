"""The benchmark runner: grid validation, resumable cells, the JSONL store, the leaderboard."""
import json
from pathlib import Path

import pytest
import torch

from graphssl.bench import pretrain as pretrain_module
from graphssl.bench import runner as runner_module
from graphssl.bench.grid import Cell, GridError, load_grid
from graphssl.bench.pretrain import resolve_runs, run_pretrain
from graphssl.bench.results import FORMAT, ResultsError, ResultStore, stable_view
from graphssl.bench.runner import run_grid
from graphssl.cli import main
from graphssl.train.trainer import Trainer

GRID = """\
name: small
grids:
  - methods: [dgi, grace]
    datasets: [csbm]
    seeds: [0, 1]
    epochs: 2
    per_method:
      grace: {model: {projection_dim: 16}}
"""
PLAIN = GRID.replace("    per_method:\n      grace: {model: {projection_dim: 16}}\n", "")


def write(tmp_path, text, name="grid.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def count_runs(monkeypatch) -> list:
    """Records (method, seed) of every run the runner trains, still training them."""
    calls = []
    real = pretrain_module.run_pretrain

    def counting(*args, **kwargs):
        calls.append((args[0], kwargs["runs"][0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(runner_module, "run_pretrain", counting)
    return calls


def test_grid_expands_to_keyed_cells(tmp_path):
    grid = load_grid(write(tmp_path, GRID))
    assert [(c.method, c.dataset, c.seed) for c in grid.cells] == [
        ("dgi", "CSBM", 0), ("dgi", "CSBM", 1), ("grace", "CSBM", 0), ("grace", "CSBM", 1)]
    assert len({c.key for c in grid.cells}) == 4
    grace = grid.cells[2]
    assert grace.config["model"]["projection_dim"] == 16 and grace.epochs == 2
    # the key covers the configuration: another override is another cell
    other = load_grid(write(tmp_path, GRID.replace("16", "32"), "other.yaml"))
    assert other.cells[2].key != grace.key and other.cells[0].key == grid.cells[0].key


@pytest.mark.parametrize("edit, message", [
    (("[dgi, grace]", "[dgi, grcae]"), r"grid.yaml:3: unknown method 'grcae'\. Did you mean: grace"),
    (("[csbm]", "[Coraa]"), r"grid.yaml:4: unknown dataset 'Coraa'\. Did you mean: Cora"),
    (("projection_dim", "projection_dims"),
     r"grid.yaml:8: method 'grace' does not accept the hyperparameter 'projection_dims'\. "
     r"Did you mean: projection_dim"),
    (("epochs: 2", "epochs: 0"), r"grid.yaml:6: epochs must be a positive integer"),
    (("seeds: [0, 1]", "seeds: [0, -1]"), r"grid.yaml:5: seeds are run ids"),
    (("    epochs: 2\n", "    epochs: 2\n    set: {train: {lrate: 0.1}}\n"),
     r"unknown training setting 'lrate'"),
    (("    epochs: 2\n", "    epochs: 2\n    set: {data: {self_loop: true}}\n"),
     r"unknown data setting 'self_loop'\. Did you mean: self_loops\?"),
    (("    epochs: 2\n", "    epoch: 2\n"), r"grid.yaml:6: unknown grid key 'epoch'"),
    (("[csbm]", "[MUTAG]"), None),  # node-level methods on a graph dataset are fine
    (("[dgi, grace]", "[graphcl]"), r"graphcl learns graph-level representations"),
])
def test_bad_grids_fail_before_training_with_line_and_close_matches(tmp_path, edit, message):
    text = GRID.replace(*edit)
    if "graphcl" in text:
        text = text.replace("    per_method:\n      grace: {model: {projection_dim: 16}}\n", "")
    if message is None:
        load_grid(write(tmp_path, text))
        return
    with pytest.raises(GridError, match=message):
        load_grid(write(tmp_path, text))


def test_resolve_runs_and_a_single_run_equals_that_run_of_a_full_protocol():
    assert resolve_runs(None, 3) == [0, 1, 2] and resolve_runs(2, 5) == [0, 1]
    assert resolve_runs([4, 1], 5) == [4, 1]
    for bad in (0, [], [1, 1], [-1], "2", [True]):
        with pytest.raises(ValueError, match="runs must be"):
            resolve_runs(bad, 3)
    quiet = dict(epochs=2, progress=False, echo=lambda *a: None)
    full = run_pretrain("dgi", "csbm", runs=3, **quiet)
    one = run_pretrain("dgi", "csbm", runs=[2], **quiet)
    assert one["per_run"][0]["test_acc"] == full["per_run"][2]["test_acc"]
    assert one["per_run"][0]["loss_curve"] == full["per_run"][2]["loss_curve"]
    assert one["config"]["protocol"]["run_ids"] == [2]


class Interrupt(BaseException):
    pass


def test_interrupted_grid_resumes_without_recomputing_and_matches_an_uninterrupted_run(
        tmp_path, monkeypatch):
    grid = write(tmp_path, GRID)
    run_grid(grid, tmp_path / "straight", progress=False, echo=lambda *a: None, plots=False)

    calls = []
    real = pretrain_module.run_pretrain

    def counting(*args, **kwargs):
        calls.append((args[0], kwargs["runs"]))
        if len(calls) == 3:  # Ctrl-C in the middle of the third cell
            raise Interrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runner_module, "run_pretrain", counting)
    with pytest.raises(Interrupt):
        run_grid(grid, tmp_path / "resumed", progress=False, echo=lambda *a: None, plots=False)
    store = ResultStore(tmp_path / "resumed")
    assert len(store.load()) == 2  # the two finished cells, nothing half-written
    calls.clear()
    out = run_grid(grid, tmp_path / "resumed", progress=False, echo=lambda *a: None,
                   plots=False)
    assert calls == [("grace", [0]), ("grace", [1])]  # finished cells were not recomputed
    assert out == {**out, "ran": 2, "skipped": 2, "total": 4}
    straight = ResultStore(tmp_path / "straight").load()
    resumed = store.load()
    assert [stable_view(r) for r in resumed] == [stable_view(r) for r in straight]
    assert resumed[0]["loss_curve"] and resumed[0]["metrics"]["test_acc"] > 0
    # a rerun of a finished grid runs nothing
    calls.clear()
    assert run_grid(grid, tmp_path / "resumed", progress=False, echo=lambda *a: None,
                    plots=False)["ran"] == 0 and calls == []


def _grace_grid(tmp_path, epochs):
    """A one-cell grid: GRACE, seed 0, ``epochs`` epochs."""
    return write(tmp_path, PLAIN.replace("[dgi, grace]", "[grace]").replace("[0, 1]", "[0]")
                 .replace("epochs: 2", f"epochs: {epochs}"))


def _kill_grace_grid_at_epoch(grid, results, epoch, monkeypatch):
    """Run ``grid`` into ``results`` with a checkpoint after every epoch (a counter clock) and
    kill it right after the save of ``epoch``; ``Trainer._save`` is the real one again after."""
    from graphssl.train import trainer as trainer_module
    real = Trainer._save

    def killing(self, method, optim, generator, at, *args):
        real(self, method, optim, generator, at, *args)
        if at == epoch:
            raise Interrupt

    monkeypatch.setattr(Trainer, "_save", killing)
    monkeypatch.setattr(trainer_module, "_now", iter(range(10_000)).__next__)
    with pytest.raises(Interrupt):
        run_grid(grid, results, checkpoint_seconds=1, progress=False, echo=lambda *a: None,
                 plots=False)
    monkeypatch.setattr(Trainer, "_save", real)


def test_a_cell_killed_mid_training_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    """Cells checkpoint their training (here every epoch): a cell killed at epoch 3 of 5 trains
    only epochs 4-5 when rerun, ends with the uninterrupted run's result, and its checkpoint
    folder goes once its line is written."""
    grid = _grace_grid(tmp_path, epochs=5)
    quiet = dict(progress=False, echo=lambda *a: None, plots=False)
    run_grid(grid, tmp_path / "straight", checkpoint_seconds=None, **quiet)
    assert not (tmp_path / "straight" / ".checkpoints").exists()

    _kill_grace_grid_at_epoch(grid, tmp_path / "killed", 3, monkeypatch)
    cells = list((tmp_path / "killed" / ".checkpoints").glob("cell-*/run0/checkpoint.pt"))
    assert len(cells) == 1 and not ResultStore(tmp_path / "killed").load()
    run_grid(grid, tmp_path / "killed", checkpoint_seconds=1, **quiet)
    [line] = ResultStore(tmp_path / "killed").load()
    [straight] = ResultStore(tmp_path / "straight").load()
    assert stable_view(line) == stable_view(straight)
    assert line["resumed_at_epoch"] == 3 and line["pretrain_epochs_here"] == 2
    assert 0 < line["seconds_before_resume"] < line["seconds"]
    assert "resumed_at_epoch" not in straight and straight["pretrain_epochs_here"] == 5
    assert line["denormals"] == straight["denormals"] == {"flushed": 5}  # checkpoint kept them
    assert not list((tmp_path / "killed" / ".checkpoints").iterdir())


def test_plan_shows_a_stopped_cell_at_its_checkpointed_epoch(tmp_path, monkeypatch):
    """``--plan`` reads the checkpoint of a cell stopped mid-training: its epochs so far, and
    an estimate of the rest at its own measured seconds per epoch."""
    from graphssl.bench.progress import render_progress
    from graphssl.train.checkpoint import load_checkpoint
    grid = _grace_grid(tmp_path, epochs=5)
    results = tmp_path / "res"
    assert runner_module.plan_grid(grid, results)["running"] == 0
    _kill_grace_grid_at_epoch(grid, results, 3, monkeypatch)
    [path] = (results / ".checkpoints").glob("cell-*/run0/checkpoint.pt")
    seconds = sum(r["seconds"] for r in load_checkpoint(path)["history"])
    plan = runner_module.plan_grid(grid, results)
    [group] = plan["groups"]
    assert plan["finished"] == 0 and plan["running"] == 1 and plan["left_unestimated"] == 0
    assert group["running"] == [{"seed": 0, "epoch": 3, "epochs": 5, "seconds": seconds}]
    assert group["left_seconds"] == pytest.approx(seconds / 3 * 2)
    text = "\n".join(render_progress(plan))
    assert "| in progress |" in text and "seed 0: epoch 3 of 5 (" in text
    # a checkpoint that cannot be read is no progress, not an error
    path.write_bytes(b"not a checkpoint")
    assert runner_module.plan_grid(grid, results)["running"] == 0


def test_progress_estimates_a_group_from_its_checkpoints():
    """A group with no finished cell: its checkpointed cells at their own seconds per epoch,
    the ones not started at the group's checkpointed seconds per epoch times the configured
    epochs; with a finished cell, the ones not started at its mean time."""
    from types import SimpleNamespace

    from graphssl.bench.progress import grid_progress, render_progress

    def cell(seed):
        return SimpleNamespace(method="gca", dataset="Photo", task=None, split=None,
                               variant="", seed=seed, key=f"k{seed}")
    cells = [cell(s) for s in range(4)]
    training = {"k0": {"epoch": 10, "epochs": 100, "seconds": 20.0},   # 2 s an epoch
                "k1": {"epoch": 30, "epochs": 100, "seconds": 120.0}}  # 4 s an epoch
    [group] = grid_progress(cells, [], training)["groups"]
    # left: 90 * 2 + 70 * 4, and two cells at (140 s / 40 epochs) * 100 epochs each
    assert group["left_seconds"] == pytest.approx(180 + 280 + 2 * 350)
    [group] = grid_progress(cells, [{"key": "k3", "seconds": 500.0}], training)["groups"]
    assert group["left_seconds"] == pytest.approx(180 + 280 + 500)
    progress = grid_progress(cells, [])
    assert progress["groups"][0]["left_seconds"] is None and progress["left_unestimated"] == 4
    assert progress["running"] == 0
    text = "\n".join(render_progress(progress))  # no "0 min for the 0 whose group ..."
    assert "No estimate of the 4 cells left: none belongs to a group with a finished cell" in text
    assert "for the 0 whose" not in text
    text = "\n".join(render_progress(grid_progress(cells, [], training)))
    assert "Estimated run time of the 4 cells left, summed over cells: 19 min for the 4" in text


def test_a_cell_killed_after_its_last_epoch_keeps_its_measured_epoch_time(tmp_path, monkeypatch):
    """A cell killed after training (in its probe, say) trains no epoch when rerun: its
    seconds per epoch are still those of the epochs measured before the kill, not the rerun's
    setup time over one epoch."""
    grid = _grace_grid(tmp_path, epochs=5)
    quiet = dict(progress=False, echo=lambda *a: None, plots=False)
    _kill_grace_grid_at_epoch(grid, tmp_path / "killed", 5, monkeypatch)
    run_grid(grid, tmp_path / "killed", checkpoint_seconds=1, **quiet)
    [line] = ResultStore(tmp_path / "killed").load()
    assert line["resumed_at_epoch"] == 5 and line["pretrain_epochs_here"] == 0
    # (the 5 measured epochs + the rerun's setup) / 5: at least the measured epochs' mean, at
    # most the cell's whole time over 5 (the rerun's setup alone, the old figure, is less)
    measured = line["seconds_before_resume"]
    assert measured > 0
    assert measured / 5 <= line["seconds_per_epoch"] <= line["seconds"] / 5


def test_a_finished_cells_leftover_checkpoint_is_deleted_by_the_next_start(tmp_path):
    """A process killed between writing a cell's line and deleting its checkpoint leaves the
    folder behind; the next start deletes it and keeps an unfinished cell's checkpoint."""
    grid = write(tmp_path, PLAIN.replace("[dgi, grace]", "[grace]").replace("[0, 1]", "[0]"))
    quiet = dict(progress=False, echo=lambda *a: None, plots=False)
    run_grid(grid, tmp_path / "results", **quiet)
    [line] = ResultStore(tmp_path / "results").load()
    leftover = tmp_path / "results" / ".checkpoints" / f"cell-{line['key']}" / "run0"
    unfinished = tmp_path / "results" / ".checkpoints" / "cell-0123456789ab" / "run0"
    for folder in (leftover, unfinished):
        folder.mkdir(parents=True)
        (folder / "checkpoint.pt").write_bytes(b"x")
    summary = run_grid(grid, tmp_path / "results", **quiet)
    assert summary["ran"] == 0 and summary["skipped"] == 1
    assert not leftover.parent.exists() and (unfinished / "checkpoint.pt").exists()


def test_cell_keys_hash_what_runs_not_where_the_setting_came_from(tmp_path, monkeypatch):
    """Rewording a config file's ``source`` or adding a dataset section that changes no setting
    keeps a cell's key; a changed setting still changes it. The legacy keys (which hashed the
    metadata) of a cell whose method gained such a section include the one it had before."""
    from graphssl.bench import config as config_module
    grid = _grace_grid(tmp_path, epochs=2)
    [cell] = load_grid(grid).cells
    assert cell.config["tuned"] is False and cell.config["source"]
    key, legacy_keys = cell.key, cell.legacy_keys  # (properties: computed from the file now)
    shipped = config_module._config_file("grace")

    def edited(datasets, source=shipped["source"]):
        monkeypatch.setattr(config_module, "_config_file", lambda name: {
            **shipped, "source": source, "datasets": {**shipped["datasets"], **datasets}}
            if name == "grace" else config_module._config_file.__wrapped__(name))
        [again] = load_grid(grid).cells
        return again

    section = edited({"csbm": {}})
    assert section.config["tuned"] is True and section.key == key
    assert section.legacy_keys[:2] == legacy_keys[1::-1]
    reworded = edited({}, source="reworded")
    assert reworded.key == key and not set(reworded.legacy_keys[:2]) & set(legacy_keys[:2])
    assert edited({"csbm": {"model": {"temperature": 0.7}}}).key != key


def test_a_shipped_epochs_the_grid_replaces_changes_a_key_only_through_the_warm_up(
        tmp_path, monkeypatch):
    """A grid's ``epochs`` replace the shipped ``train.epochs``: editing those alone keeps the
    cell's key, unless a warm-up scaled by their ratio changes. The key the cell had while
    keys hashed the shipped epochs is its third legacy key, and a record under it is read as
    the cell's."""
    from graphssl.bench import config as config_module
    grid = _grace_grid(tmp_path, epochs=2)
    [cell] = load_grid(grid).cells
    assert cell.config["train"]["epochs"] == 200 and cell.run_config["train"]["epochs"] == 2
    key, pre_fix = cell.key, cell.legacy_keys[2]
    shipped = config_module._config_file("grace")

    def with_train(**train):
        monkeypatch.setattr(config_module, "_config_file", lambda name: {
            **shipped, "defaults": {**shipped["defaults"], "train": {
                **shipped["defaults"]["train"], **train}}}
            if name == "grace" else config_module._config_file.__wrapped__(name))
        [again] = load_grid(grid).cells
        return again

    longer = with_train(epochs=500)
    assert longer.key == key and longer.legacy_keys[2] != pre_fix  # (the old scheme reran it)
    warm = with_train(epochs=500, warmup_epochs=100)  # 2 epochs of 500: a warm-up of 0
    assert warm.run_config["train"]["warmup_epochs"] == 0 and warm.key != key
    assert with_train(epochs=500, warmup_epochs=250).run_config["train"]["warmup_epochs"] == 1
    monkeypatch.undo()
    assert load_grid(grid).cells[0].key == key
    # a results folder written under the pre-fix key: read as the cell's, not stale
    store = ResultStore(tmp_path / "res")
    store.append({"key": pre_fix, "method": "grace", "dataset": "CSBM", "seed": 0,
                  "metrics": {}, "seconds": 1.0})
    plan = runner_module.plan_grid(grid, store.folder)
    assert plan["finished"] == 1 and plan["stale"] == 0
    # a grid without epochs has no such legacy key: its cells hash the shipped epochs
    [plain] = load_grid(write(tmp_path, PLAIN.replace("    epochs: 2\n", ""), "plain.yaml")).cells[:1]
    assert plain.epochs is None and len(plain.legacy_keys) == 2


def test_results_and_checkpoints_under_legacy_keys_are_moved_not_rerun(tmp_path, monkeypatch):
    """A results folder written when keys also hashed the metadata: ``--plan`` and ``report``
    read its records as current, and the next ``bench`` rewrites them to the current keys and
    resumes an unfinished cell from its checkpoint folder, renamed; nothing finished reruns."""
    grid = write(tmp_path, PLAIN.replace("[dgi, grace]", "[grace]").replace("epochs: 2",
                                                                            "epochs: 3"))
    cell0, cell1 = load_grid(grid).cells
    quiet = dict(progress=False, echo=lambda *a: None, plots=False)
    results = tmp_path / "res"
    run_grid(grid, results, only=["seed=0"], **quiet)
    _kill_grace_grid_at_epoch(grid, results, 1, monkeypatch)  # seed 1 stops after epoch 1
    # what an older graphssl left: records and checkpoint folders under the legacy keys
    store = ResultStore(results)
    [original] = store.load()
    assert store.rewrite(lambda rs: [{**r, "key": cell0.legacy_keys[0]} for r in rs]) == 1
    checkpoints = results / ".checkpoints"
    (checkpoints / f"cell-{cell1.key}").rename(checkpoints / f"cell-{cell1.legacy_keys[0]}")
    with pytest.raises(ValueError, match="one record per record"):
        store.rewrite(lambda rs: [])

    plan = runner_module.plan_grid(grid, results)
    assert plan["finished"] == 1 and plan["stale"] == 0
    runner_module.report(results, plots=False, echo=lambda *a: None)
    assert "runs whose configuration no cell" not in (results / "leaderboard.md").read_text()
    assert store.load()[0]["key"] == cell0.legacy_keys[0]  # reading rewrote nothing

    calls = count_runs(monkeypatch)
    lines = []
    out = run_grid(grid, results, checkpoint_seconds=1, progress=False, echo=lines.append,
                   plots=False)
    assert calls == [("grace", 1)] and out["ran"] == 1 and out["skipped"] == 1
    assert "moved 1 results and 1 checkpoint folders from legacy cell keys" in lines[0]
    moved, resumed = store.load()
    assert moved == {**original, "key": cell0.key}
    assert resumed["key"] == cell1.key and resumed["resumed_at_epoch"] == 1
    assert not list(checkpoints.iterdir())
    # a process of an older graphssl holding a cell by its legacy key is left to run it
    calls.clear()
    results2 = tmp_path / "res2"
    with ResultStore(results2).claim(cell1.legacy_keys[0]) as held:
        assert held
        out = run_grid(grid, results2, **quiet)
    assert calls == [("grace", 0)] and out["elsewhere"] == 1


def test_training_summary_keeps_float32_digits_and_thins_long_curves():
    class Trained:  # the one attribute training_summary reads besides resumed_from_epoch
        resumed_from_epoch = 0

    short, long = Trained(), Trained()
    losses = torch.linspace(2.0, 0.5, 1001).tolist()   # float32 values as Python floats
    short.history = [{"loss": v} for v in losses[:3]]
    long.history = [{"loss": v} for v in losses]
    def as_float32(values):
        return torch.tensor(values, dtype=torch.float32).tolist()

    summary = pretrain_module.training_summary(short)
    assert "loss_curve_every" not in summary
    assert as_float32(summary["loss_curve"]) == losses[:3]  # the same float32 values
    assert summary["loss_curve"][1] == 1.9985  # with a float32's digits, not a float64's 17
    summary = pretrain_module.training_summary(long)
    assert pretrain_module.MAX_CURVE_POINTS == 200 and summary["loss_curve_every"] == 6
    assert as_float32(summary["loss_curve"]) == losses[::6] and len(summary["loss_curve"]) == 167
    assert summary["epochs"] == 1001 and summary["final_loss"] == losses[-1]


def test_denormal_counts_say_how_each_epoch_trained_and_which_epochs_do_not_say():
    """Epochs from a checkpoint written before epochs recorded ``flush_denormal`` count as
    unrecorded, never as flushed or kept."""
    history = ([{"loss": 1.0}] * 2 + [{"loss": 1.0, "flush_denormal": True}] * 3
               + [{"loss": 1.0, "flush_denormal": False}])
    assert pretrain_module.denormal_counts(history) == {"flushed": 3, "kept": 1, "unrecorded": 2}
    assert pretrain_module.denormal_counts(history[2:5]) == {"flushed": 3}
    assert pretrain_module.denormal_counts([]) == {}


def test_store_drops_a_half_written_line_and_refuses_other_versions(tmp_path):
    store = ResultStore(tmp_path)
    store.append({"key": "a", "x": 1})
    with open(store.path, "a") as f:
        f.write('{"format": "graphssl-bench", "version": 1, "key": "b", "x"')  # crash
    assert [r["key"] for r in store.load()] == ["a"]
    assert store.path.read_text().endswith("}\n")  # the tail was truncated
    store.append({"key": "c"})
    assert [r["key"] for r in store.load()] == ["a", "c"]
    store.path.write_text(json.dumps({"format": FORMAT, "version": 99, "key": "a"}) + "\n")
    with pytest.raises(ResultsError, match="version 99.*Use a new results folder"):
        store.load()
    store.path.write_text('{"other": 1}\n')
    with pytest.raises(ResultsError, match="not a graphssl benchmark results file"):
        store.load()


def test_unwritable_results_folder_fails_before_training(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setattr(runner_module, "run_pretrain", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ResultsError, match="not writable"):
        run_grid(write(tmp_path, GRID), blocker / "results", progress=False,
                 echo=lambda *a: None)


def test_writability_checks_of_processes_sharing_a_folder_do_not_collide(tmp_path):
    # two ``graphssl bench`` processes started together on one results folder: each probe must
    # be its own file, or one process removes the other's and reports the folder unwritable
    from concurrent.futures import ThreadPoolExecutor

    stores = [ResultStore(tmp_path / "shared") for _ in range(8)]

    def check(store):
        for _ in range(100):
            store.check_writable()

    with ThreadPoolExecutor(len(stores)) as pool:
        for future in [pool.submit(check, store) for store in stores]:
            future.result()
    assert list((tmp_path / "shared").iterdir()) == []


def test_cli_bench_and_report(tmp_path, capsys, monkeypatch):
    from functools import partial

    from graphssl.bench import plots

    # t-SNE of the 2,000 CSBM nodes takes 15 s a plot; 300 points draw the same file
    monkeypatch.setattr(plots, "plot_embedding_tsne",
                        partial(plots.plot_embedding_tsne, max_points=300))
    grid = write(tmp_path, GRID.replace("seeds: [0, 1]", "seeds: [0]"))
    published = write(tmp_path, "dgi:\n  csbm: {mean: 50.0, source: 'a test'}\n", "pub.yaml")
    text = grid.read_text().replace("name: small\n", f"name: small\npublished: {published}\n")
    grid.write_text(text)
    results = tmp_path / "res"
    assert main(["bench", str(grid), "--results", str(results), "--quiet"]) == 0
    board = (results / "leaderboard.md").read_text()
    assert "| dgi | CSBM | node / random | accuracy |" in board and "a test" in board
    assert (results / "plots" / "loss_csbm.png").read_bytes()[:4] == b"\x89PNG"
    assert (results / "plots" / "tsne_dgi_csbm_seed0.png").exists()
    (results / "leaderboard.md").unlink()
    assert main(["report", str(results), "--no-plots"]) == 0  # the grid's published file
    assert (results / "leaderboard.md").read_text() == board
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "no finished runs" in capsys.readouterr().err
    bad = write(tmp_path, GRID.replace("[dgi, grace]", "[dgii]"), "bad.yaml")
    assert main(["bench", str(bad), "--results", str(results), "--quiet"]) == 2
    assert "unknown method 'dgii'" in capsys.readouterr().err
    assert main(["bench", str(grid), "--results", str(results), "--quiet",
                 "--checkpoint-seconds", "-1"]) == 2
    assert "checkpoint_seconds" in capsys.readouterr().err


def test_shipped_grids_are_valid():
    folder = Path(__file__).resolve().parents[1] / "benchmarks" / "configs"
    grids = sorted(folder.glob("*.yaml"))
    assert grids, "benchmarks/configs/ has no grid"
    for path in grids:
        assert load_grid(path).cells


@pytest.mark.parametrize("method", ["dgi", "gae", "vgae"])
def test_peer_timing_uses_the_same_encoder_weights(method):
    from graphssl.bench.config import method_config
    from graphssl.bench.peers import PEERS, peer_timing
    from graphssl.data import csbm_graph

    data = csbm_graph(num_nodes=200, seed=0)
    config = method_config(method, "Cora")
    ours, peer, peer_loss, name = PEERS[method](data, config)
    ours_params = dict(ours.encoder.named_parameters())
    for key, value in peer.encoder.named_parameters():
        assert torch.equal(value, ours_params[key])  # same starting weights
    assert torch.isfinite(peer_loss())
    out = peer_timing(method, data, config, rounds=1, per_round=1, warmup=0)
    assert out["peer"] == name and out["ratio"] > 0
    assert peer_timing("grace", data, config) is None


def test_training_step_updates_the_weights_and_returns_the_detached_loss():
    from graphssl.bench.peers import training_step
    from graphssl.data import csbm_graph
    from graphssl.methods import build_method

    data = csbm_graph(num_nodes=100, seed=0)
    torch.manual_seed(0)
    method = build_method("grace", data.num_features)
    before = [p.detach().clone() for p in method.parameters()]
    step = training_step(method, data, torch.optim.SGD(method.parameters(), lr=0.1),
                         torch.Generator().manual_seed(0))
    loss = step()
    assert loss.ndim == 0 and torch.isfinite(loss) and not loss.requires_grad
    assert all(p.grad is not None for p in method.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, method.parameters()))
    # the closure keeps its generator: a second step draws new views, so its loss differs
    assert step().item() != loss.item()


def test_grid_with_peers_shows_the_ratio(tmp_path):
    grid = write(tmp_path, GRID.replace("seeds: [0, 1]", "seeds: [0]").replace(
        "    epochs: 2\n", "    epochs: 2\n    peers: true\n"))
    run_grid(grid, tmp_path / "res", progress=False, echo=lambda *a: None, plots=False)
    records = ResultStore(tmp_path / "res").load()
    dgi = next(r for r in records if r["method"] == "dgi")
    assert dgi["peer"]["peer"] == "torch_geometric.nn.DeepGraphInfomax"
    assert "peer" not in next(r for r in records if r["method"] == "grace")
    board = (tmp_path / "res" / "leaderboard.md").read_text()
    assert "(torch_geometric.nn.DeepGraphInfomax)" in board


def test_search_selects_on_validation_only(tmp_path):
    text = GRID.replace("[dgi, grace]", "[grace]").replace("seeds: [0, 1]", "seeds: [0]") + \
        "    search:\n      model.temperature: [0.2, 0.9]\n"
    grid = load_grid(write(tmp_path, text))
    assert [c.variant for c in grid.cells] == ["model.temperature=0.2", "model.temperature=0.9"]
    assert grid.cells[0].config["model"]["temperature"] == 0.2
    run_grid(grid.path, tmp_path / "res", progress=False, echo=lambda *a: None, plots=False)
    records = ResultStore(tmp_path / "res").load()
    best = max(records, key=lambda r: r["metrics"]["val_acc"])
    board = (tmp_path / "res" / "leaderboard.md").read_text()
    section = board.split("## Search")[1]
    assert f"| {best['variant']} | {100 * best['metrics']['val_acc']:.2f} |" in section
    assert "grace [model.temperature=0.2]" in board.split("## Search")[0]


@pytest.mark.parametrize("search, message", [
    ("      model.temperatur: [0.2]\n", "does not accept the hyperparameter 'temperatur'"),
    ("      temperature: [0.2]\n", "search keys are SECTION.KEY"),
    ("      model.temperature: []\n", "non-empty list"),
])
def test_bad_searches(tmp_path, search, message):
    text = GRID.replace("[dgi, grace]", "[grace]") + "    search:\n" + search
    with pytest.raises(GridError, match=message):
        load_grid(write(tmp_path, text))
    text = GRID.replace("[dgi, grace]", "[grace]") \
        .replace("[csbm]", "[csbm]\n    tasks: [cluster]") \
        + "    search:\n      model.temperature: [0.2]\n"
    with pytest.raises(GridError, match="validation split"):
        load_grid(write(tmp_path, text, "cluster.yaml"))
    text = PLAIN.replace("[dgi, grace]", "[graphmae-graph]").replace("[csbm]", "[ogbg-molbace]") \
        + "    search:\n      model.mask_rate: [0.2]\n"
    with pytest.raises(GridError, match="transfer protocol of ogbg-molbace"):
        load_grid(write(tmp_path, text, "transfer.yaml"))


def test_transfer_cells_share_one_pretraining(tmp_path, data_root, mirror, offline):
    """The transfer protocol pretrains with seed 0 whatever the cell's seed: the cells of one
    configuration pretrain once (kept under the results folder's .checkpoints/) and each
    fine-tunes with its own seed."""
    text = """\
name: transfer
grids:
  - methods: [graphmae-graph]
    datasets: [ogbg-molbace]
    seeds: [0, 1]
    epochs: 1
    set:
      model: {encoder: {hidden_channels: 8, num_layers: 1}}
      protocol: {pretrain_on: [ogbg-molfreesolv], finetune: {epochs: 1, batch_size: 256}}
"""
    results = tmp_path / "res"
    run_grid(write(tmp_path, text), results, root=data_root, mirror=mirror, progress=False,
             echo=lambda *a: None, plots=False)
    lines = [json.loads(x) for x in (results / "results.jsonl").read_text().splitlines()]
    assert [(r["seed"], r["pretrain_epochs_here"]) for r in lines] == [(0, 1), (1, 0)]
    assert all(r["cpu_capability"] and r["cpu"] for r in lines)  # where each cell was made
    assert lines[0]["metrics"]["test_rocauc"] != lines[1]["metrics"]["test_rocauc"]
    shared = list((results / ".checkpoints").glob("transfer-*/run0/checkpoint.pt"))
    assert len(shared) == 1


def test_seeds_of_a_transfer_configuration_share_one_pretraining_folder(tmp_path, monkeypatch):
    """The shared pretraining's folder hashes the configuration as it trains: every seed gets
    the same one, a shipped ``train.epochs`` the grid replaces leaves it, other epochs or
    settings move it, and cells of other tasks have none."""
    from graphssl.bench import grid as grid_module
    from graphssl.bench.runner import transfer_checkpoint_dir

    def cell(seed=0, epochs=2, **overrides):
        return Cell("graphmae-graph", "ogbg-molbace", seed, task="transfer", epochs=epochs,
                    overrides=overrides)
    folder = transfer_checkpoint_dir(cell(), tmp_path)
    assert folder.parent == tmp_path / ".checkpoints" and folder.name.startswith("transfer-")
    assert transfer_checkpoint_dir(cell(seed=3), tmp_path) == folder
    assert transfer_checkpoint_dir(cell(epochs=3), tmp_path) != folder
    assert transfer_checkpoint_dir(cell(model={"mask_rate": 0.1}), tmp_path) != folder
    shipped = grid_module.method_config

    def edited(method, dataset, modality=None):  # the shipped file with other epochs
        config = shipped(method, dataset, modality)
        config["train"]["epochs"] = 777
        return config
    monkeypatch.setattr(grid_module, "method_config", edited)
    assert cell().config["train"]["epochs"] == 777
    assert transfer_checkpoint_dir(cell(), tmp_path) == folder
    assert transfer_checkpoint_dir(Cell("grace", "Cora", 0, epochs=2), tmp_path) is None


def test_a_graph_search_with_a_single_C_is_refused(tmp_path):
    text = PLAIN.replace("[dgi, grace]", "[infograph]").replace("[csbm]", "[MUTAG]") \
        + "    search:\n      data.batch_size: [32, 64]\n"
    load_grid(write(tmp_path, text))  # a C grid (the default): nested CV can select
    single = text.replace("    search:", "    set: {protocol: {svm: {Cs: [1.0]}}}\n    search:")
    with pytest.raises(GridError, match="single C"):
        load_grid(write(tmp_path, single, "single.yaml"))


def _cv_record(variant, seed, inner, acc):
    return {"method": "m", "dataset": "D", "task": "graph", "split": "3-fold", "seed": seed,
            "variant": variant, "fold_inner_acc": inner, "fold_acc": acc, "metrics": {}}


def test_nested_cv_selection_takes_each_folds_best_inner_variant():
    from graphssl.bench.leaderboard import selected_by_nested_cv

    records = [_cv_record("a", 0, [0.9, 0.5, 0.7], [0.8, 0.1, 0.6]),
               _cv_record("b", 0, [0.6, 0.8, 0.7], [0.2, 0.9, 1.0]),  # fold 2: a tie -> a
               _cv_record("a", 1, [0.5, 0.5, 0.5], [0.3, 0.3, 0.3]),
               _cv_record("b", 1, [0.6, 0.6, 0.6], [0.6, 0.6, 0.6]),
               _cv_record("a", 2, [0.9, 0.9, 0.9], [1.0, 1.0, 1.0])]  # seed 2: b missing
    [row] = selected_by_nested_cv(records)
    assert row["seeds"] == [0, 1] and row["chosen"] == {"a": 2, "b": 4}
    assert row["mean"] == pytest.approx(((0.8 + 0.9 + 0.6) / 3 + 0.6) / 2)
    # the held-out accuracies never choose: b's perfect fold 2 is not taken
    assert selected_by_nested_cv([r for r in records if r["variant"] == "a"]) == []


def test_graph_search_selects_by_nested_cross_validation(tmp_path, data_root, mirror, offline):
    text = ("name: nested\ngrids:\n  - methods: [infograph]\n    datasets: [MUTAG]\n"
            "    seeds: [0]\n    epochs: 1\n    search:\n      data.batch_size: [32, 128]\n")
    run_grid(write(tmp_path, text), tmp_path / "res", root=data_root, mirror=mirror,
             progress=False, echo=lambda *a: None, plots=False)
    records = ResultStore(tmp_path / "res").load()
    assert len(records) == 2
    for r in records:
        assert len(r["fold_inner_acc"]) == len(r["fold_acc"]) == 10
        assert all(0.0 < a <= 1.0 for a in r["fold_inner_acc"])
        assert r["probe_seconds"] > 0.0
    best = [max(records, key=lambda r: r["fold_inner_acc"][f]) for f in range(10)]
    expected = sum(b["fold_acc"][f] for f, b in enumerate(best)) / 10
    board = (tmp_path / "res" / "leaderboard.md").read_text()
    section = board.split("## Search by nested cross-validation")[1]
    assert f"| infograph | MUTAG | 10-fold stratified CV | 1 | {100 * expected:.2f} ± 0.00 |" \
        in section


def test_any_pyg_or_ogb_dataset_is_named_without_code(tmp_path):
    text = GRID.replace("[csbm]", "[Coauthor-Physics, ogbn-arxiv, TU:COLLAB]")
    grid = load_grid(write(tmp_path, text))  # validated by name, nothing downloaded
    assert {c.dataset for c in grid.cells} == {"Coauthor-Physics", "ogbn-arxiv", "COLLAB"}


def test_shards_together_run_the_grid_once_and_equal_an_unsharded_run(tmp_path, monkeypatch):
    grid = write(tmp_path, GRID)
    quiet = dict(progress=False, echo=lambda *a: None, plots=False)
    run_grid(grid, tmp_path / "straight", **quiet)
    calls = count_runs(monkeypatch)
    first = run_grid(grid, tmp_path / "shared", shard="1/2", **quiet)
    assert first["total"] == 2 and calls == [("dgi", 0), ("grace", 0)]  # cells 1 and 3 of 4
    second = run_grid(grid, tmp_path / "shared", shard=(2, 2), **quiet)
    assert second["ran"] == 2 and calls[2:] == [("dgi", 1), ("grace", 1)]
    assert run_grid(grid, tmp_path / "shared", **quiet)["ran"] == 0  # all four are done

    def by_key(folder):
        return {r["key"]: stable_view(r) for r in ResultStore(folder).load()}

    assert by_key(tmp_path / "shared") == by_key(tmp_path / "straight")


@pytest.mark.parametrize("shard", ["3/2", "0/2", "1-2", "a/b", (1,)])
def test_bad_shard_fails_before_training(tmp_path, monkeypatch, shard):
    monkeypatch.setattr(runner_module, "run_pretrain", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ValueError, match="shard must be K/N"):
        run_grid(write(tmp_path, GRID), tmp_path / "res", shard=shard, progress=False,
                 echo=lambda *a: None)


def test_cli_bench_shard_option(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner_module, "run_pretrain", lambda *a, **k: pytest.fail("trained"))
    grid = write(tmp_path, GRID)
    assert main(["bench", str(grid), "--results", str(tmp_path / "r"), "--shard", "3/2"]) == 2
    assert "shard must be K/N with 1 <= K <= N" in capsys.readouterr().err


def test_processes_sharing_a_folder_skip_cells_claimed_or_finished_elsewhere(tmp_path,
                                                                              monkeypatch):
    grid_path = write(tmp_path, GRID)
    run_grid(grid_path, tmp_path / "other", progress=False, echo=lambda *a: None, plots=False)
    last = ResultStore(tmp_path / "other").load()[-1]  # the line another process would write
    cells = load_grid(grid_path).cells
    store = ResultStore(tmp_path / "res")
    calls = []
    real = pretrain_module.run_pretrain

    def counting(*args, **kwargs):
        calls.append((args[0], kwargs["runs"][0]))
        if len(calls) == 1:  # meanwhile another process finishes the last cell
            store.append({k: v for k, v in last.items() if k not in ("format", "version")})
        return real(*args, **kwargs)

    monkeypatch.setattr(runner_module, "run_pretrain", counting)
    with store.claim(cells[0].key) as mine:  # another process is running the first cell
        assert mine
        with store.claim(cells[0].key) as again:
            assert not again  # a claim is exclusive, even within one process
        out = run_grid(grid_path, store.folder, progress=False, echo=lambda *a: None,
                       plots=False)
    assert calls == [("dgi", 1), ("grace", 0)]
    assert out == {**out, "ran": 2, "elsewhere": 2, "skipped": 0, "total": 4}
    calls.clear()
    out = run_grid(grid_path, store.folder, progress=False, echo=lambda *a: None, plots=False)
    assert calls == [("dgi", 0)] and out["ran"] == 1 and out["skipped"] == 3


def test_only_runs_a_slice_whose_cells_keep_their_keys(tmp_path, monkeypatch):
    grid = write(tmp_path, GRID)
    quiet = dict(progress=False, echo=lambda *a: None, plots=False)
    calls = count_runs(monkeypatch)
    out = run_grid(grid, tmp_path / "res", only=["method=grace", "seed=1"], **quiet)
    assert out["total"] == 1 and calls == [("grace", 1)]
    # dataset names compare as the grid resolves them; the slice's cell is not rerun
    out = run_grid(grid, tmp_path / "res", only=["dataset=csbm", "method=dgi,grace"], **quiet)
    assert out["skipped"] == 1 and out["ran"] == 3
    keys = {c.key for c in load_grid(grid).cells}
    assert {r["key"] for r in ResultStore(tmp_path / "res").load()} == keys


@pytest.mark.parametrize("only, message", [
    (["method=grcae"], r"only method=grcae: no cell of the grid has this method; the grid's: "
                       r"dgi, grace\. Did you mean: grace"),
    (["seed=7"], r"only seed=7: no cell"),
    (["model=gcn"], r"only: unknown field 'model'"),
    (["dataset"], r"only must be FIELD=VALUE"),
    (["dataset="], r"only must be FIELD=VALUE"),
])
def test_bad_only_fails_before_training(tmp_path, monkeypatch, only, message):
    monkeypatch.setattr(runner_module, "run_pretrain", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ValueError, match=message):
        run_grid(write(tmp_path, GRID), tmp_path / "res", only=only, progress=False,
                 echo=lambda *a: None)
    assert not (tmp_path / "res" / "results.jsonl").exists()


def test_cli_bench_only_option(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner_module, "run_pretrain", lambda *a, **k: pytest.fail("trained"))
    grid = write(tmp_path, GRID)
    assert main(["bench", str(grid), "--results", str(tmp_path / "r"),
                 "--only", "dataset=Cora"]) == 2
    assert "only dataset=Cora: no cell of the grid has this dataset" in capsys.readouterr().err


def test_leaderboard_says_which_cells_of_the_grid_are_missing(tmp_path):
    grid = write(tmp_path, GRID)
    quiet = dict(progress=False, echo=lambda *a: None, plots=False)
    run_grid(grid, tmp_path / "res", only=["method=dgi"], **quiet)
    board = (tmp_path / "res" / "leaderboard.md").read_text()
    progress = board.split("## Progress of the grid")[1]
    assert "2 of 4 cells finished" in progress
    assert "| grace | CSBM | default | default | 0 | 2 | - | - |" in progress
    assert "No estimate of the 2 cells left: none belongs to a group with a finished" in progress
    assert "| dgi |" not in progress  # complete groups are not listed
    run_grid(grid, tmp_path / "res", **quiet)
    progress = (tmp_path / "res" / "leaderboard.md").read_text().split("## Progress")[1]
    assert "4 of 4 cells finished" in progress and "Not complete" not in progress
    seconds = sum(r["seconds"] for r in ResultStore(tmp_path / "res").load())
    assert f"summed over cells: {round(seconds / 60)} min" in progress


def test_report_without_its_grid_file_renders_without_progress(tmp_path):
    grid = write(tmp_path, GRID)
    run_grid(grid, tmp_path / "res", only=["method=dgi", "seed=0"], progress=False,
             echo=lambda *a: None, plots=False)
    grid.unlink()
    said = []
    runner_module.report(tmp_path / "res", plots=False, echo=said.append)
    assert "Progress" not in (tmp_path / "res" / "leaderboard.md").read_text()
    assert any("no progress section" in s and "does not load" in s for s in said)


def test_progress_counts_runs_of_cells_the_grid_no_longer_has(tmp_path):
    grid = write(tmp_path, GRID)
    quiet = dict(progress=False, echo=lambda *a: None, plots=False)
    run_grid(grid, tmp_path / "res", only=["method=grace", "seed=0"], **quiet)
    write(tmp_path, GRID.replace("projection_dim: 16", "projection_dim: 32"))  # edited since
    runner_module.report(tmp_path / "res", plots=False, echo=lambda *a: None)
    progress = (tmp_path / "res" / "leaderboard.md").read_text().split("## Progress")[1]
    assert "0 of 4 cells finished" in progress
    assert "1 runs in the results file are of cells this grid no longer has" in progress


def test_runs_of_cells_the_grid_no_longer_has_stay_out_of_the_table(tmp_path):
    grid = write(tmp_path, GRID)
    quiet = dict(progress=False, echo=lambda *a: None, plots=False)
    run_grid(grid, tmp_path / "res", only=["method=grace", "seed=0"], **quiet)
    write(tmp_path, GRID.replace("projection_dim: 16", "projection_dim: 32"))  # edited since
    run_grid(grid, tmp_path / "res", only=["method=grace", "seed=0"], **quiet)  # runs again
    old, new = ResultStore(tmp_path / "res").load()
    assert old["metrics"]["test_acc"] != new["metrics"]["test_acc"]  # else the test proves nothing
    board = (tmp_path / "res" / "leaderboard.md").read_text()
    table, rest = board.split("## Progress of the grid")
    _, stale = rest.split("## Runs of cells the grid no longer has")

    def grace_rows(text):
        return [line for line in text.splitlines() if line.startswith("| grace |")]

    def shown(record):
        return f"| {100 * record['metrics']['test_acc']:.2f} ± 0.00 | 1 |"

    assert len(grace_rows(table)) == 1 and shown(new) in grace_rows(table)[0]
    assert len(grace_rows(stale)) == 1 and shown(old) in grace_rows(stale)[0]
    assert board.startswith("# ") and "\n1 runs. Ours" in board  # the header counts the grid's


def _finished(store, cell, seconds):
    store.append({"key": cell.key, "method": cell.method, "dataset": cell.dataset,
                  "seed": cell.seed, "metrics": {}, "seconds": seconds})


def test_plan_estimates_the_cells_left_from_their_groups_finished_cells(tmp_path):
    grid = load_grid(write(tmp_path, GRID))
    dgi0, dgi1, grace0, grace1 = grid.cells
    store = ResultStore(tmp_path / "res")
    _finished(store, dgi0, 30.0)
    _finished(store, grace0, 200.0)
    plan = runner_module.plan_grid(grid.path, store.folder)
    assert plan["finished"] == 2 and plan["seconds"] == 230.0
    assert plan["left_seconds"] == 230.0 and plan["left_unestimated"] == 0
    assert [g["left_seconds"] for g in plan["groups"]] == [30.0, 200.0]
    _finished(store, dgi1, 50.0)  # the dgi group is complete: nothing left to estimate
    plan = runner_module.plan_grid(grid.path, store.folder)
    assert [g["left_seconds"] for g in plan["groups"]] == [0.0, 200.0]
    # the dgi runs are outside a grace slice, not runs of cells the grid no longer has
    store.append({"key": "gone", "method": "grace", "dataset": "CSBM", "seed": 7,
                  "metrics": {}, "seconds": 1.0})
    plan = runner_module.plan_grid(grid.path, store.folder, only=["method=grace"])
    assert plan["finished"] == 1 and plan["stale"] == 1
    # a stale run of another method is the whole grid's, not the grace slice's
    store.append({"key": "gone-too", "method": "dgi", "dataset": "CSBM", "seed": 7,
                  "metrics": {}, "seconds": 1.0})
    assert runner_module.plan_grid(grid.path, store.folder, only=["method=grace"])["stale"] == 1
    assert runner_module.plan_grid(grid.path, store.folder, only=["method=GRACE,dgi"])["stale"] == 2
    assert runner_module.plan_grid(grid.path, store.folder)["stale"] == 2
    # a slice plans its own cells only; a group with nothing finished has no estimate
    plan = runner_module.plan_grid(grid.path, tmp_path / "empty", only=["method=grace"])
    assert plan["total"] == 2 and plan["groups"][0]["left_seconds"] is None
    assert plan["left_unestimated"] == 2 and plan["left_seconds"] == 0.0
    assert not (tmp_path / "empty").exists()  # planning writes nothing


def test_select_records_compares_as_text_and_leaves_out_records_without_the_field():
    from graphssl.bench.selection import parse_only, select_records
    records = [{"method": "grace", "dataset": "Cora", "seed": 0},
               {"method": "grace", "dataset": "CiteSeer", "seed": 1},
               {"method": "dgi", "dataset": "cora", "seed": 0}, {"seed": 0}]
    only = parse_only(["dataset=CORA", "seed=0"])
    assert select_records(records, only) == [records[0], records[2]]
    assert select_records(records, parse_only(["method=gca"])) == []  # none, no error
    assert select_records(records, {}) == records


def test_cli_bench_plan_runs_nothing_and_prints_the_estimate(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner_module, "run_pretrain", lambda *a, **k: pytest.fail("trained"))
    grid = load_grid(write(tmp_path, GRID))
    store = ResultStore(tmp_path / "res")
    _finished(store, grid.cells[2], 200.0)
    before = store.path.read_bytes()
    assert main(["bench", str(grid.path), "--results", str(store.folder), "--plan"]) == 0
    out = capsys.readouterr().out
    assert "1 of 4 cells finished" in out
    assert "3 min for the 1 whose group has a finished cell" in out
    assert "the other 2 belong to groups with no finished cell" in out
    assert "| grace | CSBM | default | default | 1 | 2 | 3 min | 3 min |" in out
    assert "| dgi | CSBM | default | default | 0 | 2 | - | - |" in out
    assert store.path.read_bytes() == before and not store.meta_path.exists()
    assert main(["bench", str(grid.path), "--results", str(store.folder), "--plan",
                 "--only", "method=dgx"]) == 2  # a bad slice is still an error
    assert "Did you mean: dgi" in capsys.readouterr().err


@pytest.mark.parametrize("method,dataset,largest", [("mvgrl", "CSBM", None),
                                                    ("mvgrl-graph", "MUTAG", 28)])
def test_a_graph_beyond_the_methods_bound_is_refused_before_training(
        method, dataset, largest, monkeypatch, data_root, request):
    """MVGRL's dense diffusion cannot hold the dataset's largest graph (the bound lowered here):
    the run fails before its first epoch, naming the dataset and the largest graph, instead of
    after training when the probe embeds it."""
    from graphssl.augment import PPRDiffusion
    from graphssl.data import load_dataset

    mirror = request.getfixturevalue("mirror") if dataset == "MUTAG" else None
    largest = largest or load_dataset(dataset, root=data_root)[0].num_nodes
    monkeypatch.setattr(PPRDiffusion, "MAX_DENSE_ENTRIES", (largest - 1) ** 2)

    def no_training(*args, **kwargs):
        raise AssertionError("trained before the size check")

    monkeypatch.setattr(Trainer, "fit", no_training)
    with pytest.raises(ValueError, match=f"{method} cannot run on {dataset}, whose largest "
                                         f"graph has {largest} nodes: PPRDiffusion is exact"):
        run_pretrain(method, dataset, runs=1, epochs=1, root=data_root, mirror=mirror,
                     progress=False, echo=lambda *a, **k: None)
    monkeypatch.setattr(PPRDiffusion, "MAX_DENSE_ENTRIES", largest ** 2)  # it fits: training
    with pytest.raises(AssertionError, match="trained before"):
        run_pretrain(method, dataset, runs=1, epochs=1, root=data_root, mirror=mirror,
                     progress=False, echo=lambda *a, **k: None)
