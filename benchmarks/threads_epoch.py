"""Is ``harness compare``'s torch mini-batch epoch as fast as a hand-written one-thread loop?

Runs ``harness compare --targets torch:cpu --mode minibatch`` in this process (threads
pinned by the command, default 1), then a plain PyTorch loop of the same logistic
regression (same data, initial parameters and batch order, one thread) timed the same way
(training steps only, evaluation excluded), and prints both medians and their ratio.
Oversubscribed BLAS / OpenMP threads show up as a ratio well above 1.

    python benchmarks/threads_epoch.py [EPOCHS]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def harness_median(epochs: int, out: Path) -> float:
    """Median steady epoch seconds of torch:cpu mini-batch in a real compare run."""
    from harness import cli

    code = cli.main(
        [
            "compare",
            "--targets",
            "torch:cpu",
            "--mode",
            "minibatch",
            "--epochs",
            str(epochs),
            "--no-plots",
            "--json",
            "--out",
            str(out),
        ]
    )
    assert code == 0, code
    report = json.loads(next(out.glob("*/report.json")).read_text())
    (row,) = [r for r in report["summary"]["rows"] if r["target"] == "torch:cpu"]
    return float(row["median_epoch_s"])


def hand_median(epochs: int) -> float:
    """The same workload in a plain one-thread PyTorch loop (no DataLoader)."""
    import torch

    from harness import workload

    torch.set_num_threads(1)
    w = workload.build(mode="minibatch", epochs=epochs)
    x = torch.from_numpy(w.dataset.x_train)
    y = torch.from_numpy(w.dataset.y_train)[:, None]
    model = torch.nn.Linear(x.shape[1], 1)
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(w.init_params[0]))
        model.bias.copy_(torch.from_numpy(w.init_params[1]))
    opt = torch.optim.SGD(model.parameters(), lr=w.optimizer.lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    times = []
    for batches in w.batches:
        idx = [torch.from_numpy(b) for b in batches]
        t0 = time.perf_counter()
        for b in idx:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[b]), y[b])
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def main() -> None:
    """Print the two medians and the ratio."""
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory() as tmp:
        h = harness_median(epochs, Path(tmp))
    import torch

    m = hand_median(epochs)
    print(
        f"torch threads {torch.get_num_threads()}: harness compare {h * 1e3:.3f} ms/epoch, "
        f"hand-written loop {m * 1e3:.3f} ms/epoch, ratio {h / m:.2f}"
    )


if __name__ == "__main__":
    main()
