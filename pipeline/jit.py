"""numba, as the compiled loops use it: without the linear algebra none of them needs.

The first call of a compiled loop in a process, even one loaded from numba's cache,
loads numba's implementations of numpy's functions. One of them, ``numba.np.arraymath``,
imports ``scipy.linalg`` (0.15 to 0.2 s, half of that first call) only to learn whether
``np.dot`` and ``np.linalg`` can call BLAS. No loop here uses them, so this module loads
``arraymath`` once with ``scipy.linalg`` hidden, and puts it back: numba then knows it
has no BLAS (a loop that calls ``np.dot`` would fail to compile, saying so), and every
other import of ``scipy.linalg`` works as before. Where ``scipy.linalg`` is already
loaded, nothing is hidden.

Modules with compiled loops import numba from here: ``from pipeline.jit import numba``.
"""

from __future__ import annotations

import importlib
import sys

import numba
import numba.core.config

__all__ = ["numba"]


def _load_arraymath() -> None:
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules or numba.core.config.DISABLE_JIT:
        return
    sys.modules["scipy.linalg"] = None  # type: ignore[assignment]  # `import scipy.linalg...` fails
    try:
        importlib.import_module("numba.np.arraymath")
    finally:
        del sys.modules["scipy.linalg"]


_load_arraymath()
