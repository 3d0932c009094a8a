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
job process died kills itself. The worker and its children run in a session of their own,
so a Ctrl-C in the terminal reaches them only through the jobs.

What a job runs is unchanged: the same script, the same fedheme modules, imported by the
job itself (the worker imports none of fedheme's site-side or cross-site code, only public
libraries), in a process of its own that shares nothing with other jobs but the pages of
those libraries. As in a fresh interpreter: the global generators of ``random``, NumPy and
torch are reseeded from the OS in each child (fedheme draws nothing from them for
patients: :mod:`fedheme.privacy.randomness`); torch, BLAS and OpenMP use the threads
Snakemake gives the job (``OMP_NUM_THREADS``, the rule's ``threads``); and at the end
non-daemon threads are joined, ``atexit`` handlers run and a failed flush of the job's
output fails the job. What a child does not get afresh: Python's hash seed and the
interpreter's start-up options (``PYTHONHASHSEED``, ``-X``), which are the worker's.

A job runs in its own process as before when no worker is up (``FEDHEME_WARM=off``, a
cluster or conda run, ``snakemake --no-hooks``), when the worker runs another interpreter
or checkout than the job or another user connects, when it cannot be reached (a cluster
node), or when the fork does not answer within :data:`ANSWER_SECONDS` (the fork then
exits without running anything): nothing depends on the worker but speed. Snakemake's benchmark files still time each job's wall clock; their
memory and CPU columns see only the job's own process, not the child that worked.

Protocol: the job sends its request with its three standard file descriptors
(``SCM_RIGHTS``); the fork answers with its pid (or a refusal); the job says go; the fork
runs the job and sends its exit status. Each message is a 4-byte big-endian length, then
that many bytes of UTF-8 JSON.
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
#: Seconds a job waits for its fork to answer before running in its own process.
ANSWER_SECONDS = 30.0
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


def start(*, log: str | Path, src: str | Path, timeout: float = 120.0, wait: float = 0.0) -> Worker | None:
    """Start a worker and point this process's future jobs at it (``FEDHEME_WARM_SOCKET``).

    ``src`` is the checkout's source folder the jobs import fedheme from (the worker
    refuses jobs of another checkout); ``timeout`` (s) bounds how long a child waits for
    its job's request. Waits up to ``wait`` seconds for the worker to listen (jobs that
    start before it does run in their own process). Returns None (and starts nothing) when
    ``FEDHEME_WARM`` is off.
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
                                   stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True)  # fmt: skip
    os.environ[ENV_SOCKET] = address
    os.environ.update(WORKER_ENV)  # jobs run as the worker's children would, either way
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and process.poll() is None and not os.path.exists(address):
        time.sleep(0.05)  # the socket appears once the worker listens
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
            connection.settimeout(ANSWER_SECONDS)
            _send(connection, _request(script), fds=_STREAMS)
            reply = _receive(connection)
            if "pid" not in reply:  # refused: another interpreter, checkout or user
                return
            sys.stdout.flush()
            sys.stderr.flush()
            _send(connection, {"go": True})
            connection.settimeout(None)
        except (OSError, ValueError):  # no answer in time: the fork exits without running
            return
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
    import torch

    if torch.cuda.is_initialized():  # a CUDA context does not survive fork: serve nothing
        print("CUDA was initialised while importing: not serving (jobs start their own interpreter)", flush=True)
        return
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address + ".new")
    os.chmod(address + ".new", 0o600)
    listener.listen(64)
    os.rename(address + ".new", address)  # the socket appears once it listens
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
    try:
        request = _handshake(connection, timeout=timeout)
    except (OSError, ValueError) as err:  # the job went away, or sent nonsense, before it said go
        print(f"job {os.getpid()}: {type(err).__name__} before the job started", flush=True)
        os._exit(1)
    if request is None:
        os._exit(0)
    status = 1
    try:
        for target, fd in zip(_STREAMS, request["fds"]):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ[ENV_CHILD] = "1"
        os.umask(int(request["umask"]))
        _reseed()
        _limit_threads()
        threading.Thread(target=_die_with_job, args=(connection,), daemon=True).start()
        status = _run(request["script"], request["argv"])
    except BaseException:  # noqa: BLE001 - reported on the job's stderr, then its status
        traceback.print_exc()
    status = _shut_down(status)
    try:
        _send(connection, {"exit": status})
    except OSError:
        pass
    os._exit(status)


def _handshake(connection: socket.socket, *, timeout: float) -> dict | None:
    """The job's request (with its descriptors under ``fds``) once it said go; None when
    the fork refuses it or the job does not go ahead."""
    connection.settimeout(timeout)
    request, fds = _receive(connection, fds=len(_STREAMS))
    problem = _peer_problem(connection) or _mismatch(request, len(fds))
    print(f"job {os.getpid()} {Path(str(request.get('script'))).name}: {problem or 'forked'}", flush=True)  # the worker's log
    if problem:
        _send(connection, {"refused": problem})
        return None
    _send(connection, {"pid": os.getpid()})
    if not _receive(connection).get("go"):
        return None
    connection.settimeout(None)
    return {**request, "fds": fds}


def _peer_problem(connection: socket.socket) -> str | None:
    """Refuse a connection from another user (the socket's folder is private already)."""
    if not hasattr(socket, "SO_PEERCRED"):
        return None
    _pid, uid, _gid = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return None if uid == os.getuid() else f"user {uid} is not the worker's"


def _limit_threads() -> None:
    """The threads Snakemake gives the job (its ``OMP_NUM_THREADS``, the rule's ``threads``),
    which a fresh interpreter would read when loading torch and BLAS; the worker loaded
    them with its own."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    if not value.isdigit() or int(value) < 1:
        return
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(int(value))
    threadpool_limits(limits=int(value))


def _shut_down(status: int) -> int:
    """What the interpreter does at exit: join non-daemon threads, run ``atexit`` handlers,
    flush the standard streams (a failed flush fails the job, status 120 as in Python)."""
    import atexit

    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            status = status or 120
    return status


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
