"""Engines: the per-line pass over the roster. DuckDB (in process) and Spark (distributed)
run the rules and write the ledger; the figures every summary needs are read back here. The only
layer that opens a database or a Spark session."""
