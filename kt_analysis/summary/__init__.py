"""Summaries: the figures an engine computed, shaped into the summary every report and program
reads (``summary.json``), one shape per incident kind."""
