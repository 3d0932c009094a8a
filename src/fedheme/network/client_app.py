"""A hospital's Flower ClientApp (site side): each message is answered by the hospital's
:class:`fedheme.network.node.SiteNode`, whose settings file comes in the SuperNode's node
config (``site-config``): ``query.hello``, ``query.release`` and ``train``."""

from __future__ import annotations

from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from fedheme.network.messages import decode, encode
from fedheme.network.study import NetworkRun

client_app = ClientApp()


def _node(context: Context):
    from fedheme.network.node import NodeSettings, SiteNode

    return SiteNode(NodeSettings.read(str(context.node_config["site-config"])))


@client_app.query("hello")
def _hello(message: Message, context: Context) -> Message:
    return Message(encode(_node(context).hello()), reply_to=message)


@client_app.query("release")
def _release(message: Message, context: Context) -> Message:
    body, _ = decode(message.content)
    return Message(encode(_node(context).release(NetworkRun.from_dict(body["run"]))), reply_to=message)


@client_app.train()
def _train(message: Message, context: Context) -> Message:
    body, weights = decode(message.content)
    new_weights, reply = _node(context).train(NetworkRun.from_dict(body["run"]), body["stats"], weights, int(body["round"]))
    return Message(encode(reply, new_weights), reply_to=message)
