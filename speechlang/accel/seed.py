"""Seeds and RNG state for random, numpy, torch (CPU and CUDA) and numba kernels.

Determinism: with one seed, one process and one thread on CPU every command is repeatable
bit for bit. It ends with several threads (Hogwild updates race on purpose), with several
processes (reduction order), and with non-deterministic CUDA kernels.
"""

from __future__ import annotations

import random

import numpy as np
import torch

DEFAULT_SEED = 1


def derive_seed(seed: int, *keys: int) -> int:
    """A 32-bit seed derived from `seed` and integer keys such as (rank, epoch); never `hash()`."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def _seed_numba(seed: int) -> None:
    # numba keeps its own generator per thread; np.random.seed from Python does not reach it.
    import numba

    @numba.njit(cache=False)
    def _seed(s):  # pragma: no cover - runs compiled
        np.random.seed(s)

    _seed(seed)


def set_seed(seed: int, *, numba_too: bool = True) -> None:
    """Seed Python's random, numpy's global generator, torch (all devices) and numba."""
    seed = int(seed) % (2**32)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if numba_too:
        _seed_numba(seed)


def get_rng_state() -> dict:
    """The RNG states of random, numpy and torch as checkpoint-safe values (tensors, ints)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what `get_rng_state` returned."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
