"""Masking personal data: names and Korean phone numbers as reports, ledgers and logs may show them."""

from __future__ import annotations

import re

_PHONE_SEPARATORS = re.compile(r"[-\s.]+")


def mask_name(name: str) -> str:
    """A name with every character but the first and last replaced by ``*``.

    Two-character names keep the first character only; one character is fully masked.

    >>> mask_name("김민수"), mask_name("남궁민"), mask_name("남궁민수"), mask_name("이수")
    ('김*수', '남*민', '남**수', '이*')
    >>> mask_name("김"), mask_name("")
    ('*', '')
    """
    if not isinstance(name, str):
        # The message names only the type: the value may be personal data.
        raise TypeError(
            f"name must be a str, got {type(name).__name__}; for a column with missing values"
            " use series.map(mask_name, na_action='ignore')"
        )
    n = len(name)
    if n <= 1:
        return "*" * n
    if n == 2:
        return name[0] + "*"
    return name[0] + "*" * (n - 2) + name[-1]


def _split_phone(phone: str) -> tuple[str, str, str] | None:
    """(prefix, middle, last four) of a Korean phone number, or None if it is not one.

    With separators the caller's grouping is kept (``010-1234-567`` is not re-cut into
    ``010-123-4567``, which would show a middle digit); bare digits are cut by length.
    """
    groups = _PHONE_SEPARATORS.split(phone.strip())
    if not all(g.isascii() and g.isdigit() for g in groups):
        return None
    if len(groups) == 3:
        prefix, middle, last = groups
    elif len(groups) == 1:
        digits = groups[0]
        prefix = "02" if digits.startswith("02") else digits[:3]
        middle, last = digits[len(prefix) : -4], digits[-4:]
    else:
        return None
    # 02 is Seoul; 0XY covers 010/011.. mobile, 031..064 areas and 070 internet phone.
    if not (prefix == "02" or re.fullmatch(r"0[1-9]\d", prefix)):
        return None
    if len(middle) not in (3, 4) or len(last) != 4:
        return None
    return prefix, middle, last


def mask_phone(phone: str) -> str:
    """A Korean phone number with the middle block masked, as ``010-****-5678``.

    Separators may be ``-``, spaces or dots, or absent. Anything that is not a Korean
    mobile/landline number (wrong length, letters, ``+82``, 1588 numbers) comes back as ``*``
    of the same length, so nothing leaks.

    >>> mask_phone("010-1234-5678"), mask_phone("01012345678")
    ('010-****-5678', '010-****-5678')
    >>> mask_phone("02-123-4567"), mask_phone("031 1234 5678")
    ('02-***-4567', '031-****-5678')
    >>> mask_phone("+82 10-1234-5678")
    '****************'
    """
    if not isinstance(phone, str):
        raise TypeError(
            f"phone must be a str, got {type(phone).__name__} (an int would have lost the leading"
            " 0); read phone columns as strings"
        )
    parts = _split_phone(phone)
    if parts is None:
        return "*" * len(phone)
    prefix, middle, last = parts
    return f"{prefix}-{'*' * len(middle)}-{last}"
