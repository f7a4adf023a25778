"""Jobs: running an incident end to end (the analysis, its reconciliation, the notebooks, the
report), many incidents at once, and the Jupyter kernel they run in."""
