"""Per-patient gradients of networks made only of ``nn.Linear`` layers, for Opacus'
``DPOptimizer``, without its per-module backward hooks.

For a linear layer ``y = x W^T (+ b)`` the gradient of patient i's loss with respect to
``W`` is the outer product of ``dL_i/dy_i`` and ``x_i`` (summed over the patient's rows
when the layer sees several, as the treatment term's per-bin coding does). It needs only
the gradient of the loss with respect to each layer's output, which one
``torch.autograd.grad`` call gives for every layer at once. From there the per-patient
gradients are computed by Opacus' own grad sampler for ``nn.Linear``
(:func:`opacus.grad_sample.linear.compute_linear_grad_sample`), from the very tensors its
hooks would pass it, so they equal GradSampleModule's bit for bit (tested), and Opacus'
``DPOptimizer`` clips, noises and accounts them as it always does.

What changes is only how the output gradients reach the sampler: GradSampleModule wraps
every module in backward hooks whose Python bookkeeping costs more than the linear model's
whole step (``bench/dp_overhead.py``: a DP epoch 3.0 times a plain one with hooks, 1.96
times with this, at batch 64). Networks with any other module (the MLP's LayerNorm and
ReLU) keep GradSampleModule (:func:`supports`). Like GradSampleModule, this relies on the
network's own code not mixing patients (the loss is a sum of per-patient terms); the
layers' outputs must not be changed in place after the layer (checked).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from opacus.grad_sample.linear import compute_linear_grad_sample
from torch import nn

__all__ = ["LinearGradSampler", "supports"]


def supports(model: nn.Module) -> bool:
    """Whether every leaf module of ``model`` is an ``nn.Linear`` (not a subclass), and
    every parameter belongs to one (the linear models)."""
    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    owners = [m for m in model.modules() if any(True for _ in m.parameters(recurse=False))]
    return bool(leaves) and all(type(m) is nn.Linear for m in leaves) and all(type(m) is nn.Linear for m in owners)


class LinearGradSampler:
    """Sets ``p.grad_sample`` (shape ``(batch, *p.shape)``) for every parameter of a model
    made of ``nn.Linear`` layers, from one backward pass to the layers' outputs.

    Usage, one step::

        with sampler.recording():
            loss = per_patient_loss(model(x), ...).sum()   # a sum over patients
        sampler.backward(loss)                             # p.grad_sample for every p
        dp_optimizer.step()                                # Opacus clips, noises, steps

    Args:
        model: the network (:func:`supports` must hold); its layers get forward hooks
            that record their input and output only inside :meth:`recording`.
    """

    def __init__(self, model: nn.Module):
        if not supports(model):
            raise ValueError(f"{type(model).__name__} has modules other than nn.Linear layers: use Opacus' GradSampleModule")
        # layers with a trainable parameter (a frozen one has no per-sample gradient to give)
        self.layers = [m for m in model.modules() if type(m) is nn.Linear and any(p.requires_grad for p in m.parameters())]
        self.parameters = [p for m in self.layers for p in m.parameters(recurse=False) if p.requires_grad]
        self._recording = False
        self._seen: list[tuple[nn.Linear, torch.Tensor, torch.Tensor, int]] = []
        self._handles = [layer.register_forward_hook(self._record) for layer in self.layers]

    def _record(self, layer: nn.Linear, inputs: tuple, output: torch.Tensor) -> None:
        if self._recording and torch.is_grad_enabled():
            self._seen.append((layer, inputs[0].detach(), output, output._version))

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """Record the layers' inputs and outputs of the forward passes inside."""
        self._seen = []
        self._recording = True
        try:
            yield
        finally:
            self._recording = False

    def backward(self, loss: torch.Tensor) -> None:
        """Per-patient gradients of ``loss`` (a sum over patients, so that row i of a layer's
        output gradient is patient i's alone) into ``p.grad_sample``; ``p.grad`` is left
        to the DP optimizer."""
        seen, self._seen = self._seen, []
        if not seen:
            raise RuntimeError("no layer ran inside recording(): nothing to differentiate")
        changed = [type(layer).__name__ for layer, _, output, version in seen if output._version != version]
        if changed:  # the gradient would be taken at the changed value, not the layer's output
            raise RuntimeError(f"the output of {changed} was changed in place after the layer: per-sample gradients would be wrong")
        backprops = torch.autograd.grad(loss, [output for _, _, output, _ in seen])
        for parameter in self.parameters:
            parameter.grad_sample = None
        for (layer, activations, _, _), grad_output in zip(seen, backprops):
            for parameter, sample in compute_linear_grad_sample(layer, [activations], grad_output.detach()).items():
                previous = parameter.grad_sample
                parameter.grad_sample = sample if previous is None else previous + sample
        missing = [i for i, p in enumerate(self.parameters) if p.grad_sample is None]
        if missing:  # a DPOptimizer step without them would not be private
            raise RuntimeError(f"parameters {missing} got no per-sample gradient: did every layer run inside recording()?")

    def remove(self) -> None:
        """Detach the forward hooks from the model."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
