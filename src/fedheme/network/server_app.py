"""The coordinator's Flower ServerApp (across sites): :func:`fedheme.network.coordinator.coordinate`
over Flower's Grid (the run file comes in the run config, ``run-file``).

FedAvg, FedProx and FedAdam are the pipeline's (:func:`fedheme.federated.server.run_rounds`),
not Flower's strategies, so that a networked run equals the simulated one; Flower's DP
wrappers protect whole clients and its Opacus example restarts the accountant every round,
while each node here keeps one accountant over every round and release
(:mod:`fedheme.network.node`).
"""

from __future__ import annotations

import sys
import time

from flwr.app import Context, Message
from flwr.serverapp import Grid, ServerApp

from fedheme.network.messages import decode, encode

#: Flower's error codes that say a message or node was lost (send again), not that the
#: node refused (``flwr.common.constant.ErrorCode``).
TRANSIENT_ERRORS = {3, 4, 5, 8}  # MESSAGE_UNAVAILABLE, REPLY_MESSAGE_UNAVAILABLE, NODE_UNAVAILABLE, CLIENT_APP_CRASHED


class FlowerTransport:
    """Requests to the sites' nodes through a Flower Grid, robust to nodes that restart.

    Nodes say which site they serve (``query.hello``) when first seen; with node
    authentication (``nodes``: the id Flower gave each registered key -> its site) a node
    may answer only for its own site, otherwise the newest node claiming a site serves it.
    A request is sent again when its site's node changes (a restarted node without a
    registered key registers anew), ``retry_after`` seconds after Flower said the message
    or node was lost, or after ``resend_after`` seconds without a reply; a node answers a
    repeated request from its state, without training again. A node's refusal stops the
    run with its reason.

    Args:
        grid: Flower's Grid of the run.
        nodes: node id -> site of the registered nodes (None: no node authentication).
        timeout: seconds to wait for every site's reply to one request.
        resend_after: seconds before a request without reply is sent again.
    """

    def __init__(self, grid: Grid, *, nodes: dict[int, str] | None = None, timeout: float = 1800.0, resend_after: float = 600.0,
                 retry_after: float = 10.0, poll: float = 0.2):  # fmt: skip
        self.grid = grid
        self.registered = nodes
        self.timeout, self.resend_after, self.retry_after, self.poll = timeout, resend_after, retry_after, poll
        self.node_of: dict[str, int] = {}
        self._hellos: dict[str, int] = {}  # message id -> node id
        self._greeted: dict[int, float] = {}  # node id -> when greeted
        self._failed: set[int] = set()  # nodes to greet again (after retry_after)

    def _greet_new_nodes(self, now: float) -> None:
        new = [n for n in self.grid.get_node_ids()
               if n not in self._greeted or (n in self._failed and now - self._greeted[n] > self.retry_after)]  # fmt: skip
        self._failed -= set(new)
        if new:
            messages = [Message(encode({}), dst_node_id=n, message_type="query.hello") for n in new]
            for node, message_id in zip(new, self.grid.push_messages(messages)):
                self._hellos[message_id] = node
                self._greeted[node] = now

    def _hello(self, node: int, reply: Message, now: float) -> None:
        if reply.has_error():  # greet it again later
            self._failed.add(node)
            return
        try:
            site = decode(reply.content)[0].get("site")
        except (KeyError, TypeError, ValueError):  # not a fedheme node's answer
            self._failed.add(node)
            return
        if self.registered is not None and self.registered.get(node) != site:
            print(f"fedheme: node {node} claims site {site!r} but its key is registered for {self.registered.get(node)!r}; ignored",
                  file=sys.stderr)  # fmt: skip
            return
        self.node_of[site] = node

    def ask(self, kind: str, requests: dict[str, tuple[dict, dict | None]]) -> dict[str, tuple[dict, dict | None]]:
        message_type = "train" if kind == "train" else f"query.{kind}"
        answers: dict[str, tuple[dict, dict | None]] = {}
        sent: dict[str, str] = {}  # message id -> site
        last: dict[str, tuple[int, float]] = {}  # site -> (node, when sent)
        deadline = time.monotonic() + self.timeout
        while len(answers) < len(requests):
            now = time.monotonic()
            if now > deadline:
                waiting = sorted(set(requests) - set(answers))
                raise TimeoutError(f"no reply to {kind} from {waiting} in {self.timeout:g} s (sites seen: {sorted(self.node_of)})")
            self._greet_new_nodes(now)
            for site, (body, weights) in requests.items():
                node = self.node_of.get(site)
                if site in answers or node is None:
                    continue
                if site not in last or last[site][0] != node or now - last[site][1] > self.resend_after:
                    message = Message(encode(body, weights), dst_node_id=node, message_type=message_type)
                    (message_id,) = self.grid.push_messages([message])
                    sent[message_id] = site
                    last[site] = (node, now)
            for reply in self.grid.pull_messages(list(sent) + list(self._hellos)):
                replied_to = reply.metadata.reply_to_message_id
                if replied_to in self._hellos:
                    self._hello(self._hellos.pop(replied_to), reply, now)
                    continue
                site = sent.pop(replied_to, None)
                if site is None or site in answers:
                    continue
                if reply.has_error():
                    if reply.error.code in TRANSIENT_ERRORS:  # lost: greet its node again, send again soon
                        self._failed.add(last[site][0])
                        last[site] = (last[site][0], now - self.resend_after + self.retry_after)
                        continue
                    raise RuntimeError(f"site {site} refused {kind}: {reply.error.reason}")
                answers[site] = decode(reply.content)
            time.sleep(self.poll)
        return answers


server_app = ServerApp()


@server_app.main()
def _coordinate(grid: Grid, context: Context) -> None:
    from fedheme.io import read_json
    from fedheme.network.coordinator import CoordinatorSettings, coordinate

    settings = CoordinatorSettings.read(str(context.run_config["run-file"]))
    nodes = {int(k): v for k, v in read_json(settings.nodes_file).items()} if settings.nodes_file.exists() else None
    transport = FlowerTransport(grid, nodes=nodes, timeout=float(settings.network.get("round_timeout", 1800.0)),
                                resend_after=float(settings.network.get("resend_after", 600.0)))  # fmt: skip
    coordinate(transport, settings)
