"""A real single-node SLURM cluster on localhost for the integration test.

Starts munged, slurmctld and slurmd (Debian's slurm-wlm and munge) in the foreground as
child processes with a slurm.conf written here, waits until the node is idle, and stops
every daemon it started, by pid. Nested ``srun`` inside jobs reads the default
``/etc/slurm/slurm.conf`` (the SLURM executor's job step strips SLURM_CONF), so the
config is also written there, only if no file is there already, and removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "srun", "scontrol")
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
NODE = "fedheme-node"


def unavailable_reason() -> str | None:
    """Why a local SLURM cannot be started here, or None when it can."""
    missing = [d for d in DAEMONS if shutil.which(d) is None]
    if missing:
        return f"SLURM/munge not installed ({', '.join(missing)} missing): apt-get install slurm-wlm munge"
    if os.geteuid() != 0:
        return "slurmd must run as root"
    if SYSTEM_CONF.exists():
        return f"{SYSTEM_CONF} exists: a real SLURM configuration is not overwritten"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise TimeoutError(f"timed out waiting for {what}")


def slurm_conf(root: Path, ctld_port: int, d_port: int) -> str:
    return f"""ClusterName=fedheme-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=3600
SlurmdParameters=config_overrides
NodeName={NODE} NodeHostname={socket.gethostname()} NodeAddr=127.0.0.1 CPUs=8 RealMemory=16000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


@contextmanager
def local_slurm(root: Path) -> Iterator[dict[str, str]]:
    """Run a one-node SLURM under ``root``; yields the environment that reaches it."""
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o755)
    for sub in ("state", "spool"):
        (root / sub).mkdir(exist_ok=True)
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o400)
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf(root, _free_port(), _free_port()))
    env = dict(os.environ, SLURM_CONF=str(conf))
    processes: list[subprocess.Popen] = []
    wrote_system_conf = False
    try:
        munged = [
            "munged", "-F", "-f", f"--socket={root}/munge.sock", f"--key-file={key}",
            f"--pid-file={root}/munged.pid", f"--log-file={root}/munged.log", f"--seed-file={root}/munged.seed",
        ]  # fmt: skip
        processes.append(subprocess.Popen(munged, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait(lambda: (root / "munge.sock").exists(), 15, "munged")
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(conf, SYSTEM_CONF)
        wrote_system_conf = True
        log = open(root / "daemons.out", "w")
        processes.append(subprocess.Popen(["slurmctld", "-D", "-f", str(conf)], env=env, stdout=log, stderr=log))
        time.sleep(1)
        processes.append(subprocess.Popen(["slurmd", "-D", "-f", str(conf), "-N", NODE], env=env, stdout=log, stderr=log))

        def node_idle() -> bool:
            out = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], env=env, capture_output=True, text=True)
            return out.stdout.strip() == "idle"

        _wait(node_idle, 60, "the SLURM node to become idle")
        yield env
    finally:
        subprocess.run(["scancel", "--full", "-u", "root"], env=env, capture_output=True)
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if wrote_system_conf:
            SYSTEM_CONF.unlink(missing_ok=True)


def completed_jobs(env: dict[str, str]) -> list[dict[str, str]]:
    """Every job slurmctld still remembers (MinJobAge is high), as key=value dicts."""
    out = subprocess.run(["scontrol", "show", "job", "-o"], env=env, capture_output=True, text=True, check=True)
    jobs = []
    for line in out.stdout.splitlines():
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if fields:
            jobs.append(fields)
    return jobs
