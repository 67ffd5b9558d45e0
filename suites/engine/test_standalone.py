"""The engine is a library of its own: it imports and trains with the harness blocked.

A subprocess installs a ``sys.meta_path`` finder that refuses every ``harness.*`` module
except the package itself, :mod:`harness.contract` (which ``harness/__init__`` imports),
``harness.implementations`` and the engine's own modules, then imports the engine and
trains a tiny model with ``nn``, ``optim`` and a DataLoader. An engine module that imports
the harness (``harness.catalog``, ``harness.workload``, ...) fails the import there.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import importlib.abc
    import sys

    ENGINE = "harness.implementations.numpy_autograd"
    ALLOWED = {"harness", "harness.contract", "harness.implementations", ENGINE}


    class HarnessBlocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.startswith("harness.") and not (
                name in ALLOWED or name.startswith(ENGINE + ".")
            ):
                raise ImportError(f"the engine imported {name}, a harness module")
            return None


    sys.meta_path.insert(0, HarnessBlocker())

    import harness.implementations.numpy_autograd as torch
    from harness.implementations.numpy_autograd import nn, optim
    from harness.implementations.numpy_autograd.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    x = torch.randn(32, 3)
    y = (x.sum(dim=1) > 0).long()
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True)
    losses = []
    for _ in range(5):
        for xb, yb in loader:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert losses[-1] < losses[0], losses
    try:
        import harness.catalog  # noqa: F401  (the blocker must be live)
    except ImportError:
        pass
    else:
        raise AssertionError("the blocker let harness.catalog through")
    print("trained", len(losses), "steps; loss", round(losses[0], 3), "->", round(losses[-1], 3))
    """
)


def test_engine_imports_and_trains_without_the_harness() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("trained 20 steps"), proc.stdout
