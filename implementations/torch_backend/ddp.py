"""``torch:<device>@ddp<N>``: ``DistributedDataParallel`` over ``torch.distributed``.

The way PyTorch users run it: ``torch.multiprocessing`` (``spawn``) starts one process per
rank (:class:`harness.workers.WorkerGroup`, kept alive between runs), each joins the
process group -- ``gloo`` on the CPU, ``nccl`` on CUDA (rank ``r`` on ``cuda:r``) -- through
a ``TCPStore`` that the parent serves on ``127.0.0.1`` port 0 (the OS picks a free port,
so two runs at once never collide), with gloo / NCCL told to use the loopback interface.

Each run wraps the workload's ``nn.Sequential`` in ``DistributedDataParallel`` and trains
rank ``r`` on its shard of every step (:func:`harness.parallel.shard`): the loss is the
sum over the local rows divided by the *global* batch size, and a DDP communication hook
all-reduces the gradient buckets with a SUM (DDP's default divides by the world size,
which is the global mean only when every shard has the same size). The per-step losses
are all-reduced (SUM) once per epoch into the global batch loss. Rank 0 evaluates after
each epoch, outside the timed region.

:class:`Recipe` holds the per-rank choices (which rows, which loss, which reduction) as
overridable methods; the broken data-parallel targets of the test suite subclass it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np

from harness import parallel, workers
from harness.contract import DeviceStatus, History, Unsupported
from harness.workload import Workload

SCHEME = "ddp"
_GROUPS: dict[Any, workers.WorkerGroup] = {}


class Recipe:
    """How each rank trains (the correct rules; subclasses break one)."""

    reduce = "sum"
    """``sum``: the SUM communication hook; ``avg``: DDP's default mean over ranks."""

    def batches(self, workload: Workload) -> list[list[np.ndarray]]:
        """The global batch order every rank walks through."""
        return workload.batches

    def shard(self, rows: np.ndarray, rank: int, world_size: int) -> np.ndarray:
        """This rank's rows of one step."""
        return parallel.shard(rows, rank, world_size)

    def local_loss(self, loss_sum: Any, n_local: int, n_global: int) -> Any:
        """The loss this rank backpropagates, from the sum of its rows' losses."""
        return loss_sum / n_global

    def logged_loss(self, loss_sum: Any, n_local: int, n_global: int) -> Any:
        """This rank's part of the logged loss (the parts are summed over ranks)."""
        return loss_sum.detach() / n_global

    def ignored(self, names: list[str]) -> list[str]:
        """Parameters DDP must not synchronize (none)."""
        return []

    def before_step(self, rank: int, step: int) -> None:
        """Called on every rank before each step (fault-injection point for tests)."""


def status(device: str, world_size: int) -> DeviceStatus:
    """Whether ``world_size`` DDP ranks can run on ``device`` (``cpu`` or ``cuda``)."""
    import torch
    import torch.distributed as dist

    name = parallel.dp_device(device, SCHEME, world_size)
    if world_size < 1:
        return DeviceStatus(name, False, "the world size must be at least 1")
    if not dist.is_available():
        return DeviceStatus(name, False, "torch.distributed is not available in this build")
    if device == "cpu":
        if not dist.is_gloo_available():
            return DeviceStatus(name, False, "torch.distributed has no gloo backend")
        return DeviceStatus(name, True)
    if device == "cuda":
        if not dist.is_nccl_available():
            return DeviceStatus(name, False, "torch.distributed has no nccl backend")
        n = torch.cuda.device_count()
        if n < world_size:
            return DeviceStatus(name, False, f"{world_size} ranks need {world_size} GPUs; {n} seen")
        return DeviceStatus(name, True)
    return DeviceStatus(name, False, f"unknown torch device {device!r}; valid: cpu, cuda")


