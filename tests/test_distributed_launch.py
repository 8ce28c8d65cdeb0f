"""``examples/distributed_fullbatch.py`` under ``torchrun``: rank counts, two nodes, failures, resume.

Every job here trains the bundled Cora for a few epochs with dropout on, so
the per-epoch losses of different launches can be compared exactly.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _distributed_worker import free_port

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = str(REPO / "examples" / "distributed_fullbatch.py")
TORCHRUN = str(Path(sys.executable).parent / "torchrun")


def env() -> dict:
    e = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    e.pop("SCALEGNN_DEBUG", None)
    return e


def torchrun(nproc: int, *args: str, timeout: float = 300, extra: tuple = ("--standalone",)) -> subprocess.CompletedProcess:
    cmd = [TORCHRUN, *extra, f"--nproc_per_node={nproc}", EXAMPLE, "--quiet", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env(), cwd=REPO)


def launch_ranks(world: int, *args: str, timeout_s: int = 60) -> list:
    """The ranks as plain processes (the environment torchrun would set), so a test can kill one."""
    port = free_port()
    procs = []
    for rank in range(world):
        e = dict(env(), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                 MASTER_PORT=str(port))
        procs.append(subprocess.Popen([sys.executable, EXAMPLE, "--quiet", "--timeout", str(timeout_s), *args],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e, cwd=REPO))
    return procs


def epochs(out: Path) -> list:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if not r.get("final")]


def losses(out: Path) -> list:
    return [r["loss"] for r in epochs(out)]


COMMON = ("--epochs", "4", "--dropout", "0.5", "--seed", "0", "--partition-method", "metis")


def test_torchrun_1_2_4_processes_and_two_nodes_give_the_same_losses(tmp_path):
    runs = {}
    for nproc in (1, 2, 4):
        out = tmp_path / f"n{nproc}"
        done = torchrun(nproc, *COMMON, "--out", str(out))
        assert done.returncode == 0, done.stderr[-3000:]
        runs[nproc] = losses(out)
    # two torchrun agents on localhost, c10d rendezvous
    out = tmp_path / "two-nodes"
    port = free_port()
    rdzv = ("--nnodes=2", "--rdzv_backend=c10d", f"--rdzv_endpoint=127.0.0.1:{port}", "--rdzv_id=scalegnn-test")
    agents = [subprocess.Popen([TORCHRUN, *rdzv, "--nproc_per_node=1", EXAMPLE, "--quiet", *COMMON, "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=REPO)
              for _ in range(2)]
    for agent in agents:
        _, err = agent.communicate(timeout=300)
        assert agent.returncode == 0, err[-3000:]
    runs["two-nodes"] = losses(out)
    assert len(runs[1]) == 4
    for key, values in runs.items():
        assert values == pytest.approx(runs[1], rel=1e-5, abs=1e-6), key
    assert runs[1][0] != runs[1][-1]  # it trained


def test_bad_partition_directories_fail_every_rank_with_one_message(tmp_path):
    from scalegnn.data import load_dataset
    from scalegnn.distributed import prepare_partitions

    parts = prepare_partitions(load_dataset("cora-bundled"), 2, tmp_path / "parts", method="metis",
                               extra={"dataset_arg": "cora-bundled"})

    def run_all(world: int, *args: str) -> list:
        procs = launch_ranks(world, *COMMON, "--partitions", str(parts), *args)
        results = []
        for p in procs:
            _, err = p.communicate(timeout=120)
            results.append((p.returncode, [l for l in err.splitlines() if "error" in l.lower()]))
        return results

    # another world size
    for code, lines in run_all(1):
        assert code != 0 and any("k=2 parts but k=1 ranks" in l for l in lines), lines
    # another dataset
    for code, lines in run_all(2, "--dataset", "synthetic-300-1200"):
        assert code != 0 and any("made from dataset" in l for l in lines), lines
    # a corrupted file of rank 1: every rank reports it, not only rank 1
    victim = parts / "part-00001.npz"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    results = run_all(2)
    messages = set()
    for code, lines in results:
        assert code != 0
        hits = [l for l in lines if "part-00001.npz is corrupted" in l]
        assert hits, lines
        messages.add(hits[0].split(":", 1)[1])
    assert len(messages) == 1  # the same message on every rank


def test_killed_rank_makes_the_others_fail_within_the_timeout(tmp_path):
    out = tmp_path / "run"
    procs = launch_ranks(2, *COMMON, "--epochs", "100000", "--checkpoint-every", "1000", "--out", str(out),
                         timeout_s=30)
    deadline = time.time() + 180
    while time.time() < deadline and not (out / "metrics.jsonl").exists():
        time.sleep(0.5)
        assert procs[0].poll() is None, procs[0].communicate()[1][-2000:]
    assert (out / "metrics.jsonl").exists(), "training never started"
    procs[1].send_signal(signal.SIGKILL)
    start = time.time()
    _, err = procs[0].communicate(timeout=90)
    assert procs[0].returncode != 0
    assert time.time() - start < 45, "the surviving rank must give up within the configured timeout"
    assert "Traceback" not in err or "--debug" in err


def test_kill_and_resume_gives_the_uninterrupted_metrics(tmp_path):
    args = (*COMMON, "--epochs", "12", "--checkpoint-every", "1", "--model", "sage")
    whole = tmp_path / "whole"
    done = torchrun(2, *args, "--out", str(whole))
    assert done.returncode == 0, done.stderr[-3000:]

    cut = tmp_path / "cut"
    procs = launch_ranks(2, *args, "--out", str(cut))
    deadline = time.time() + 180
    while time.time() < deadline:
        if (cut / "metrics.jsonl").exists() and len(epochs(cut)) >= 4:
            break
        time.sleep(0.05)
    for p in procs:
        p.send_signal(signal.SIGKILL)
        p.wait()
    assert len(epochs(cut)) < 12, "the run finished before it could be killed"
    done = torchrun(2, *args, "--out", str(cut), "--resume")
    assert done.returncode == 0, done.stderr[-3000:]

    def strip(rows):
        drop = ("time", "step_s", "comm_wait_s", "comm_wait_share", "comm_per_layer", "comm_per_rank",
                "max_rank_peak_memory_mb")
        return [{k: v for k, v in r.items() if k not in drop} for r in rows]

    assert strip(epochs(cut)) == strip(epochs(whole))
    # resuming a finished run changes nothing
    before = (cut / "metrics.jsonl").read_text()
    again = torchrun(2, *args, "--out", str(cut), "--resume")
    assert again.returncode == 0 and "already finished" in again.stdout
    assert (cut / "metrics.jsonl").read_text() == before


def test_bad_launches_fail_cleanly_on_every_rank(tmp_path):
    # a model distributed training does not support: argparse on every rank, exit 2
    for p in launch_ranks(2, "--model", "mlp"):
        _, err = p.communicate(timeout=60)
        assert p.returncode == 2 and "--model" in err and "Traceback" not in err
    # a dataset that is not there: rank 0 finds out, every rank reports it
    procs = launch_ranks(2, "--dataset", "CiteSeer", "--root", str(tmp_path / "empty"), "--out", str(tmp_path / "o"))
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 1 and "CiteSeer" in err and "Traceback" not in err, err[-2000:]
