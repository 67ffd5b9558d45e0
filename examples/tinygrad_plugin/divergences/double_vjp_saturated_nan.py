"""Confirms, with tinygrad alone, the divergence declared in ../src/.../known_divergences.txt.

The JVP this plugin emulates by reverse-over-reverse is NaN for ``tanh`` and ``sigmoid`` at
large negative inputs (the catalog's covering "extremes": about -104 in float32, -745 in
float64), where the true JVP is 0 (the derivative underflows): the second pass
differentiates tinygrad's backward formula, whose intermediate ``exp`` overflows to inf and
meets a 0. The first-order VJP there is finite. Run ``python double_vjp_saturated_nan.py``
(tinygrad's CPU device needs clang); it exits 1 while the divergence is there.
"""

import os
import sys

import numpy as np

os.environ.setdefault("DEV", "CPU")
from tinygrad import Tensor

CASES = {np.float32: [-104.27893, -105.27893, 0.5], np.float64: [-745.44007, -746.44007, 0.5]}
bad = True
for dtype, values in CASES.items():
    x_np, u_np = np.array(values, dtype), np.ones(len(values), dtype)
    for name in ("tanh", "sigmoid"):
        x = Tensor(x_np)
        c = Tensor(np.zeros_like(x_np))  # the cotangent, differentiated through the VJP
        (g,) = getattr(x, name)().gradient(x, gradient=c)
        (jvp,) = (g * Tensor(u_np)).sum().gradient(c)
        x = Tensor(x_np)
        (vjp,) = getattr(x, name)().gradient(x, gradient=Tensor(u_np))
        j, v = jvp.numpy(), vjp.numpy()
        print(f"{dtype.__name__} {name}({values}): double-VJP JVP {j}, VJP {v}")
        bad &= bool(np.isnan(j[:2]).all() and np.isfinite(v).all() and np.isfinite(j[2]))
print("divergence present" if bad else "divergence gone: delete the known_divergences.txt lines")
sys.exit(1 if bad else 0)
