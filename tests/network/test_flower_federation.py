"""A real networked federation on this machine's loopback: a SuperLink and three
SuperNodes as separate processes (Flower 1.41), over TLS, each node with its own data
folder, train DP-FedAvg at epsilon = 3 on the small test config. The final weights equal
the pipeline's in-process run with the same keys and seeds, each node's ledger equals the
pipeline's rows for its site, a node killed mid-run and restarted resumes with its
accountant intact, no node installs or runs the coordinator's app package, and every
process the test started is stopped by its PID. Node authentication: keys registered with
a real SuperLink, each bound to its site.

(With node authentication a killed node may rejoin only once Flower has marked its
session offline, two missed heartbeats: about a minute, which ``fedheme node`` waits out.
The kill-and-restart run goes without it to keep CI short; the same run with it passes in
about 4.5 minutes.)"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import psutil
import pytest
import torch
from network_sites import (ENDPOINT, FOLD, TRAINING_SITES, federation_certificates, max_difference, node_folders, pipeline_run,
                           run_file)  # fmt: skip

from fedheme.federated.server import present_sites
from fedheme.models.bundle import load_bundle
from fedheme.network.node import NodeSettings, SiteNode
from fedheme.network.messages import encode
from fedheme.network.processes import Federation, Tls, register_nodes, start, stop, wait_for_port, write_connection
from fedheme.network import server_app
from fedheme.network.study import NetworkRun, load_study_config

TRAINING = f"results/mds/training/{ENDPOINT}/{FOLD}"
RUN = NetworkRun("mds", ENDPOINT, FOLD, "fedavg", 3.0, 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kill_hard(process) -> list[int]:
    """SIGKILL a node and everything it started (no chance to clean up); their PIDs."""
    leader = psutil.Process(process.pid)
    family = [leader, *leader.children(recursive=True)]
    leader.suspend()  # it starts nothing more while its family is collected
    family += [p for p in leader.children(recursive=True) if p not in family]
    for member in family:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=10)
    process.wait()
    return [p.pid for p in family]


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_flower_federation_of_three_nodes_trains_the_pipelines_run(small_run, tmp_path):
    nodes = node_folders(small_run, tmp_path / "nodes")
    superlink = f"127.0.0.1:{free_port()}"
    runs = [{"strategy": RUN.strategy, "epsilon": RUN.epsilon, "seed": RUN.seed}]
    tls = federation_certificates(tmp_path / "certificates")
    network = {"superlink": superlink, "ca": tls["ca"], "certfile": tls["certfile"], "keyfile": tls["keyfile"], "round_timeout": 300.0,
               "resend_after": 20.0}  # fmt: skip
    config_file = run_file(tmp_path / "run.toml", runs, network=network)
    python = [sys.executable, "-m", "fedheme.cli"]
    started: list = []
    node_command = {site: python + ["node", "--site", str(path), "--superlink", superlink, "--root-certificates", str(tls["ca"]),
                                    "--port", str(free_port())]
                    for site, path in nodes.items()}  # fmt: skip
    # the node to kill: one that trains after its second round
    config = RUN.train_config(load_study_config([p for p in NodeSettings.read(nodes["siteB"]).study_config]))
    rounds_of = {s: [r for r in range(1, config.rounds + 1) if s in present_sites(TRAINING_SITES, config, r)] for s in TRAINING_SITES}
    victim = max(TRAINING_SITES, key=lambda s: len(rounds_of[s]))
    assert len(rounds_of[victim]) >= 3
    state_file = SiteNode(NodeSettings.read(nodes[victim]))._state_file(RUN)
    killed, killed_at = [], None
    try:
        coordinator = start(python + ["coordinate", "--config", str(config_file)], log=tmp_path / "coordinator.log")
        started.append(coordinator)
        wait_for_port(superlink, process=coordinator, timeout=120)
        ready = time.monotonic() + 120  # the nodes' keys are registered
        while "ready for the nodes" not in (tmp_path / "coordinator.log").read_text() and time.monotonic() < ready:
            assert coordinator.poll() is None, (tmp_path / "coordinator.log").read_text()
            time.sleep(0.2)
        processes = {site: start(command, log=tmp_path / f"{site}.log") for site, command in node_command.items()}
        started += list(processes.values())
        deadline = time.monotonic() + 600
        while coordinator.poll() is None and time.monotonic() < deadline:
            if killed_at is None and state_file.exists() and torch.load(state_file, weights_only=False)["round"] >= rounds_of[victim][1]:
                killed_at = torch.load(state_file, weights_only=False)["round"]
                killed = kill_hard(processes[victim])
                assert not any(alive(pid) for pid in killed)
                processes[victim] = start(node_command[victim], log=tmp_path / f"{victim}.restarted.log")
                started.append(processes[victim])
            time.sleep(0.2)
        log = (tmp_path / "coordinator.log").read_text()
        assert coordinator.returncode == 0, log[-3000:] + (tmp_path / "out" / "flower" / "run.log").read_text()[-3000:]
    finally:
        superlink_pid = tmp_path / "out" / "flower" / "superlink.pid"
        for process in reversed(started):
            stop(process)
    # every process started, and the SuperLink the coordinator started, is gone
    assert not [p.pid for p in started if alive(p.pid)]
    assert not alive(int(superlink_pid.read_text()))
    assert killed_at is not None and killed_at < config.rounds, "the node was not killed mid-run"
    assert "train message" in (tmp_path / f"{victim}.restarted.log").read_text(), "the restarted node trained no round"
    # the nodes ran the installed fedheme ClientApp: the coordinator's app package never installed
    for path in nodes.values():
        assert not list((NodeSettings.read(path).state / "flower" / "apps").glob("*"))

    # the weights of the pipeline's in-process run with the same keys and seeds
    ours = load_bundle(tmp_path / "out" / "models.pt")
    reference = load_bundle(small_run / TRAINING / "models.pt")
    (run,) = ours["runs"]
    assert max_difference(run["weights"], pipeline_run(reference, "fedavg", "3", 1)["weights"]) <= 1e-6
    # each node's ledger (the killed one's too: its accountant went on where it stopped)
    pipeline = pd.read_csv(small_run / TRAINING / "ledger.tsv", sep="\t", dtype=str)
    pipeline = pipeline[pipeline["run"] == f"{RUN.name}_federation"]
    for site, path in nodes.items():
        own = pd.read_csv(SiteNode(NodeSettings.read(path)).ledger_file(RUN), sep="\t", dtype=str)
        theirs = pipeline[pipeline["site"] == site].reset_index(drop=True)
        pd.testing.assert_frame_equal(own, theirs)
        assert torch.load(SiteNode(NodeSettings.read(path))._state_file(RUN), weights_only=False)["round"] == rounds_of[site][-1]
    coordinator_ledger = pd.read_csv(tmp_path / "out" / "ledger.tsv", sep="\t")
    assert len(coordinator_ledger) == len(pipeline)


class FakeMessage:
    """Flower's Message as the transport builds and reads it (outside a Flower run)."""

    def __init__(self, content, *, dst_node_id=0, message_type="", reply_to_message_id=""):
        self.content = content
        self.metadata = SimpleNamespace(dst_node_id=dst_node_id, message_type=message_type, reply_to_message_id=reply_to_message_id)

    def has_error(self) -> bool:
        return False


