"""Names that must match the roster: regions, facilities, services.

An incident names the places an outage reached; a name that matches no roster line silently
drops those lines from every total. So names on both sides are put in one form before they are
compared, and a name that still matches nothing is refused with the closest roster values.

The rule, stated once (the docs repeat it):

* Unicode NFC: ``부산`` typed on macOS (NFD, jamo by jamo) equals ``부산`` typed on Windows (NFC);
* surrounding whitespace removed, the no-break space (U+00A0), the ideographic space (U+3000) and
  zero-width characters included;
* letter case counts: ``f-01`` is not ``F-01``. A name that differs from a roster value only in
  case is refused, and the message gives the roster's spelling.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable

# str.strip() removes Unicode whitespace (U+00A0, U+3000, U+2000-U+200A, …) but not the
# zero-width characters an export or a copy from a web page can leave around a name.
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


def normalize(name: object) -> str:
    """The form names are compared in.

    >>> normalize("\\u1107\\u116e\\u1109\\u1161\\u11ab ") == normalize("부산") == "부산"
    True
    >>> normalize("\\xa0F-01\\u200b")
    'F-01'
    """
    text = unicodedata.normalize("NFC", str(name))
    previous = None
    while previous != text:  # whitespace and zero-width characters, in any mix
        previous = text
        text = text.strip().strip(_ZERO_WIDTH)
    return text


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The roster values most like ``name``: same letters in another case first, then by similarity.

    >>> closest("부산시", ["서울", "부산", "대전"])
    ['부산']
    >>> closest("f-01", ["F-01", "F-10", "F-11"])
    ['F-01']
    >>> closest("F-1", ["F-01", "F-10", "F-11"])
    ['F-10', 'F-11', 'F-01']
    """
    pool = sorted({normalize(c) for c in candidates})
    folded = name.casefold()
    same_case = [c for c in pool if c.casefold() == folded]
    if same_case:  # only the letter case differs: that is the answer
        return same_case[:n]
    contains = [c for c in pool if c not in same_case and (c in name or name in c) and c]
    ranked = difflib.get_close_matches(name, pool, n=n, cutoff=0.4)
    ranked += difflib.get_close_matches(folded, [c.casefold() for c in pool], n=n, cutoff=0.4)
    by_fold = {c.casefold(): c for c in pool}
    out: list[str] = []
    for c in [*same_case, *contains, *ranked]:
        c = by_fold.get(c, c)
        if c in pool and c not in out:
            out.append(c)
    return out[:n]


def did_you_mean(name: str, candidates: Iterable[str], *, listed: str = "the roster has",
                 tail: str = " (`kt-analysis roster describe` lists them)") -> str:
    """The fix part of a message: ``did you mean `부산`?`` or, when nothing is close, ``listed``
    followed by the first values there are and ``tail``."""
    pool = sorted({normalize(c) for c in candidates})
    near = closest(name, pool)
    if near:
        return "did you mean " + " or ".join(f"`{c}`" for c in near) + "?"
    shown = ", ".join(f"`{c}`" for c in pool[:8])
    more = f" and {len(pool) - 8:,} more" if len(pool) > 8 else ""
    return f"{listed} {shown or 'none'}{more}{tail}"
