"""Rules: the compensation and settlement rules as engine-neutral expressions and plain Python —
which lines a window reaches and for how long, eligibility and credit per line, when credits and
refunds land. No engine is opened here."""
