"""A warm worker for local runs: the heavy libraries imported once, a fresh fork per job.

Every job of the workflow is a new Python process, and most spend longer importing torch,
Opacus, scikit-survival and matplotlib (1 to 2.5 s each on 2 cores) than working. When
Snakemake runs the jobs on this machine in this interpreter (no cluster executor, no conda
or container deployment), the Snakefile's ``onstart`` starts one worker (:func:`start`)
that imports those public third-party libraries (:data:`PRELOAD`) and waits on a Unix
socket in a private temporary folder (mode 0700). A job's script, as its first step
(:func:`hand_over`, called by ``workflow/scripts/checkout_path.py``), connects and passes
its standard streams, working folder, environment, umask and Snakemake's script file; the
worker forks a child that becomes the job: it runs that same script file from its first
line, and sends back its exit status, which the job's own process exits with. Signals the
job's process gets (Snakemake cancelling it) are passed on to the child, and a child whose
job process died kills itself.

What a job runs is unchanged: the same script, the same fedheme modules, imported by the
job itself (the worker imports none of fedheme's site-side or cross-site code, only public
libraries), in a process of its own that shares nothing with other jobs but the pages of
those libraries. The global generators of ``random``, NumPy and torch are reseeded from the
OS in each child, as a fresh interpreter would be (fedheme draws nothing from them for
patients: :mod:`fedheme.privacy.randomness`).

A job runs in its own process as before when no worker is up (``FEDHEME_WARM=off``, a
cluster or conda run, ``snakemake --no-hooks``), when the worker runs another interpreter
or checkout than the job, or when it cannot be reached (a cluster node): nothing depends
on the worker but speed. Snakemake's benchmark files still time each job's wall clock; their
memory and CPU columns see only the job's own process, not the child that worked.

Message framing: a 4-byte big-endian length, then that many bytes of UTF-8 JSON; the job's
first message carries its three standard file descriptors (``SCM_RIGHTS``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

__all__ = ["ENV_SOCKET", "ENV_SWITCH", "PRELOAD", "Worker", "hand_over", "start", "stop"]

#: Environment variable naming the worker's socket (set by :func:`start` for the jobs).
ENV_SOCKET = "FEDHEME_WARM_SOCKET"
#: ``FEDHEME_WARM=off`` runs every job in its own fresh interpreter.
ENV_SWITCH = "FEDHEME_WARM"
#: Set inside a forked job, so its script does not hand over again.
ENV_CHILD = "FEDHEME_WARM_CHILD"
#: Public third-party libraries the worker imports once (none of fedheme's own modules).
PRELOAD = ("numpy", "scipy.stats", "pandas", "pyarrow.parquet", "sklearn.linear_model", "sksurv.metrics",
           "sksurv.nonparametric", "lifelines", "pandera.pandas", "torch", "opacus", "matplotlib.pyplot")  # fmt: skip
#: Arrow's jemalloc would start a background thread at import; a process that forks must
#: have no threads holding locks, so the worker (and its jobs) run without it.
WORKER_ENV = {"JE_ARROW_MALLOC_CONF": "background_thread:false", "MPLBACKEND": "Agg"}
_HEADER = struct.Struct(">I")
_STREAMS = (0, 1, 2)


@dataclass(frozen=True)
class Worker:
    """A started worker: its process, socket and private folder."""

    process: subprocess.Popen
    address: str
    folder: Path


def enabled() -> bool:
    """Whether jobs may hand over to a worker (``FEDHEME_WARM`` is not ``off``/``0``/``false``)."""
    return os.environ.get(ENV_SWITCH, "on").strip().lower() not in {"off", "0", "false", "no"}


def start(*, log: str | Path, src: str | Path, timeout: float = 120.0) -> Worker | None:
    """Start a worker and point this process's future jobs at it (``FEDHEME_WARM_SOCKET``).

    ``src`` is the checkout's source folder the jobs import fedheme from (the worker
    refuses jobs of another checkout); ``timeout`` (s) bounds how long a child waits for
    its job's request. Returns at once: jobs that start before the worker listens run in
    their own process. Returns None (and starts nothing) when ``FEDHEME_WARM`` is off.
    """
    if not enabled():
        return None
    folder = Path(tempfile.mkdtemp(prefix="fedheme-warm-"))  # mode 0700: this user only
    address = str(folder / "socket")
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **WORKER_ENV}
    env.pop(ENV_SOCKET, None)
    env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [os.environ.get("PYTHONPATH")])])
    with open(log, "w", encoding="utf-8") as handle:
        process = subprocess.Popen([sys.executable, "-m", "fedheme.jobs.warm", address, str(os.getpid()), str(timeout)],
                                   stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    os.environ[ENV_SOCKET] = address
    os.environ.update(WORKER_ENV)  # jobs run as the worker's children would, either way
    return Worker(process=process, address=address, folder=folder)


def stop(worker: Worker | None, *, grace: float = 10.0) -> None:
    """Stop a worker started by :func:`start` (by its PID) and remove its folder."""
    if worker is None:
        return
    os.environ.pop(ENV_SOCKET, None)
    if worker.process.poll() is None:
        worker.process.terminate()
        try:
            worker.process.wait(grace)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
    shutil.rmtree(worker.folder, ignore_errors=True)


# --------------------------------------------------------------------------------------
# The job's side
# --------------------------------------------------------------------------------------


def hand_over(script: str | None = None) -> None:
    """Run this job in the warm worker, if one is up, and exit with its status.

    ``script`` is the file this process runs (default: Snakemake's script file,
    ``__real_file__`` of ``__main__``). Returns without doing anything when no worker can
    take the job, so the caller goes on in its own process.
    """
    address = os.environ.get(ENV_SOCKET)
    if not address or not enabled() or os.environ.get(ENV_CHILD):
        return
    script = script or getattr(sys.modules.get("__main__"), "__real_file__", None)
    if not script:
        return
    try:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(address)
    except OSError:  # not listening yet, gone, or on another machine
        return
    with connection:
        try:
            _send(connection, _request(script), fds=_STREAMS)
            reply = _receive(connection)
        except (OSError, ValueError):
            return
        if "pid" not in reply:  # refused: another interpreter or checkout
            return
        sys.stdout.flush()
        sys.stderr.flush()
        child = int(reply["pid"])
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda number, _frame: _signal(child, number))
        try:
            status = int(_receive(connection)["exit"])
        except (OSError, ValueError, KeyError):
            print(f"fedheme: the job's process in the warm worker (pid {child}) ended without a status", file=sys.stderr)
            status = 1
    raise SystemExit(status)


def _signal(pid: int, number: int) -> None:
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass


def _request(script: str) -> dict:
    import fedheme

    return {"python": sys.executable, "package": str(Path(fedheme.__file__).resolve().parent), "script": str(script),
            "cwd": os.getcwd(), "env": dict(os.environ), "umask": _umask(), "argv": sys.argv}  # fmt: skip


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --------------------------------------------------------------------------------------
# The worker's side
# --------------------------------------------------------------------------------------


def serve(address: str, *, parent: int, timeout: float) -> None:
    """Import :data:`PRELOAD`, then fork a child per connection until ``parent`` exits."""
    began = time.perf_counter()
    for name in PRELOAD:
        __import__(name)
    threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 0
    print(f"preloaded {len(PRELOAD)} libraries in {time.perf_counter() - began:.1f} s ({threads} OS threads)", flush=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    os.chmod(address, 0o600)
    listener.listen(64)
    listener.settimeout(1.0)
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda number, _frame: stopping.append(number))
    served = 0
    while not stopping and os.getppid() == parent:
        _reap()
        try:
            connection, _ = listener.accept()
        except (TimeoutError, InterruptedError):
            continue
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            listener.close()
            _become_job(connection, timeout=timeout)
        connection.close()
        served += 1
    listener.close()
    with contextlib.suppress(OSError):
        os.unlink(address)
        os.rmdir(os.path.dirname(address))
    reason = "stopped" if stopping else f"parent {parent} gone"
    print(f"{reason}: forked {served} jobs in {time.perf_counter() - began:.0f} s", flush=True)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _become_job(connection: socket.socket, *, timeout: float) -> NoReturn:
    """In the forked child: take over the job's streams, folder and environment, run its
    script, send the exit status, exit."""
    status = 1
    try:
        connection.settimeout(timeout)
        request, fds = _receive(connection, fds=len(_STREAMS))
        problem = _mismatch(request, len(fds))
        print(f"job {os.getpid()} {Path(request['script']).name}: {problem or 'forked'}", flush=True)  # the worker's log
        if problem:
            _send(connection, {"refused": problem})
            os._exit(0)
        _send(connection, {"pid": os.getpid()})
        connection.settimeout(None)
        for target, fd in zip(_STREAMS, fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ[ENV_CHILD] = "1"
        os.umask(int(request["umask"]))
        _reseed()
        threading.Thread(target=_die_with_job, args=(connection,), daemon=True).start()
        status = _run(request["script"], request["argv"])
    except BaseException:  # noqa: BLE001 - reported on the job's stderr, then its status
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        try:
            _send(connection, {"exit": status})
        except OSError:
            pass
        os._exit(status)


def _mismatch(request: dict, descriptors: int) -> str | None:
    import fedheme

    if descriptors != len(_STREAMS):
        return "the job's standard streams did not arrive"
    if request.get("python") != sys.executable:
        return f"the job runs {request.get('python')}, the worker {sys.executable}"
    if request.get("package") != str(Path(fedheme.__file__).resolve().parent):
        return "the job runs another checkout of fedheme"
    return None


def _reseed() -> None:
    """Fresh global generators, as a new interpreter would have (not the worker's)."""
    import random

    import numpy as np
    import torch

    random.seed()
    np.random.seed(int.from_bytes(os.urandom(4), "little"))
    torch.seed()


def _die_with_job(connection: socket.socket) -> None:
    """The job's process sends nothing more: an end of stream means it died."""
    try:
        while connection.recv(1):
            pass
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGKILL)


