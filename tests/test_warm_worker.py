"""The warm worker (fedheme.jobs.warm): a job handed over runs its own script in a fork of
a process that imported the heavy libraries, with the job's streams, folder, environment
and arguments, and exits with the job's status; without a worker it runs as before."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import ROOT, snakemake
from fedheme.jobs import warm

SRC = ROOT / "src"

PROBE = f"""
import atexit, json, os, random, sys, threading
sys.path.insert(0, {str(SRC)!r})
from fedheme.jobs.warm import hand_over
hand_over(__file__)
preloaded = "torch" in sys.modules
import numpy, torch
from threadpoolctl import threadpool_info
if os.environ.get("ATEXIT"):  # what the interpreter does at exit: handlers, then threads
    atexit.register(lambda: open(os.environ["ATEXIT"], "a").write("atexit "))
    threading.Thread(target=lambda: (__import__("time").sleep(0.5), open(os.environ["ATEXIT"], "a").write("thread "))).start()
if os.environ.get("PIDFILE"):
    open(os.environ["PIDFILE"] + ".tmp", "w").write(str(os.getpid()))
    os.replace(os.environ["PIDFILE"] + ".tmp", os.environ["PIDFILE"])
    import time
    time.sleep(60)
print(json.dumps({{"pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(), "argv": sys.argv,
                  "probe": os.environ.get("PROBE"), "preloaded": preloaded, "umask": os.umask(0),
                  "threads": [torch.get_num_threads(), *sorted({{i["num_threads"] for i in threadpool_info()}})],
                  "draws": [random.random(), float(numpy.random.rand()), float(torch.rand(1))]}}))
print("a line on stderr", file=sys.stderr)
if os.environ.get("RAISE"):
    raise ValueError("the job failed")
