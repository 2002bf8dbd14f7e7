"""`graphssl pretrain --checkpoint-dir`: several processes given one folder share the runs, and a
rerun keeps the runs an earlier call finished (trained and probed)."""
import threading
import time

from graphssl.bench.pretrain import claimed_runs, run_pretrain
from graphssl.filelock import try_file_lock


def test_without_a_checkpoint_folder_runs_come_in_order():
    assert list(claimed_runs([2, 0, 1])) == [2, 0, 1]


def test_runs_held_elsewhere_come_last_and_started_runs_first(tmp_path):
    (tmp_path / "run3").mkdir()
    (tmp_path / "run3" / "checkpoint.pt").write_bytes(b"")  # started by an earlier call
    runs = claimed_runs([0, 1, 2, 3], tmp_path)
    with try_file_lock(tmp_path / "run1" / "train.lock") as held:  # "another process"
        assert held
        assert [next(runs), next(runs), next(runs)] == [3, 0, 2]
        with try_file_lock(tmp_path / "run2" / "train.lock") as free:
            assert not free  # the run being yielded is locked meanwhile
    assert list(runs) == [1]  # waited for the lock, then got it


def test_a_run_trained_elsewhere_is_not_trained_twice(tmp_path):
    """Run 1 is "being trained by another process" (its lock is held) until this process has
    trained run 2; the record still lists runs 0, 1, 2 in order with the numbers a single
    process gets."""
    ckpt = tmp_path / "ckpt"
    common = dict(method="dgi", dataset="csbm", runs=3, epochs=2, progress=False)
    alone = run_pretrain(**common, echo=lambda *a: None)
    got_lock, release = threading.Event(), threading.Event()

    def other_process():
        with try_file_lock(ckpt / "run1" / "train.lock") as held:
            assert held
            got_lock.set()
            release.wait(60)

    holder = threading.Thread(target=other_process)
    holder.start()
    got_lock.wait(10)
    lines = []

    def echo(line):
        lines.append(line)
        if line.startswith("  run 2"):
            release.set()

    shared = run_pretrain(**common, checkpoint_dir=ckpt, echo=echo)
    holder.join()
    order = [line.split()[1].rstrip(":") for line in lines
             if line.startswith("  run ") and "waiting" not in line]
    assert order == ["0", "2", "1"]
    assert any(line.startswith("  run 1: being trained by another process") for line in lines)
    assert [r["run"] for r in shared["per_run"]] == [0, 1, 2]
    assert [r["test_acc"] for r in shared["per_run"]] == [r["test_acc"] for r in alone["per_run"]]


def test_a_rerun_keeps_finished_runs_without_probing_again(tmp_path, monkeypatch):
    """Run 0 finished (trained and probed) in an earlier call; the rerun asks for runs 0-1 and
    probes run 1 only, and its record equals a fresh two-run record."""
    from graphssl.bench import pretrain as pretrain_module

    ckpt = tmp_path / "ckpt"
    common = dict(method="dgi", dataset="csbm", epochs=2, progress=False, echo=lambda *a: None)
    first = run_pretrain(**common, runs=[0], checkpoint_dir=ckpt)
    assert len(list((ckpt / "run0").glob("result-*.json"))) == 1
    probed = []
    real = pretrain_module.node_probe

    def counting(cfg):
        fn, kind = real(cfg)
        return (lambda z, y, split: probed.append(1) or fn(z, y, split)), kind

    monkeypatch.setattr(pretrain_module, "node_probe", counting)
    lines = []
    both = run_pretrain(**{**common, "echo": lines.append}, runs=2, checkpoint_dir=ckpt)
    assert len(probed) == 1  # run 1 only
    assert any("run 0" in line and "kept" in line for line in lines)
    assert both["per_run"][0] == first["per_run"][0]
    fresh = run_pretrain(**common, runs=2)
    assert [r["test_acc"] for r in both["per_run"]] == [r["test_acc"] for r in fresh["per_run"]]


def test_kept_results_belong_to_one_configuration(tmp_path):
    from graphssl.bench.finished import load_finished, run_key, save_finished

    config = {"model": {"hidden": 8}, "protocol": {"runs": 3, "split": "random"}}
    key = run_key(config)
    assert run_key({**config, "protocol": {"runs": 10, "run_ids": [4], "split": "random"}}) == key
    assert run_key({**config, "protocol": {"runs": 3, "split": "public"}}) != key
    save_finished(tmp_path / "run0", "result", key, {"test_acc": 0.5, "run": 0})
    assert load_finished(tmp_path / "run0", "result", key) == {"test_acc": 0.5, "run": 0}
    assert load_finished(tmp_path / "run0", "result", run_key({"model": {"hidden": 16}})) is None
    assert load_finished(tmp_path / "run1", "result", key) is None
    assert [p.name for p in (tmp_path / "run0").iterdir()] == ["result.json"]  # no temporary left
