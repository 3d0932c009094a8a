"""Flower's processes for a networked federation: a SuperLink (the coordinator's), one
SuperNode per hospital, and ``flwr run`` submitting fedheme's app.

Every process is started in its own session (process group) and stopped by its PID
(:func:`stop`): its children (the ClientApp and ServerApp processes Flower spawns) go with
it. Without TLS (``insecure``) traffic and node identities are unprotected: allowed only
when every address is this machine's loopback (:func:`check_insecure`).

Flower 1.41's SuperLink serves its Fleet, Control and Runtime APIs on one HTTP port;
``flwr run`` reads the SuperLink's address from a connection in ``$FLWR_HOME/config.toml``
(written by :func:`write_connection`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

#: The Flower app folder (``flwr run`` packs it; components come from the installed package).
APP_DIR = Path(__file__).resolve().parent / "flower_app"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def _bin(name: str) -> str:
    """A console script of this environment (Flower's ``flower-superlink``, ``flwr``...)."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else name


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{address!r}: expected HOST:PORT")
    return host, int(port)


def check_insecure(*addresses: str) -> None:
    """Refuse an insecure (no TLS) federation beyond this machine's loopback."""
    for address in addresses:
        host, _ = split_address(address)
        if host not in LOOPBACK:
            raise ValueError(f"insecure mode (no TLS) only on this machine's loopback, not {address}: give certificates "
                             "(see README, 'Joining a federation as a hospital')")  # fmt: skip


@dataclass(frozen=True)
class Tls:
    """Certificates (PEM files) of a TLS federation.

    Attributes:
        ca: the CA certificate the nodes and ``flwr`` trust (their ``--root-certificates``).
        certfile, keyfile: the SuperLink's certificate (signed by ``ca``) and private key.
    """

    ca: Path
    certfile: Path | None = None
    keyfile: Path | None = None


def superlink_command(address: str, *, database: Path, tls: Tls | None, node_auth: bool = False) -> list[str]:
    """``flower-superlink`` serving on ``address`` (its Fleet, Control and Runtime APIs),
    its state in ``database`` (SQLite: a restarted SuperLink keeps its runs)."""
    host, port = split_address(address)
    command = [_bin("flower-superlink"), "--host", host, "--port", str(port), "--database", str(database)]
    if tls is None:
        check_insecure(address)
        command.append("--insecure")
    else:
        command += ["--ssl-ca-certfile", str(tls.ca), "--ssl-certfile", str(tls.certfile), "--ssl-keyfile", str(tls.keyfile)]
    if node_auth:  # only SuperNodes whose public keys were registered (`flwr supernode register`) may join
        command.append("--enable-supernode-auth")
    return command


def supernode_command(superlink: str, *, site_config: Path, port: int, root_certificates: Path | None,
                      auth_key: Path | None = None) -> list[str]:  # fmt: skip
    """``flower-supernode`` of one hospital: it connects to ``superlink`` and answers with
    fedheme's ClientApp for the site of ``site_config``; ``port``: its local Runtime API."""
    command = [_bin("flower-supernode"), "--superlink", superlink, "--port", str(port), "--isolation", "subprocess",
               "--node-config", f'site-config="{Path(site_config).resolve()}"']  # fmt: skip
    if root_certificates is None:
        check_insecure(superlink)
        command.append("--insecure")
    else:
        command += ["--root-certificates", str(root_certificates)]
    if auth_key is not None:
        command += ["--auth-supernode-private-key", str(auth_key)]
    return command


def pinned_clientapp_bin(folder: Path) -> Path:
    """A folder for the head of a SuperNode's PATH: ``flwr-clientapp`` is
    :mod:`fedheme.network.pinned_clientapp` (the installed fedheme ClientApp, never the
    coordinator's app package), and every other program Flower may start for a task
    (``flwr-agentapp``, ...: Flower's ``TASK_TYPE_TO_COMMAND``, each of which would run
    code from the package) is a stub that refuses."""
    from flwr.supercore.constant import TASK_TYPE_TO_COMMAND

    folder.mkdir(parents=True, exist_ok=True)
    for command in set(TASK_TYPE_TO_COMMAND.values()):
        if command == "flwr-clientapp":
            text = f'#!/bin/sh\nexec "{sys.executable}" -P -m fedheme.network.pinned_clientapp "$@"\n'
        else:
            text = f'#!/bin/sh\necho "fedheme node: refused {command}: a hospital node runs only fedheme\'s ClientApp" >&2\nexit 1\n'
        script = folder / command
        script.write_text(text, encoding="utf-8")
        script.chmod(0o755)
    return folder


def node_environment(state: Path) -> dict[str, str]:
    """The environment of a hospital's SuperNode: Flower's files in the node's state folder
    and the pinned ``flwr-clientapp`` first on its PATH."""
    path = os.pathsep.join([str(pinned_clientapp_bin(state / "bin")), str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "FLWR_HOME": str(state / "flower"), "PATH": path}


#: What ``flower-supernode`` prints when the SuperLink refuses to activate it (Flower's
#: exit code 305; its exit status is 1): its key not registered yet, or its previous
#: session (a node killed and restarted) not yet expired (two missed heartbeats, about a
#: minute).
SUPERNODE_NOT_ACTIVATED = "Exit Code: 305"


def _become_subreaper() -> None:
    """Linux: orphans of this process's descendants become its children (Flower detaches
    its helpers into their own sessions), so it can stop them. Elsewhere: nothing."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _die_with_parent() -> None:
    """Linux: the SuperNode gets SIGKILL when ``fedheme node`` dies, even by SIGKILL (no
    orphaned node keeps serving the site's key and port). Elsewhere: nothing."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop_children(grace: float = 5.0) -> None:
    """Stop every descendant of this process, by PID (SIGTERM, then SIGKILL)."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(children, timeout=grace)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass


def supervise_supernode(command: list[str], env: dict, *, patience: float = 600.0, delay: float = 5.0) -> int:
    """Run a hospital's SuperNode as this process's child until it ends; start it again
    while the SuperLink refuses to activate it (for up to ``patience`` seconds). On
    SIGTERM or SIGINT, and after each run, every process it started is stopped by PID."""
    _become_subreaper()

    def end(signum, _frame):
        _stop_children()
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, end)
    signal.signal(signal.SIGINT, end)
    deadline = time.monotonic() + patience
    while True:
        refused = threading.Event()
        started = time.monotonic()
        node = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                                preexec_fn=_die_with_parent)  # fmt: skip

        def relay(stream=node.stdout, refused=refused):  # its output, watched for a refusal
            for line in stream:
                sys.stdout.write(line)
                sys.stdout.flush()
                if SUPERNODE_NOT_ACTIVATED in line:
                    refused.set()

        reader = threading.Thread(target=relay, daemon=True)
        reader.start()
        code = node.wait()
        _stop_children()  # Flower's helpers left behind by the SuperNode (they hold its output open)
        reader.join(timeout=5)
        if not refused.is_set():
            return code
        if time.monotonic() - started > 60:  # it had been running: a new refusal gets its own patience
            deadline = time.monotonic() + patience
        if time.monotonic() > deadline:
            return code
        print(f"fedheme node: the SuperLink did not activate this node (its key not registered yet, or its previous "
              f"session not yet expired); again in {delay:g} s", file=sys.stderr, flush=True)  # fmt: skip
        time.sleep(delay)


def write_connection(home: Path, name: str, address: str, *, root_certificates: Path | None) -> None:
    """The SuperLink connection ``name`` in ``$FLWR_HOME/config.toml`` (for ``flwr run``)."""
    home.mkdir(parents=True, exist_ok=True)
    lines = ["[superlink]", f'default = "{name}"', "", f"[superlink.{name}]", f'address = "{address}"']
    if root_certificates is None:
        check_insecure(address)
        lines.append("insecure = true")
    else:
        lines.append(f'root-certificates = "{Path(root_certificates).resolve()}"')
    (home / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def start(command: list[str], *, log: Path, env: dict | None = None) -> subprocess.Popen:
    """Start ``command`` in its own session (its PID is its process group's), output to
    ``log``; this environment's scripts first on its PATH (Flower starts its own helpers,
    ``flower-superexec``, by name)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    with open(log, "ab") as handle:
        return subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "PATH": path, **(env or {})})  # fmt: skip


def _family(pid: int) -> dict[int, object]:
    """The process ``pid`` and every descendant, by PID (Flower detaches some of its
    helpers into their own sessions: they are found by parentage, not by group)."""
    import psutil

    try:
        leader = psutil.Process(pid)
        return {p.pid: p for p in [leader, *leader.children(recursive=True)]}
    except psutil.NoSuchProcess:
        return {}


def stop(process: subprocess.Popen, *, grace: float = 10.0) -> None:
    """Stop a process started by :func:`start` and all it started, by their PIDs: SIGTERM
    to its group first (Flower's processes stop their helpers on the way out), SIGKILL to
    whatever of the family is left after ``grace`` seconds."""
    import psutil

    running = process.poll() is None
    family = _family(process.pid) if running else {}
    if running:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while process.poll() is None and time.monotonic() < deadline:
            family.update(_family(process.pid))
            time.sleep(0.1)
    for member in list(family.values()):  # children of the family started meanwhile, too
        try:
            family.update({p.pid: p for p in member.children(recursive=True)})
        except psutil.NoSuchProcess:
            pass
    for member in family.values():
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    if running:
        try:  # its group, while its id cannot have been reused (the leader is not reaped yet)
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def wait_for_port(address: str, *, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    """Wait until something listens on ``address`` (raise if ``process`` dies first)."""
    host, port = split_address(address)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{' '.join(process.args[:1])} ended (exit {process.returncode}) before listening on {address}")
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host.strip("[]"), port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {address} after {timeout:g} s")


def flwr_run(home: Path, connection: str, run_file: Path, *, log: Path) -> int:
    """Submit fedheme's app to the SuperLink of ``connection`` with the run file, stream
    its logs into ``log`` and return ``flwr run``'s exit status."""
    command = [_bin("flwr"), "run", str(APP_DIR), connection, "--run-config", f'run-file="{Path(run_file).resolve()}"', "--stream"]
    with open(log, "ab") as handle:
        return subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, "FLWR_HOME": str(home)}).returncode


