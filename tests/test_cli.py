import json
import subprocess
import sys

import pytest
import torch

from graphssl.bench.config import method_config
from graphssl.cli import main

REQUIRED = {"method", "dataset", "split", "runs", "test_acc_mean", "test_acc_std",
            "pretrain_seconds", "peak_rss_mb", "versions", "threads", "cpu", "cpu_capability"}


def test_pretrain_end_to_end_writes_the_record(tmp_path, data_root, mirror, offline, capsys):
    out = tmp_path / "grace.json"
    code = main(["pretrain", "--method", "grace", "--dataset", "cora", "--runs", "2",
                 "--epochs", "2", "--mirror", str(mirror), "--root", str(data_root),
                 "--quiet", "--out", str(out)])
    assert code == 0
    record = json.loads(out.read_text())
    assert REQUIRED <= set(record)
    assert (record["method"], record["dataset"], record["split"], record["runs"]) == (
        "grace", "Cora", "random", 2)
    assert 0.0 < record["test_acc_mean"] <= 1.0 and len(record["per_run"]) == 2
    assert record["config"]["train"]["epochs"] == 2 and record["config"]["tuned"]
    # the instruction set changes float rounding, so a record names it
    assert record["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert isinstance(record["cpu"], str) and record["cpu"]
    printed = capsys.readouterr().out
    assert "test accuracy" in printed and "±" in printed


def test_pretrain_dgi_follows_the_paper_protocol_by_default(tmp_path, data_root, mirror,
                                                             offline):
    out = tmp_path / "dgi.json"
    assert main(["pretrain", "--method", "dgi", "--dataset", "CiteSeer", "--epochs", "2",
                 "--runs", "1", "--mirror", str(mirror), "--root", str(data_root), "--quiet",
                 "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["split"] == "public" and record["probe"]["normalize"] is False


def test_pretrain_resumes_from_checkpoints(tmp_path, data_root, mirror, offline):
    args = ["pretrain", "--method", "grace", "--dataset", "Cora", "--runs", "1", "--epochs", "2",
            "--mirror", str(mirror), "--root", str(data_root), "--quiet",
            "--checkpoint-dir", str(tmp_path / "ckpt"), "--out"]
    assert main(args + [str(tmp_path / "a.json")]) == 0
    assert (tmp_path / "ckpt" / "run0" / "checkpoint.pt").exists()
    assert main(args + [str(tmp_path / "b.json")]) == 0  # finished run: nothing to redo
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert a["test_acc_mean"] == b["test_acc_mean"]


def test_unknown_names_fail_with_suggestions(capsys):
    assert main(["pretrain", "--method", "grace", "--dataset", "Coraa"]) == 2
    assert "Did you mean: Cora" in capsys.readouterr().err
    assert main(["pretrain", "--method", "gracee", "--dataset", "csbm"]) == 2
    assert "Did you mean: grace" in capsys.readouterr().err


def test_graph_level_method_on_a_node_dataset_is_explained(capsys):
    assert main(["pretrain", "--method", "graphcl", "--dataset", "csbm"]) == 2
    assert "graph-level representations" in capsys.readouterr().err


def test_datasets_lists_families(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "Cora" in out and "MUTAG" in out and "ogbg-*" in out


def test_demo_offline_without_mirror_uses_synthetic_graph(tmp_path, offline, capsys):
    assert main(["demo", "--epochs", "2", "--root", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "synthetic graph" in out and "CSBM" in out and "test accuracy" in out


def test_console_script_is_installed():
    proc = subprocess.run([sys.executable, "-m", "graphssl.cli", "datasets"],
                          capture_output=True, text=True, check=True)
    assert "Cora" in proc.stdout


def test_split_follows_the_dataset_when_the_paper_split_is_missing(tmp_path, capsys):
    out = tmp_path / "dgi.json"
    assert main(["pretrain", "--method", "dgi", "--dataset", "csbm", "--epochs", "1", "--runs",
                 "2", "--quiet", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["split"] == "random"  # DGI's paper split is Planetoid's public one
    assert record["config"]["protocol"] == {"split": "random", "runs": 2, "task": "node",
                                            "probe": {"normalize": False}}


def test_run_ids_choose_the_runs(tmp_path, capsys):
    out = tmp_path / "dgi.json"
    assert main(["pretrain", "--method", "dgi", "--dataset", "csbm", "--epochs", "1",
                 "--run-ids", "3,1", "--quiet", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert [r["run"] for r in record["per_run"]] == [1, 3]
    assert record["runs"] == 2 and record["config"]["protocol"]["run_ids"] == [3, 1]
    for bad in ("1,1", "-1", "a", ""):
        with pytest.raises(SystemExit):
            main(["pretrain", "--method", "dgi", "--dataset", "csbm", "--run-ids", bad])
        assert "distinct run ids >= 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["pretrain", "--method", "dgi", "--dataset", "csbm", "--runs", "2",
              "--run-ids", "0"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_bad_numbers_and_checkpoints_are_clear_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["pretrain", "--method", "grace", "--dataset", "csbm", "--runs", "0"])
    assert "must be a positive integer" in capsys.readouterr().err
    args = ["pretrain", "--method", "grace", "--dataset", "csbm", "--runs", "1", "--quiet",
            "--checkpoint-dir", str(tmp_path)]
    assert main(args + ["--epochs", "1"]) == 0
    assert main(args + ["--epochs", "2"]) == 2  # same folder, other configuration
    assert "another configuration" in capsys.readouterr().err


def test_ctrl_c_keeps_the_last_checkpoint_and_the_rerun_resumes(tmp_path, capsys):
    """A real SIGINT to a running `graphssl pretrain`: the process stops, the checkpoint on disk
    is intact, and the same command finishes the run from it."""
    import signal
    import time

    from graphssl.train import load_checkpoint

    ckpt = tmp_path / "ckpt" / "run0" / "checkpoint.pt"
    # 15 epochs of about 0.25 s here: 3 s left after epoch 3 to send the signal in
    args = ["pretrain", "--method", "grace", "--dataset", "csbm", "--runs", "1", "--epochs", "15",
            "--quiet", "--root", str(tmp_path), "--checkpoint-dir", str(tmp_path / "ckpt")]
    # a shell's background job inherits SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler: give the child the default disposition whatever ran pytest
    proc = subprocess.Popen([sys.executable, "-m", "graphssl.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and load_checkpoint(ckpt)["epoch"] >= 3:
            break
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "last checkpoint" in err and "intact" in err
    assert "Traceback" not in err
    epoch = load_checkpoint(ckpt)["epoch"]
    assert 3 <= epoch < 15
    # no half-written temporary files (train.lock: the run's lock, see claimed_runs)
    leftovers = [p for p in ckpt.parent.iterdir() if p.name not in ("checkpoint.pt", "train.lock")]
    assert not leftovers, leftovers
    # the reruns need no signal: in this process (a fresh interpreter costs 10 s of imports)
    other = args[:]
    other[other.index("15")] = "16"  # another configuration: refused, the checkpoint untouched
    assert main(other) == 2 and "another configuration" in capsys.readouterr().err
    assert load_checkpoint(ckpt)["epoch"] == epoch
    # the same command finishes the run from the checkpoint
    assert main(args + ["--out", str(tmp_path / "r.json")]) == 0
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["per_run"][0]["epochs"] == 15
    assert record["epochs_trained_here"] == 15 - epoch


def _registered():
    from graphssl.methods import METHODS
    return sorted((n, cls) for n, cls in METHODS.items() if "graph" in cls.modalities)


@pytest.mark.parametrize("name, cls", _registered(), ids=[n for n, _ in _registered()])
def test_every_method_runs_from_the_cli(name, cls, tmp_path, data_root, mirror, offline):
    """Each registered method pretrains through `graphssl pretrain` on a tiny graph (node-level
    methods) and on a batch dataset of small graphs (every method), with its shipped config.
    Methods for images, clips and text: test_modality_methods.py."""
    datasets = (["csbm"] if cls.level == "node" else []) + ["MUTAG"]
    for dataset in datasets:
        out = tmp_path / f"{dataset}.json"
        # one C: the inner search over seven (test_graph_cls.py) takes MVGRL's 512-wide
        # embeddings 27 s of liblinear here (cProfile of this call)
        one_c = ["--set", "protocol.svm.Cs=[1.0]"] if dataset == "MUTAG" else []
        assert main(["pretrain", "--method", name, "--dataset", dataset, "--epochs", "1",
                     "--runs", "1", "--quiet", "--mirror", str(mirror), "--root",
                     str(data_root), "--out", str(out), *one_c]) == 0
        record = json.loads(out.read_text())
        metric = "test_auc_mean" if "test_auc_mean" in record else "test_acc_mean"
        assert record["method"] == name and 0.0 <= record[metric] <= 1.0
        # the probe that ran is the configured one (e.g. MVGRL's LinearSVC on raw embeddings)
        protocol = method_config(name, dataset)["protocol"]
        configured = dict(protocol.get("svm" if dataset == "MUTAG" else "probe") or {})
        if one_c:
            configured["Cs"] = [1.0]
        assert all(record["probe"][key] == value for key, value in configured.items())


def test_link_prediction_protocol(tmp_path, data_root, mirror, offline, capsys):
    """VGAE's shipped protocol holds out edges and reports AUC/AP; --task node probes nodes."""
    out = tmp_path / "vgae.json"
    assert main(["pretrain", "--method", "vgae", "--dataset", "csbm", "--epochs", "60",
                 "--runs", "2", "--quiet", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["config"]["protocol"]["task"] == "link"
    # untrained: AUC 0.51; 60 epochs: 0.70 (CSBM edges are random within classes)
    assert record["test_auc_mean"] > 0.65 and record["test_ap_mean"] > 0.65
    assert {"val_auc", "val_ap", "test_auc", "test_ap"} <= set(record["per_run"][0])
    assert "test AUC" in capsys.readouterr().out
    assert main(["pretrain", "--method", "vgae", "--dataset", "csbm", "--epochs", "2",
                 "--runs", "1", "--task", "node", "--quiet", "--out", str(out)]) == 0
    assert "test_acc_mean" in json.loads(out.read_text())
    assert main(["pretrain", "--method", "grace", "--dataset", "MUTAG", "--task", "link",
                 "--epochs", "1", "--runs", "1", "--quiet", "--mirror", str(mirror), "--root",
                 str(data_root)]) == 2
    assert "graph-level dataset" in capsys.readouterr().err


def test_node_clustering_protocol(tmp_path, capsys):
    out = tmp_path / "dgi.json"
    assert main(["pretrain", "--method", "dgi", "--dataset", "csbm", "--task", "cluster",
                 "--epochs", "2", "--runs", "1", "--quiet", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["split"] == "all nodes" and record["config"]["protocol"]["task"] == "cluster"
    # the scores themselves are tested with graphssl.evaluate.cluster in test_evaluate.py
    assert 0.2 <= record["test_acc_mean"] <= 1 and 0 <= record["test_nmi_mean"] <= 1
    assert -1 <= record["test_ari_mean"] <= 1 and len(record["per_run"]) == 1
    assert "clustering ACC" in capsys.readouterr().out


def test_an_unknown_data_setting_fails_before_loading(tmp_path, capsys):
    # a typo would otherwise be ignored: the run would quietly go without self-loops
    assert main(["pretrain", "--method", "graphmae-graph", "--dataset", "MUTAG", "--set",
                 "data.self_loop=true", "--root", str(tmp_path / "nothing")]) == 2
    assert "unknown data setting 'self_loop'. Did you mean: self_loops?" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()


def test_shipped_configurations_hold_known_data_settings():
    from pathlib import Path

    import yaml

    from graphssl.bench.config import check_data_settings
    for path in (Path(__file__).resolve().parents[1] / "graphssl" / "configs").glob("*.yaml"):
        raw = yaml.safe_load(path.read_text())
        sections = [raw.get("defaults") or {}, *(raw.get("modality_defaults") or {}).values(),
                    *(raw.get("datasets") or {}).values()]
        for section in sections:
            check_data_settings(section.get("data") or {})


def test_set_overrides_the_shipped_configuration(tmp_path, capsys):
    out = tmp_path / "grace.json"
    assert main(["pretrain", "--method", "grace", "--dataset", "csbm", "--epochs", "1",
                 "--runs", "1", "--quiet", "--set", "model.encoder.hidden_channels=24",
                 "--set", "model.projection_dim=8", "--set", "train.lr=1e-3",
                 "--out", str(out)]) == 0
    config = json.loads(out.read_text())["config"]
    assert config["model"]["encoder"]["hidden_channels"] == 24
    assert config["model"]["projection_dim"] == 8 and config["train"]["lr"] == 1e-3
    with pytest.raises(SystemExit):
        main(["pretrain", "--method", "grace", "--dataset", "csbm", "--set", "hidden=3"])
    assert "SECTION.KEY=VALUE" in capsys.readouterr().err


def test_clustering_with_the_methods_own_assignments(tmp_path):
    out = tmp_path / "dec.json"
    assert main(["pretrain", "--method", "dec", "--dataset", "csbm", "--task", "cluster",
                 "--epochs", "3", "--runs", "1", "--quiet", "--out", str(out),
                 "--set", "model.warmup_epochs=1", "--set", "model.num_clusters=5",
                 "--set", "protocol.cluster.assignments=method"]) == 0
    record = json.loads(out.read_text())
    assert "predict_clusters" in record["probe"]["kind"]
    assert 0 <= record["test_acc_mean"] <= 1 and 0 <= record["test_nmi_mean"] <= 1
    assert main(["pretrain", "--method", "dgi", "--dataset", "csbm", "--task", "cluster",
                 "--epochs", "1", "--runs", "1", "--quiet",
                 "--set", "protocol.cluster.assignments=method"]) == 2