class _Rank:
    """A worker's state: its rank in the joined process group."""

    def __init__(self, device: str) -> None:
        self.device = device

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def _join(rank: int, world_size: int, port: int, device: str, threads: int, timeout: float):
    """Worker start-up: join the process group through the parent's store."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(threads)
    store = dist.TCPStore(
        "127.0.0.1", port, world_size, is_master=False, timeout=timedelta(seconds=timeout)
    )
    if device == "cuda":
        torch.cuda.set_device(rank)
    dist.init_process_group(
        "nccl" if device == "cuda" else "gloo",
        store=store,
        rank=rank,
        world_size=world_size,
        timeout=timedelta(seconds=timeout),
    )
    return _Rank(f"cuda:{rank}" if device == "cuda" else "cpu")


def _sum_hook(state, bucket):
    """A DDP communication hook: all-reduce the bucket with a SUM (no division).

    Unannotated on purpose: DDP checks a hook's annotations against ``dist.GradBucket``
    and this module's postponed (string) annotations would not match.
    """
    import torch.distributed as dist

    workers.mark(state[0], waiting=True)  # state: [current step], for hang reports
    fut = dist.all_reduce(bucket.buffer(), async_op=True).get_future()
    return fut.then(lambda f: f.value()[0])


def _wrap(model: Any, recipe: Recipe, device: str, step: list[int]) -> Any:
    from torch.nn.parallel import DistributedDataParallel as DDP

    names = [n for n, _ in model.named_parameters()]
    ignored = recipe.ignored(names)
    if ignored:
        DDP._set_params_and_buffers_to_ignore_for_model(model, ignored)
    ids = [int(device.split(":")[1])] if device.startswith("cuda") else None
    ddp = DDP(model, device_ids=ids)
    if recipe.reduce == "sum":
        ddp.register_comm_hook(step, _sum_hook)
    return ddp


def _rank_job(
    state: _Rank,
    rank: int,
    world_size: int,
    emit: Callable[[Any], None],
    workload: Workload,
    recipe: Recipe,
) -> dict[str, Any]:
    """One rank's whole run (in the worker); rank 0 also evaluates."""
    import torch
    import torch.distributed as dist
    from harness.implementations.torch_backend.train import _deterministic, _model, _optimizer
    from torch import nn

    device = state.device
    dtype = {"float32": torch.float32, "float64": torch.float64}[workload.dtype]
    ds = workload.dataset
    binary = workload.model.sizes[-1] == 1

    def tensor(a: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(a)).to(device)

    labels = (lambda y: y[:, None]) if binary else (lambda y: y)
    x_train, y_train = tensor(ds.x_train), tensor(labels(ds.y_train))
    x_test, y_test = tensor(ds.x_test), tensor(labels(ds.y_test))
    out: dict[str, Any] = {"epoch_params": [], "checksums": [], "epoch_s": []}
    step_loss, train_loss, test_acc = [], [], []
    with _deterministic("cuda" if device.startswith("cuda") else "cpu"):
        model = _model(workload, dtype, device)
        step_ref = [0]
        ddp = _wrap(model, recipe, device, step_ref)
        opt = _optimizer(workload.optimizer, ddp.parameters())
        row_loss = (
            nn.BCEWithLogitsLoss(reduction="sum")
            if binary
            else nn.CrossEntropyLoss(reduction="sum")
        )
        mean_loss = nn.BCEWithLogitsLoss() if binary else nn.CrossEntropyLoss()
        params = list(model.parameters())
        step = 0
        for e, epoch in enumerate(recipe.batches(workload)):
            shards = [tensor(recipe.shard(b, rank, world_size)) for b in epoch]
            sizes = [len(b) for b in epoch]
            local, sums = [], []
            dist.barrier()
            t0 = time.perf_counter()
            for idx, n_global in zip(shards, sizes, strict=True):
                step_ref[0] = step
                workers.mark(step)
                try:
                    recipe.before_step(rank, step)
                    opt.zero_grad(set_to_none=True)
                    loss_sum = row_loss(ddp(x_train[idx]), y_train[idx])
                    loss = recipe.local_loss(loss_sum, len(idx), n_global)
                    loss.backward()
                    opt.step()
                except Exception as err:
                    raise RuntimeError(f"rank {rank}: step {step} (epoch {e}) failed") from err
                local.append(recipe.logged_loss(loss_sum, len(idx), n_global))
                with torch.no_grad():
                    sums.append(torch.stack([p.detach().double().sum() for p in params]))
                step += 1
            losses = torch.stack(local).double()
            dist.all_reduce(losses)  # SUM of the local sum/B: the global batch loss
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            out["epoch_s"].append(time.perf_counter() - t0)
            step_loss.append(losses.cpu().numpy())
            out["checksums"].append(torch.stack(sums).cpu().numpy())
            out["epoch_params"].append([p.detach().cpu().numpy().copy() for p in params])
            if rank == 0:
                model.eval()
                with torch.no_grad():
                    train_loss.append(float(mean_loss(model(x_train), y_train)))
                    logits = model(x_test)
                    pred = (logits > 0).to(y_test.dtype) if binary else logits.argmax(-1)
                    test_acc.append(float((pred == y_test).double().mean()))
                model.train()
                emit(("epoch", e))
    out["step_loss"] = np.concatenate(step_loss) if step_loss else np.zeros(0)
    out["checksums"] = np.concatenate(out["checksums"]) if out["checksums"] else np.zeros((0, 0))
    out["train_loss"], out["test_acc"] = train_loss, test_acc
    out["threads"] = torch.get_num_threads()
    out["backend"] = dist.get_backend()
    return out