class FakeGrid:
    """Flower's Grid as the transport uses it: nodes that answer ``hello`` with a site."""

    def __init__(self, claims: dict[int, str]):
        self.claims, self.replies = claims, {}

    def get_node_ids(self):
        return list(self.claims)

    def push_messages(self, messages):
        ids = []
        for message in messages:
            message_id = f"m{len(self.replies)}-{message.metadata.dst_node_id}-{time.monotonic_ns()}"
            node = message.metadata.dst_node_id
            body = {"site": self.claims[node]} if message.metadata.message_type == "query.hello" else {"answered_by": node}
            self.replies[message_id] = FakeMessage(encode(body), reply_to_message_id=message_id)
            ids.append(message_id)
        return ids

    def pull_messages(self, message_ids):
        return [self.replies.pop(m) for m in list(message_ids) if m in self.replies]


def test_node_keys_register_with_a_superlink_and_each_node_answers_only_for_its_site(tmp_path, monkeypatch):
    tls = federation_certificates(tmp_path / "certificates", sites=["siteB", "siteC"])
    home, address = tmp_path / "flower", f"127.0.0.1:{free_port()}"
    write_connection(home, "fedheme", address, root_certificates=tls["ca"])
    with Federation(address, home, Tls(tls["ca"], tls["certfile"], tls["keyfile"]), node_auth=True) as federation:
        nodes = register_nodes(home, "fedheme", tls["node_keys"], log=home / "register.log")
        pid = federation.process.pid
    assert sorted(nodes.values()) == ["siteB", "siteC"] and len(set(nodes)) == 2
    assert not alive(pid)
    node_b, node_c = sorted(nodes, key=nodes.get)
    # a registered node claiming another site's name, and an unregistered node, are ignored
    monkeypatch.setattr(server_app, "Message", FakeMessage)
    grid = FakeGrid({node_b: "siteB", node_c: "siteB", 12345: "siteC"})
    transport = server_app.FlowerTransport(grid, nodes=nodes, timeout=2.0, poll=0.01)
    assert transport.ask("release", {"siteB": ({}, None)})["siteB"][0] == {"answered_by": node_b}
    assert transport.node_of == {"siteB": node_b}
    with pytest.raises(TimeoutError, match="siteC"):
        transport.ask("release", {"siteC": ({}, None)})


