"""A hospital's Flower ClientApp (site side): each message is answered by the hospital's
:class:`fedheme.network.node.SiteNode`, whose settings file comes in the SuperNode's node
config (``site-config``): ``query.hello``, ``query.release`` and ``train``.

A refusal goes back as the node's own message (:class:`~fedheme.network.node.NodeError`:
it names no patient value); any other failure only as "internal error", its details in the
node's log, since an exception's text may quote data.
"""

from __future__ import annotations

import functools
import sys
import traceback

from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from fedheme.network.messages import decode, encode
from fedheme.network.study import NetworkRun

client_app = ClientApp()


def _node(context: Context):
    from fedheme.network.node import NodeSettings, SiteNode

    return SiteNode(NodeSettings.read(str(context.node_config["site-config"])))


def _guarded(handler):
    """Answer with the handler's reply; re-raise a refusal as is, anything else as a bare
    'internal error' (the traceback goes to the node's own log)."""

    @functools.wraps(handler)
    def wrapper(message: Message, context: Context) -> Message:
        from fedheme.network.node import NodeError

        try:
            return handler(message, context)
        except NodeError:
            raise
        except Exception:
            traceback.print_exc(file=sys.stderr)
            raise NodeError("internal error at the node (its log has the details)") from None

    return wrapper


@client_app.query("hello")
@_guarded
def _hello(message: Message, context: Context) -> Message:
    return Message(encode(_node(context).hello()), reply_to=message)


@client_app.query("release")
@_guarded
def _release(message: Message, context: Context) -> Message:
    body, _ = decode(message.content)
    return Message(encode(_node(context).release(NetworkRun.from_dict(body["run"]))), reply_to=message)


@client_app.train()
@_guarded
def _train(message: Message, context: Context) -> Message:
    body, weights = decode(message.content)
    new_weights, reply = _node(context).train(NetworkRun.from_dict(body["run"]), body["stats"], weights, int(body["round"]))
    return Message(encode(reply, new_weights), reply_to=message)