def register_nodes(home: Path, connection: str, public_keys: dict[str, Path], *, log: Path, known: dict[int, str] | None = None) -> dict[int, str]:
    """Register each hospital's public key (ECDSA, OpenSSH format) with the SuperLink of
    ``connection`` (node authentication: only these SuperNodes may join); returns the node
    id Flower gives each key -> its site, the only node that may answer for that site.

    Args:
        known: node id -> site registered earlier with this SuperLink (a coordinator
            restarted on its database): a key Flower says is in use keeps its id.
    """
    import json

    earlier = {site: node for node, site in (known or {}).items()}
    nodes = {}
    for site, key in public_keys.items():
        command = [_bin("flwr"), "supernode", "register", str(Path(key).resolve()), connection, "--format", "json"]
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "FLWR_HOME": str(home)})
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(done.stdout + done.stderr)
        try:  # its JSON answer: {"success": true, "node-id": ...}
            answer = json.JSONDecoder().raw_decode(done.stdout[done.stdout.index("{"):])[0]
            nodes[int(answer["node-id"])] = site
        except (ValueError, KeyError) as err:
            if site in earlier and "already in use" in done.stdout + done.stderr:
                nodes[earlier[site]] = site
                continue
            raise RuntimeError(f"could not register the node key {key} of {site} (see {log})") from err
    return nodes