def _run(script: str, argv: list[str]) -> int:
    """Run ``script`` as ``__main__`` (as ``python script`` would); its exit status."""
    import runpy

    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as stop_:
        code = stop_.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------------------


def _send(connection: socket.socket, message: dict, *, fds: tuple[int, ...] = ()) -> None:
    payload = json.dumps(message).encode()
    frame = _HEADER.pack(len(payload)) + payload
    if fds:
        sent = socket.send_fds(connection, [frame[: _HEADER.size]], list(fds))
        assert sent == _HEADER.size
        connection.sendall(frame[_HEADER.size :])
    else:
        connection.sendall(frame)


def _receive(connection: socket.socket, *, fds: int = 0):
    """One message (and, with ``fds``, the descriptors sent with it)."""
    received: list[int] = []
    if fds:
        head, received, _flags, _addr = socket.recv_fds(connection, _HEADER.size, fds)
    else:
        head = _exactly(connection, _HEADER.size)
    if len(head) < _HEADER.size:
        head += _exactly(connection, _HEADER.size - len(head))
    (size,) = _HEADER.unpack(head)
    message = json.loads(_exactly(connection, size))
    return (message, received) if fds else message


def _exactly(connection: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = connection.recv(left)
        if not chunk:
            raise ConnectionError("the other end closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


if __name__ == "__main__":
    serve(sys.argv[1], parent=int(sys.argv[2]), timeout=float(sys.argv[3]))
