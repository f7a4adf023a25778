"""Inputs: every file a user hands the tool, read, checked and typed here — YAML, rosters, bills,
incidents, windows, policies, settlement rules and the business-day calendar. Nothing below this
layer but errors, paths and masking; everything above reads inputs only through it."""
