"""The messages of the networked federation (public format): a JSON body (a ConfigRecord
``body``) and, for training, the weights (an ArrayRecord ``weights``: tensors bit for bit)."""

from __future__ import annotations

import json

from flwr.app import ArrayRecord, ConfigRecord, RecordDict


def encode(body: dict, weights: dict | None = None) -> RecordDict:
    """A message's content: ``body`` (JSON-able; infinities as JSON's ``Infinity``) and
    ``weights`` (name -> tensor), if any."""
    records = {"body": ConfigRecord({"json": json.dumps(body)})}
    if weights is not None:
        records["weights"] = ArrayRecord(torch_state_dict={k: v.detach().cpu() for k, v in weights.items()})
    return RecordDict(records)


def decode(content: RecordDict) -> tuple[dict, dict | None]:
    """(body, weights or None) of a message's content (:func:`encode`'s inverse)."""
    body = json.loads(str(content["body"]["json"]))
    if "weights" not in content:
        return body, None
    import torch  # noqa: F401  (Flower converts to tensors only once torch is imported)

    return body, dict(content["weights"].to_torch_state_dict())
