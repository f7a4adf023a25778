"""Synthetic claims: a claims file (:mod:`kt_analysis.inputs.claims`) for a sample roster and an
incident's ledger, deterministic, with a mix that exercises every decision of
:mod:`kt_analysis.rules.claims`.

From the ledger's eligible lines a ``share`` claim, arriving over ``days`` days from ``opens_on``,
front-loaded (an exponential with a mean of a quarter of the days, wrapped around). Small-business
lines claim their consolation money, the other lines their credit; a quarter of the individual
lines' claims ask to be counted as small merchants instead (the 2021-10-25 support centre: about
1,470 of 5,869 inquiries), most with a valid business registration number, some with a wrong check
digit, a number of another length, or none. Beside them, a few of each of: claims repeated for the
same line and kind (about 1 in 30), claims received after the window (1 in 50), claims on affected
lines the policy owes nothing (1 in 50), on roster lines outside the ledger (1 in 50) and on lines
in no roster (1 in 100) — at least one of each where the roster and the ledger have such lines.
About 1 in 10 claims want cash; about 3 in 10 name the amount the ledger owes.

A consolation claim names the days its service was out (``days_claimed``), drawn from
:data:`DAYS_CLAIMED`, calibrated to the Ahyeon merchants' claims (see there); about 1 in 20 names
none (at least one, where there are two or more consolation claims). A reclassification claim (a
merchant asking to be recognised, and so to the consolation money) names its days the same way. A
repeat names the days of the claim it repeats. Credit claims name none. The days come from their own stream of the seed
(``SeedSequence(seed, spawn_key=(1,))``): the other columns are those drawn without them.

``received_at`` is written as local time, and for claims made in the app as an ISO time with the
zone's offset (both forms the loader reads). The claim ids follow the order claims were received.
Same inputs, same bytes: numpy's ``default_rng(seed)`` draws everything, in a fixed order, over
the lines sorted by line_id; the file appears atomically.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from kt_analysis.errors import InputError
from kt_analysis.inputs.claims import CHANNELS, COLUMNS, KINDS, registration_check_digit

CHANNEL_SHARES = (0.40, 0.25, 0.20, 0.10, 0.05)
"""call_centre, web, app, shop, mail (an assumption: the share of each channel)."""
RECLASSIFICATION_SHARE = 0.25  # of individual lines' claims: about 1,470 of 5,869 inquiries (2021-10-25)
CASH_SHARE = 0.10
NAMED_AMOUNT_SHARE = 0.30
# The registration numbers of reclassifications: valid, wrong check digit, another length, none.
EVIDENCE_SHARES = (0.70, 0.15, 0.05, 0.10)
DAYS_CLAIMED = (
    (1, 0.475), (2, 0.300), (3, 0.030), (4, 0.025), (5, 0.040), (6, 0.0325),
    (7, 0.015), (10, 0.020), (14, 0.020), (21, 0.020), (35, 0.0125), (60, 0.010),
)
"""The days a consolation claim names, and their shares: the Ahyeon merchants' 9,721 claims tallied
by 2019-03-22 averaged 3.7 days with 47.5% under 2 days (ajunews 20190322083227596, sedaily
1VGOD8DJGS) and about 17% of 5 days or more (sedaily; data/SOURCES.md §3). Here: 1 day 47.5%, 5 days
or more 17.0%, mean 3.7025 days. The shape between is an assumption chosen to also give, under
kt-2018-ahyeon-special's tiers (1–2 d 400,000, 3–4 d 800,000, 5–6 d 1,000,000, 7+ d 1,200,000), a
mean of 543,500 won, the reported 543,478 (62.5억 paid to 11,500 merchants, seoul.co.kr
20190820012018): most merchants at 1–2 days (77.5%, "mostly 1–2 days", sedaily), as the network's
restoration gives (internet back within two days), and a long tail of merchants out for weeks (the
copper-cable lines KT compensated for 2–6 months) that the mean of 3.7 needs."""
NO_DAYS_SHARE = 0.05
"""Consolation claims that name no days (an assumption: a form left blank)."""


def _table(path: Path, columns: Sequence[str], what: str) -> pa.Table:
    """``columns`` of a Parquet file (or folder) or a CSV file."""
    try:
        if path.suffix.lower() == ".csv":
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(include_columns=list(columns)))
        else:
            table = pq.read_table(path, columns=list(columns))
    except (pa.ArrowInvalid, KeyError, OSError) as exc:
        raise InputError(str(path), "", f"cannot read the {what}'s columns {', '.join(columns)} "
                         f"({str(exc).strip().splitlines()[0][:200]})",
                         f"give a {what} Parquet or CSV file with {', '.join(columns)}") from None
    return table


def _sorted_lines(table: pa.Table) -> dict[str, np.ndarray]:
    order = np.argsort(table.column("line_id").to_numpy(), kind="stable")
    return {name: table.column(name).to_numpy(zero_copy_only=False)[order] for name in table.column_names}


def _registration_number(rng: np.random.Generator, form: int) -> str:
    """A registration number written ``123-45-67890``: valid (form 0), with a wrong check digit (1),
    of 9 digits (2); form 3: none."""
    if form == 3:
        return ""
    office = int(rng.integers(101, 1000))
    kind = int(rng.integers(1, 100))
    serial = int(rng.integers(0, 10_000))
    first = f"{office:03d}{kind:02d}{serial:04d}"
    check = registration_check_digit(first)
    if form == 1:
        check = (check + int(rng.integers(1, 10))) % 10
    digits = first + str(check)
    if form == 2:
        digits = digits[:9]
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"


def _some(rng: np.random.Generator, pool: np.ndarray, count: int) -> np.ndarray:
    """``count`` lines of ``pool`` (all when it holds fewer), sorted."""
    if len(pool) == 0 or count <= 0:
        return pool[:0]
    return np.sort(rng.choice(pool, size=min(count, len(pool)), replace=False))


def generate_claims(roster_path: str | Path, ledger_path: str | Path, seed: int, out_dir: str | Path, *,
                    opens_on: date | str, days: int, share: float,
                    kinds: Sequence[str] = KINDS, tz: str = "Asia/Seoul") -> Path:
    """Write ``out_dir/claims.csv``: synthetic claims on the ``roster``'s lines for the incident
    whose per-line ``ledger`` is given (its ``line_id``, ``eligible`` and ``credit_krw``), and
    return its path. See the module's docstring for the mix."""
    kinds = tuple(kinds)
    if not kinds or any(k not in KINDS for k in kinds):
        raise ValueError(f"kinds must name some of {', '.join(KINDS)}, got {kinds!r}")
    if not 0 < share <= 1 or days < 1 or seed < 0:
        raise ValueError("share must be above 0 and at most 1, days 1 or more, seed 0 or more")
    opens = date.fromisoformat(opens_on) if isinstance(opens_on, str) else opens_on
    zone = ZoneInfo(tz)
    roster = _sorted_lines(_table(Path(roster_path), ("line_id", "customer_type"), "roster"))
    ledger = _sorted_lines(_table(Path(ledger_path), ("line_id", "eligible", "credit_krw"), "ledger"))
    rng = np.random.default_rng(seed)
    kind_of_type = dict(zip(roster["line_id"].tolist(), roster["customer_type"].tolist(), strict=True))
    owed = dict(zip(ledger["line_id"].tolist(), ledger["credit_krw"].tolist(), strict=True))
    eligible = ledger["line_id"][ledger["eligible"].astype(bool)]
    not_owed = ledger["line_id"][~ledger["eligible"].astype(bool)]
    outside = np.setdiff1d(roster["line_id"], ledger["line_id"])

    rows: list[tuple[int, str, int]] = []  # (line_id, kind, day offset)
    main = _some(rng, eligible, max(1, round(share * len(eligible))))
    pick = rng.random(len(main))
    for line, u in zip(main.tolist(), pick.tolist(), strict=True):
        rows.append((line, _kind(kind_of_type.get(line), u, kinds), -1))
    if "reclassification" in kinds and not any(k == "reclassification" for _l, k, _d in rows):
        individual = [line for line in eligible.tolist() if kind_of_type.get(line) == "individual"]
        if individual:
            rows.append((individual[int(rng.integers(len(individual)))], "reclassification", -1))
    n = len(rows)
    first_kind = "credit" if "credit" in kinds else kinds[0]
    rows += [(line, first_kind, -1) for line in _some(rng, not_owed, max(1, n // 50)).tolist()]
    rows += [(line, first_kind, -1) for line in _some(rng, outside, max(1, n // 50)).tolist()]
    top = int(roster["line_id"].max()) if len(roster["line_id"]) else 0
    rows += [(top + 1 + 7 * i, first_kind, -1) for i in range(max(1, n // 100))]
    repeated = rng.choice(len(rows[:n]), size=min(n, max(1, n // 30)), replace=False)
    rows += [(rows[i][0], rows[i][1], -2) for i in sorted(repeated.tolist())]
    late = _some(rng, eligible, max(1, n // 50))
    rows += [(line, first_kind, days + int(rng.integers(0, 15))) for line in late.tolist()]
    days_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
    return _write(rows, rng, opens, days, zone, owed, Path(out_dir), _days_claimed(rows, days_rng))


def _days_claimed(rows: list[tuple[int, str, int]], rng: np.random.Generator) -> list[str]:
    """The ``days_claimed`` of each row as written: drawn from :data:`DAYS_CLAIMED` for a
    consolation or reclassification claim (about :data:`NO_DAYS_SHARE` left empty, at least one of
    two or more consolation claims; a repeat names its first claim's days), empty for credit claims."""
    n = len(rows)
    values = np.array([d for d, _share in DAYS_CLAIMED], dtype=np.int64)
    drawn = rng.choice(values, size=n, p=[share for _d, share in DAYS_CLAIMED])
    blank = rng.random(n) < NO_DAYS_SHARE
    consolation = [i for i, (_line, kind, day) in enumerate(rows) if kind == "consolation" and day != -2]
    if len(consolation) >= 2 and not blank[consolation].any():
        blank[consolation[int(rng.integers(len(consolation)))]] = True
    out: list[str] = []
    first: dict[tuple[int, str], str] = {}
    for i, (line, kind, day) in enumerate(rows):
        if kind not in ("consolation", "reclassification"):
            out.append("")
        elif day == -2:  # a repeat: the days of the claim it repeats
            out.append(first.get((line, kind), ""))
        else:
            out.append("" if blank[i] else str(int(drawn[i])))
            first.setdefault((line, kind), out[-1])
    return out


def _kind(customer_type: str | None, u: float, kinds: tuple[str, ...]) -> str:
    """The kind a line's claim is of: consolation for a small business, else credit, a quarter of
    the individual lines' a reclassification (among the kinds allowed)."""
    if customer_type == "small_business" and "consolation" in kinds:
        return "consolation"
    if customer_type == "individual" and "reclassification" in kinds and (u < RECLASSIFICATION_SHARE or
                                                                          "credit" not in kinds):
        return "reclassification"
    return "credit" if "credit" in kinds else kinds[0]


def _write(rows: list[tuple[int, str, int]], rng: np.random.Generator, opens: date, days: int, zone: ZoneInfo,
           owed: dict[int, int], out_dir: Path, days_claimed: list[str]) -> Path:
    n = len(rows)
    offsets = np.floor(rng.exponential(days / 4, n)).astype(np.int64) % days
    channels = rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARES)
    seconds = rng.integers(0, 86_400, n)
    office_hours = rng.integers(9 * 3600, 18 * 3600, n)
    evidence = rng.choice(len(EVIDENCE_SHARES), size=n, p=EVIDENCE_SHARES)
    cash = rng.random(n) < CASH_SHARE
    named = rng.random(n) < NAMED_AMOUNT_SHARE
    later = rng.integers(3_600, 5 * 86_400, n)
    records = []
    first_at: dict[tuple[int, str], datetime] = {}
    closes = datetime.combine(opens, datetime.min.time()) + timedelta(days=days, seconds=-1)
    reclassifications = 0
    for i, (line, kind, day) in enumerate(rows):
        channel = CHANNELS[int(channels[i])]
        second = int(office_hours[i] if channel in ("call_centre", "shop") else seconds[i])
        if day == -2:  # a repeat: some hours or days after the first claim, inside the window
            first = first_at[(line, kind)]
            at = max(min(first + timedelta(seconds=int(later[i])), closes), first + timedelta(seconds=1))
        else:
            at = datetime.combine(opens, datetime.min.time()) + timedelta(days=int(day if day >= 0 else offsets[i]),
                                                                          seconds=second)
            first_at.setdefault((line, kind), at)
        brn = ""
        if kind == "reclassification":  # the first valid, the second with a wrong check digit, then drawn
            brn = _registration_number(rng, (0, 1)[reclassifications] if reclassifications < 2 else int(evidence[i]))
            reclassifications += 1
        owed_krw = owed.get(line) if named[i] and kind == "credit" else None
        records.append((at, line, kind, channel, "" if owed_krw is None else str(int(owed_krw)), brn, bool(cash[i]),
                        days_claimed[i]))
    records.sort(key=lambda r: (r[0], r[1], r[2]))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for number, (at, line, kind, channel, amount, brn, wants, claimed) in enumerate(records, start=1):
        written = (at.replace(tzinfo=zone).isoformat(timespec="seconds") if channel == "app"
                   else at.strftime("%Y-%m-%d %H:%M:%S"))
        writer.writerow((f"CLM-{number:07d}", line, written, channel, kind, amount, brn, "true" if wants else "false",
                         claimed))
    return _atomic(out_dir, "claims.csv", buffer.getvalue().encode("utf-8"))


def _atomic(out_dir: Path, name: str, data: bytes) -> Path:
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(str(out_dir), "--out", "is a file, not a directory", f"give a directory for {name}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / name
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".csv.tmp", dir=out_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
