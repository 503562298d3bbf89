"""Data-parallel training with torch.distributed: one process per GPU (NCCL) or per CPU worker (gloo).

A run started by ``torchrun`` (or ``edgevision train eye --nproc N``, which starts it) sees ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK`` in its environment. Every rank draws the same global batch and augmentation
parameters from the epoch's generator and takes its own contiguous share of the sequences; gradients are
averaged by :class:`torch.nn.parallel.DistributedDataParallel`; batch-norm statistics and the loss's open-frame
count are reduced over all ranks, so N processes compute the gradient of the same global batch as one.
Rank 0 alone writes checkpoints, logs and plots.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn

from edgevision.errors import ConfigError


@dataclass(frozen=True)
class World:
    """This process's place in the run: ``rank`` of ``size`` processes, training on ``device``."""

    rank: int = 0
    size: int = 1
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0

    def share(self, batch_size: int) -> slice:
        """Rows of a global batch that this rank trains on."""
        per = batch_size // self.size
        return slice(self.rank * per, (self.rank + 1) * per)

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        """Sum over ranks (no gradient)."""
        if self.size > 1:
            value = value.clone()
            dist.all_reduce(value)
        return value


def join(device: str, batch_size: int) -> World:
    """The process group of a ``torchrun`` launch (or a single process): NCCL on CUDA, gloo on CPU."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World(0, 1, device)
    if batch_size % size:
        raise ConfigError(f"train.batch_size {batch_size} must be divisible by the {size} processes")
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return World(rank, size, device)


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks whose gradient is the sum over ranks of the incoming gradients."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm over the active sites of all ranks (CPU and GPU; torch's SyncBatchNorm is GPU-only); inputs
    [N, C] or [N, C, L].

    Same parameters and buffers as :class:`torch.nn.BatchNorm1d`, so checkpoints do not change. Training
    statistics: mean = all-reduced sum / all-reduced count, then the variance from the all-reduced squared
    deviations (two passes, as a single process computes it); the reductions carry gradients."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        if x.dim() == 3:  # [N, C, L] (Conv1d activations): statistics over N and L, as BatchNorm1d takes them
            b, c, length = x.shape
            return self.forward(x.transpose(1, 2).reshape(-1, c)).reshape(b, length, c).transpose(1, 2)
        n = _AllReduceSum.apply(x.new_tensor(float(x.shape[0])))
        mean = _AllReduceSum.apply(x.sum(0)) / n
        var = _AllReduceSum.apply(((x - mean) ** 2).sum(0)) / n
        with torch.no_grad():
            self.num_batches_tracked += 1
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean)
            self.running_var.mul_(1 - m).add_(m * var * n / (n - 1).clamp(min=1))
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


def globalize_batchnorm(model: nn.Module) -> nn.Module:
    """Swap every BatchNorm1d of ``model`` for :class:`GlobalBatchNorm1d` in place (weights kept)."""
    for name, child in model.named_children():
        if type(child) is nn.BatchNorm1d:
            g = GlobalBatchNorm1d(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
            g.load_state_dict(child.state_dict())
            setattr(model, name, g.to(child.weight.device))
        else:
            globalize_batchnorm(child)
    return model


def torchrun_argv(nproc: int, argv: list[str]) -> list[str]:
    """The command that runs ``edgevision <argv>`` as ``nproc`` local processes under torch.distributed.run."""
    if nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {nproc}")
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "edgevision", *argv]