def _start(device: str, world_size: int, timeout_s: float) -> workers.WorkerGroup:
    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp

    # The parent serves the rendezvous store: port 0 is a free port chosen by the OS.
    store = dist.TCPStore(
        "127.0.0.1", 0, world_size, is_master=True, wait_for_workers=False,
        timeout=timedelta(seconds=timeout_s),
    )  # fmt: skip
    threads = max(1, torch.get_num_threads() // world_size)
    env = (
        {"GLOO_SOCKET_IFNAME": "lo", "NCCL_SOCKET_IFNAME": "lo"} if sys.platform == "linux" else {}
    )
    env.setdefault("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", str(threads)))
    return workers.WorkerGroup(
        world_size,
        label=f"torch:{parallel.dp_device(device, SCHEME, world_size)}",
        init=_join,
        init_args=(store.port, device, threads, timeout_s),
        env=env,
        context=mp.get_context("spawn"),
        timeout_s=timeout_s,
        keep=store,
    )


def train(
    workload: Workload,
    device: str,
    world_size: int,
    *,
    timeout_s: float,
    on_epoch: Callable[[int], None] | None = None,
    recipe: Recipe | None = None,
) -> History:
    """Train ``workload`` with DDP on ``world_size`` ranks of ``device``."""
    st = status(device, world_size)
    if not st.available:
        raise Unsupported(f"torch:{st.device} is not available: {st.reason}")
    results = workers.run_training(
        _GROUPS,
        (device, world_size),
        lambda: _start(device, world_size, timeout_s),
        _rank_job,
        (workload, recipe or Recipe()),
        workload=workload,
        timeout_s=timeout_s,
        on_epoch=on_epoch,
    )
    first = results[0]
    n_epochs = len(first["epoch_params"])
    return History(
        step_loss=first["step_loss"],
        epoch_train_loss=np.asarray(first["train_loss"], dtype=np.float64),
        epoch_test_acc=np.asarray(first["test_acc"], dtype=np.float64),
        final_params=first["epoch_params"][-1] if n_epochs else [],
        epoch_s=np.max([r["epoch_s"] for r in results], axis=0),
        compile_s=None,
        meta={
            "framework": "torch",
            "device": device,
            "world_size": world_size,
            "data_parallel": "torch.nn.parallel.DistributedDataParallel",
            "process_group": first["backend"],
            "threads_per_rank": first["threads"],
            "split": "contiguous shards (np.array_split); loss sum / global batch; SUM all-reduce",
        },
        rank_epoch_params=[[r["epoch_params"][e] for r in results] for e in range(n_epochs)],
        rank_step_checksums=np.stack([r["checksums"] for r in results], axis=1),
    )


def close() -> None:
    """Stop every cached worker group (tests; the interpreter's exit does it too)."""
    for group in list(_GROUPS.values()):
        group.close()
    _GROUPS.clear()


__all__ = ["Recipe", "close", "status", "train"]