def test_a_node_runs_no_program_of_the_coordinators_app_package(tmp_path):
    """Flower starts a task's program by name from the SuperNode's PATH: fedheme's pinned
    ClientApp for ``flwr-clientapp``, a refusing stub for every other task type (an
    ``agentapp`` package would otherwise be installed and imported); the pinned runtime
    installs neither the package nor its dependencies and loads the installed ClientApp."""
    import subprocess
    from types import ModuleType

    from flwr.supercore.constant import TASK_TYPE_TO_COMMAND

    from fedheme.network.client_app import client_app
    from fedheme.network.pinned_clientapp import pin
    from fedheme.network.processes import node_environment

    env = node_environment(tmp_path / "state")
    first = env["PATH"].split(":")[0]
    for command in set(TASK_TYPE_TO_COMMAND.values()) - {"flwr-clientapp"}:
        done = subprocess.run([command], env=env, capture_output=True, text=True)
        assert done.returncode != 0 and "refused" in done.stderr, command
    assert (tmp_path / "state" / "bin" / "flwr-clientapp").parent == Path(first)
    runtime = ModuleType("runtime")
    pin(runtime)
    assert runtime.install_from_fab(b"any package") is None
    with pytest.raises(RuntimeError, match="no dependencies"):
        runtime.install_app_dependencies("app", launch_id="x")
    assert runtime.get_load_client_app_fn(default_app_ref="evil:app")("fab-id", "1.0", "hash") is client_app


def test_the_coordinator_requires_a_key_per_site_beyond_the_loopback(tmp_path):
    from fedheme.network.coordinator import CoordinationError, CoordinatorSettings
    from fedheme.network.processes import coordinate_federation

    tls = federation_certificates(tmp_path / "certificates")
    base = {"ca": tls["ca"], "certfile": tls["certfile"], "keyfile": tls["keyfile"]}
    cases = [
        ({"superlink": "192.0.2.1:9091", **base}, "node authentication is required"),
        ({"superlink": "127.0.0.1:9091", **base, "node_keys": {"siteB": tls["node_keys"]["siteB"]}}, "one key for every site"),
        ({"superlink": "192.0.2.1:9091", "insecure": True}, "loopback"),
        ({"superlink": "127.0.0.1:9091"}, "needs ca, certfile and keyfile"),
    ]
    for network, reason in cases:
        path = run_file(tmp_path / "run.toml", [{"strategy": "fedavg", "epsilon": 3.0, "seed": 1}], network=network)
        with pytest.raises((CoordinationError, ValueError), match=reason):
            coordinate_federation(CoordinatorSettings.read(path), path)
