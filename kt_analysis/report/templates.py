"""The report layer's one Jinja environment: the package's templates (``kt_analysis/templates``),
HTML autoescaped, and a name a template uses but is not given is an error, not an empty string."""

from __future__ import annotations

import jinja2

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("kt_analysis", "templates"),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)

__all__ = ["ENV"]