sys.exit(int(os.environ.get("EXIT", "0")))
"""


def wait_for(condition, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie not reaped yet counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (FileNotFoundError, IndexError):
        return True


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    saved = dict(os.environ)
    started = warm.start(log=tmp_path_factory.mktemp("warm") / "worker.log", src=SRC, wait=120)
    assert started.process.poll() is None and os.path.exists(started.address)  # listening
    yield started
    warm.stop(started)
    os.environ.clear()
    os.environ.update(saved)
    assert started.process.poll() is not None and not started.folder.exists()


@pytest.fixture
def probe(tmp_path) -> Path:
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    (tmp_path / "work").mkdir()
    return script


def run(script: Path, address: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, warm.ENV_SOCKET: address, **env}
    return subprocess.run([sys.executable, str(script), "an-argument"], cwd=script.parent / "work", env=environment,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_a_handed_over_job_runs_in_a_fork_of_the_worker_with_its_own_streams_folder_and_environment(worker, probe):
    done = run(probe, worker.address, PROBE="the job's", EXIT="3")
    assert done.returncode == 3, done.stderr
    seen = json.loads(done.stdout)
    assert seen["ppid"] == worker.process.pid and seen["preloaded"]
    assert seen["cwd"] == str(probe.parent / "work") and seen["argv"] == [str(probe), "an-argument"]
    assert seen["probe"] == "the job's" and seen["umask"] == (lambda m: (os.umask(m), m)[1])(os.umask(0))
    assert "a line on stderr" in done.stderr


def test_a_job_gets_the_threads_snakemake_gives_it_and_a_clean_exit(worker, probe, tmp_path):
    """Snakemake sets OMP_NUM_THREADS (and BLAS's) to a rule's threads; a fresh interpreter
    reads them when loading torch and BLAS, a fork gets them set; at exit the job's atexit
    handlers run after its threads end, as in a fresh interpreter."""
    marks = tmp_path / "exit.txt"
    for threads in ("1", "2"):
        env = {name: threads for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        warm_job, cold_job = run(probe, worker.address, **env), run(probe, str(tmp_path / "none"), **env)
        assert json.loads(warm_job.stdout)["preloaded"] and not json.loads(cold_job.stdout)["preloaded"]
        assert json.loads(warm_job.stdout)["threads"] == json.loads(cold_job.stdout)["threads"] == [int(threads), int(threads)]
    done = run(probe, worker.address, ATEXIT=str(marks))
    assert done.returncode == 0 and json.loads(done.stdout)["preloaded"]
    assert marks.read_text() == "thread atexit "


def test_a_fork_whose_job_does_not_go_ahead_runs_nothing(worker, probe, tmp_path):
    """A job that gave up waiting for its fork's answer runs in its own process; the fork,
    never told to go, must not run the job as well."""
    marks = tmp_path / "ran.txt"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(worker.address)
        request = {**warm._request(str(probe)), "env": {**os.environ, "ATEXIT": str(marks)}, "cwd": str(probe.parent / "work")}
        warm._send(connection, request, fds=(0, 1, 2))
        child = int(warm._receive(connection)["pid"])
    wait_for(lambda: gone(child), timeout=10, what="the fork to exit")
    time.sleep(1.0)
    assert not marks.exists()


def test_a_job_that_raises_fails_with_its_traceback_on_its_stderr(worker, probe):
    done = run(probe, worker.address, RAISE="1")
    assert done.returncode == 1
    assert "ValueError: the job failed" in done.stderr and json.loads(done.stdout)["preloaded"]


def test_each_job_draws_fresh_global_randomness(worker, probe):
    first, second = (json.loads(run(probe, worker.address).stdout) for _ in range(2))
    assert first["preloaded"] and second["preloaded"] and first["pid"] != second["pid"]
    assert all(a != b for a, b in zip(first["draws"], second["draws"])), (first["draws"], second["draws"])


def test_without_a_worker_the_job_runs_in_its_own_process(probe, tmp_path):
    for address in (str(tmp_path / "no-socket"), ""):
        done = run(probe, address, EXIT="4")
        assert done.returncode == 4 and "a line on stderr" in done.stderr
        seen = json.loads(done.stdout)
        assert seen["ppid"] == os.getpid() and not seen["preloaded"]
    off = run(probe, str(tmp_path / "no-socket"), **{warm.ENV_SWITCH: "off"})
    assert off.returncode == 0 and not json.loads(off.stdout)["preloaded"]


def test_the_worker_refuses_a_job_of_another_interpreter(worker):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(worker.address)
        request = {**warm._request(str(ROOT / "x.py")), "python": "/opt/conda/envs/train/bin/python"}
        warm._send(connection, request, fds=(0, 1, 2))
        reply = warm._receive(connection)
    assert set(reply) == {"refused"} and "/opt/conda/envs/train/bin/python" in reply["refused"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_cancelled_job_stops_its_fork(worker, probe, tmp_path, signum):
    """Snakemake cancelling a job (SIGTERM) is passed on; a job process that is killed
    outright (SIGKILL) leaves a fork that notices and kills itself."""
    pidfile = tmp_path / "child.pid"
    environment = {**os.environ, warm.ENV_SOCKET: worker.address, "PIDFILE": str(pidfile)}
    client = subprocess.Popen([sys.executable, str(probe)], cwd=probe.parent / "work", env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for(pidfile.exists, what="the job to start")
        child = int(pidfile.read_text())
        assert child != client.pid and not gone(child)
        os.kill(client.pid, signum)
        status = client.wait(timeout=20)
        assert status == (1 if signum == signal.SIGTERM else -signal.SIGKILL)
        wait_for(lambda: gone(child), timeout=10, what="the job's fork to stop")
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()


def test_a_worker_whose_workflow_died_exits(tmp_path):
    """A Snakemake process killed before its onerror hook leaves no worker behind."""
    code = (f"import sys; sys.path.insert(0, {str(SRC)!r}); from fedheme.jobs import warm; "
            f"w = warm.start(log={str(tmp_path / 'worker.log')!r}, src={str(SRC)!r}); print(w.process.pid, w.folder)")  # fmt: skip
    pid, folder = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    wait_for(lambda: gone(int(pid)), timeout=90, what="the orphaned worker to exit")
    assert "parent" in (tmp_path / "worker.log").read_text() and not Path(folder).exists()


def test_a_job_of_the_workflow_writes_the_same_outputs_warm_and_cold(small_run, tmp_path):
    """The small run's jobs ran in the warm worker: one training fold rerun each way, in
    its own interpreter and handed over, gives the same ledger, rounds and weights."""
    fold = Path("results/mds/training/os_nh/loso-siteA")
    targets = [str(fold / name) for name in ("models.pt", "ledger.tsv", "rounds.tsv")]
    served = (small_run / "results" / "logs" / "warm_worker.log").read_text()
    assert int(re.search(r"forked (\d+) jobs", served).group(1)) > 50, served
    outputs = {}
    for mode in ("off", "on"):
        copy = tmp_path / mode
        shutil.copytree(small_run, copy, symlinks=True, ignore=shutil.ignore_patterns(".snakemake"))
        for target in [*targets, "results/logs/warm_worker.log"]:
            (copy / target).unlink()
        os.environ[warm.ENV_SWITCH] = mode
        try:
            snakemake(copy, "--configfile", "tests/fixtures/config_small.yaml", "--cores", "2", *targets)
        finally:
            del os.environ[warm.ENV_SWITCH]
        outputs[mode] = copy
        log = copy / "results" / "logs" / "warm_worker.log"
        assert log.exists() == (mode == "on") and (mode == "off" or "train_fold.py: forked" in log.read_text())
    for name in ("ledger.tsv", "rounds.tsv"):
        assert (outputs["off"] / fold / name).read_bytes() == (outputs["on"] / fold / name).read_bytes() == (small_run / fold / name).read_bytes()
    cold, hot = (torch.load(outputs[m] / fold / "models.pt", weights_only=False) for m in ("off", "on"))
    assert_same(cold, hot)


def assert_same(a, b) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert a == b