def coordinate_federation(settings, run_file: str | Path) -> Path:
    """``fedheme coordinate``: a SuperLink with TLS (``insecure`` only on the loopback) and,
    off the loopback, node authentication with one key per site; the keys registered, then
    fedheme's app submitted with the run file and followed to its end. Returns the bundle
    written (:class:`fedheme.network.coordinator.CoordinatorSettings` ``settings``).

    Raises:
        CoordinationError: a run file that cannot be run as asked, or a run that did not finish.
    """
    from contextlib import nullcontext

    from fedheme.io import read_json, write_json
    from fedheme.network.coordinator import CoordinationError

    network, here = settings.network, Path(run_file).resolve().parent
    address = str(network.get("superlink", "127.0.0.1:9091"))
    tls = None
    if "ca" in network:
        tls = Tls(here / network["ca"], here / network["certfile"], here / network["keyfile"])
    elif not network.get("insecure", False):
        raise CoordinationError(f"{run_file}: [network] needs ca, certfile and keyfile (TLS) or insecure = true (loopback only)")
    node_keys = {site: here / key for site, key in network.get("node_keys", {}).items()}
    if node_keys and set(node_keys) != set(settings.sites):
        raise CoordinationError(f"{run_file}: [network.node_keys] needs one key for every site of the run, {list(settings.sites)}")
    if not node_keys and split_address(address)[0] not in LOOPBACK:
        raise CoordinationError(f"{run_file}: beyond this machine's loopback, node authentication is required "
                                "([network.node_keys], one public key per site): else any holder of the CA could answer for a site")  # fmt: skip
    home = settings.out / "flower"
    write_connection(home, "fedheme", address, root_certificates=None if tls is None else tls.ca)
    known = {int(k): v for k, v in read_json(settings.nodes_file).items()} if settings.nodes_file.exists() else None
    if not node_keys:
        settings.nodes_file.unlink(missing_ok=True)
    bundle = settings.out / "models.pt"
    bundle.unlink(missing_ok=True)  # written again only by a run that finishes
    log = home / "run.log"
    # stopped by its PID (SIGTERM), the coordinator still stops its SuperLink on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    superlink = Federation(address, home, tls, node_auth=bool(node_keys))
    with superlink if network.get("start_superlink", True) else nullcontext():
        print(f"fedheme coordinate: SuperLink on {address}; waiting for the nodes of {list(settings.sites)}; log {log}", flush=True)
        if node_keys:  # node authentication: only the SuperNodes of these keys may join, each for its site
            nodes = register_nodes(home, "fedheme", node_keys, log=log, known=known)
            write_json(settings.nodes_file, {str(node): site for node, site in nodes.items()})
        print("fedheme coordinate: ready for the nodes", flush=True)
        code = flwr_run(home, "fedheme", Path(run_file), log=log)
    if code != 0 or not bundle.exists():
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise CoordinationError(f"the run did not finish (flwr run exit {code}); last lines of {log}:\n{tail}")
    return bundle


@dataclass
class Federation:
    """A coordinator's SuperLink while its runs go (``fedheme coordinate``)."""

    address: str
    home: Path
    tls: Tls | None = None
    node_auth: bool = False
    process: subprocess.Popen | None = None

    def __enter__(self) -> "Federation":
        command = superlink_command(self.address, database=self.home / "superlink.db", tls=self.tls, node_auth=self.node_auth)
        self.process = start(command, log=self.home / "superlink.log", env={"FLWR_HOME": str(self.home)})
        (self.home / "superlink.pid").write_text(f"{self.process.pid}\n")
        try:
            wait_for_port(self.address, process=self.process)
        except BaseException:
            stop(self.process)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            stop(self.process)
