"""Model weights on disk: one npz array per named parameter (no pickle), every array checked
for its name, shape, type and finite values before any parameter is overwritten."""
from __future__ import annotations

import os

import numpy as np

from .._io import load_npz
from ..errors import ModelFormatError


def load_parameters(path: str | os.PathLike, parameters, strict: bool = False) -> None:
    """Fill ``parameters`` ((name, value, grad) triples) from the npz file ``path``; with
    ``strict`` an array that is no parameter's is an error too."""
    z = load_npz(path)
    params = list(parameters)
    if strict:
        extra = sorted(set(z) - {name for name, _, _ in params})
        if extra:
            raise ModelFormatError(f"{path}: unexpected array {extra[0]!r} (not a parameter of this model)")
    for name, p, _ in params:
        if name not in z:
            raise ModelFormatError(f"{path}: parameter {name} is missing")
        a = z[name]
        if a.shape != p.shape or not np.issubdtype(a.dtype, np.floating):
            raise ModelFormatError(f"{path}: parameter {name} has shape {a.shape} {a.dtype}, expected {p.shape}")
        if not np.isfinite(a).all():
            raise ModelFormatError(f"{path}: parameter {name} holds values that are not finite")
    for name, p, _ in params:
        p[...] = z[name]
