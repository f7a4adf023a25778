"""The project's Jupyter kernel: registered inside the environment, checked before every run.

papermill picks a kernel by name from the Jupyter data path, where a ``python3`` (or even a
``kt-analysis``) spec written by another Python can shadow ours; the run would then use another
interpreter and other package versions without saying so. So the kernel is registered with
``--sys-prefix`` under the project's own name, and before each run we check that it starts the
interpreter that is running now.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kt_analysis.errors import EnvironmentProblem

KERNEL_NAME = "kt-analysis"
DISPLAY_NAME = "kt-analysis (Python)"
FIX = f"run `make setup`, or `{sys.executable} -m ipykernel install --sys-prefix --name {KERNEL_NAME}`"


def _same_interpreter(argv0: str) -> bool:
    """The spec starts this interpreter: the same path, or another name for it in the same ``bin/``
    (``python`` and ``python3`` of one venv). Resolving links alone would not do: every venv's
    ``python`` links to the same base interpreter, and that is exactly the mix-up to catch."""
    here, there = os.path.abspath(sys.executable), os.path.abspath(argv0)
    if here == there:
        return True
    try:
        return os.path.dirname(here) == os.path.dirname(there) and os.path.samefile(here, there)
    except OSError:
        return False


def install_kernel() -> Path:
    from ipykernel.kernelspec import install

    return Path(install(kernel_name=KERNEL_NAME, display_name=DISPLAY_NAME, prefix=sys.prefix))


def ensure_kernel() -> str:
    """Return the kernel name after checking that it resolves to this interpreter.

    A missing spec, or a stale one inside this environment (the environment was moved or
    rebuilt), is (re)registered in ``sys.prefix``; a spec elsewhere that shadows ours is an error.
    """
    os.environ.setdefault("JUPYTER_PREFER_ENV_PATH", "1")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    try:
        spec = manager.get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        install_kernel()
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    if not _same_interpreter(spec.argv[0]):
        inside = Path(spec.resource_dir).resolve().is_relative_to(Path(sys.prefix).resolve())
        if inside:
            install_kernel()
            spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        if not _same_interpreter(spec.argv[0]):
            raise EnvironmentProblem(
                f"the Jupyter kernel {KERNEL_NAME!r} ({spec.resource_dir}) runs {spec.argv[0]}, "
                f"not this interpreter ({sys.executable}) — remove that kernel spec "
                f"(`jupyter kernelspec remove {KERNEL_NAME}`) and {FIX}"
            )
    return KERNEL_NAME
