"""Re-execute the committed notebooks on the bundled sample and store them with outputs.

Volatile parts are removed so that the stored notebooks change only when results change:
execution timestamps, papermill metadata, stderr streams. Cell ids and tags (the
``parameters`` tag above all) are kept. Run it with ``make notebooks``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kt_analysis.jobs.kernel import ensure_kernel  # noqa: E402
from kt_analysis.jobs.run import ipc_kernel_manager  # noqa: E402


def sanitise(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if cell.cell_type == "code":
            cell.outputs = [
                o for o in cell.outputs
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    return nb


def refresh(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name=ensure_kernel(), timeout=600, kernel_manager_class=ipc_kernel_manager(),
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.get("output_type") == "error"]
    if errors:
        raise SystemExit(f"{path}: a cell failed: {errors[0].get('ename')}: {errors[0].get('evalue')}")
    nbformat.write(sanitise(nb), path)
    print(f"refreshed {path}")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        refresh(Path(arg))
