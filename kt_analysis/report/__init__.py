"""Reports: what a reader sees — number and date formats, charts, the notebook view of an
incident and the index of every report."""
