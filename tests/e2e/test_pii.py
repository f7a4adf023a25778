"""Personal data planted in a roster never leaves the tool unmasked — in any file a run writes, in
its logs, or in the committed notebooks — and the environment's secrets never reach an output.

A synthetic roster (``kt_analysis.synthetic``, 400 lines, with its bills) gets planted customer names
and phone numbers, the phone numbers written in several ways (``010-9876-5432``, ``01098765432``,
``+82-10-9876-5432``, ``010 2468 1357``, ``02-555-0199``). An outage and a billing error are run
through the real command line with their full reports (``kt-analysis run``, not quiet: its stdout and
stderr are the run's log), each with ``KT_SECRET_TOKEN`` planted in its environment and its own
``TMPDIR``; then ``kt-analysis run-all`` writes ``index.html``. Every file under the output folder
(report, summary, ledger — every string column read back and the raw bytes —, run.json, executed
notebooks, index, lock files), what is left in ``TMPDIR``, and the captured logs are searched for the
names (and the masked-out middle of the long ones) and for the numbers in any form (digits with or
without separators, the international form). The billing report's SMS sample must show the masked
forms (``황***트``, ``010-****-5432``, …) of exactly the lines it lists, so the test cannot pass by
showing nothing.
"""

from __future__ import annotations

import ast
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kt_analysis import present
from kt_analysis.synthetic import generate_bills, generate_roster

from .conftest import KT, ROOT

pytestmark = pytest.mark.slow

SECRET_VAR, SECRET = "KT_SECRET_TOKEN", "s3cr3t-planted"
# (name, phone as the roster writes it)
PLANTED = (
    ("황보플랜트", "010-9876-5432"),
    ("홍길동", "01098765432"),
    ("김철수", "+82-10-9876-5432"),
    ("남궁민수", "010 2468 1357"),
    ("제갈공명", "02-555-0199"),
)
# What must appear nowhere: the names, the masked-out middles of the long ones, and the numbers with
# any separators (or none) between their blocks, also after the country code.
FORBIDDEN = (
    *(re.escape(name) for name, _ in PLANTED),
    "보플랜", "궁민", "갈공",
    r"9876\D{0,4}5432", r"2468\D{0,4}1357", r"555\D{0,4}0199", r"\+?82\D{0,3}0?10\D{0,3}9876",
    re.escape(SECRET),
)
INCIDENTS = {
    "pii-outage": """\
id: pii-outage
title: 개인정보 시험 — 전국 장애
kind: outage
timezone: Asia/Seoul
policy: kt-2021-10-25-special
roster: data/roster.parquet
affected:
  services: [mobile, internet, landline]
  windows:
    - {start: 2021-10-25T11:16, end: 2021-10-25T12:45, where: all}
""",
    "pii-billing": """\
id: pii-billing
title: 개인정보 시험 — 오청구
kind: billing_error
timezone: Asia/Seoul
roster: data/roster.parquet
billing:
  wrong_month: "2023-09"
  charged_month: "2023-07"
  bills: data/bills.parquet
  payment_methods: [credit_card, check_card, bank_transfer, giro, other]
  charged_on: 2023-09-11
  settlement: default
""",
}


def _plant(roster: Path) -> pd.DataFrame:
    """Give every line a planted identity; the first lines of each payment method (the ones the SMS
    sample lists) go through the identities in order, so each identity is in the sample. The last of
    those lines has no name and no phone (both columns are optional data)."""
    table = pq.read_table(roster)
    frame = table.to_pandas()
    first = frame.sort_values("line_id").groupby("payment_method", sort=True).head(3)
    order = list(first["line_id"]) + [i for i in frame["line_id"] if i not in set(first["line_id"])]
    identity = {line_id: PLANTED[k % len(PLANTED)] for k, line_id in enumerate(order)}
    frame["name"] = [identity[i][0] for i in frame["line_id"]]
    frame["phone"] = [identity[i][1] for i in frame["line_id"]]
    blank = frame["line_id"] == first["line_id"].max()
    frame.loc[blank, ["name", "phone"]] = None
    pq.write_table(pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False), roster)
    return frame


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("pii")
    project = base / "project"
    for folder in ("policies", "settlement", "calendar"):
        shutil.copytree(ROOT / "data" / folder, project / "data" / folder)
    roster = generate_roster(400, 20240101, project / "data")
    frame = _plant(roster)
    generate_bills(roster, 20240101, project / "data", first_month="2023-07", months=3)
    incidents = project / "incidents"
    incidents.mkdir()
    for iid, text in INCIDENTS.items():
        (incidents / f"{iid}.yml").write_text(text, encoding="utf-8")
    out, tmp, logs = base / "reports", base / "tmp", base / "logs"
    tmp.mkdir()
    logs.mkdir()
    env = {**os.environ, SECRET_VAR: SECRET, "TMPDIR": str(tmp)}
    procs = {iid: subprocess.Popen([str(KT), "run", str(incidents / f"{iid}.yml"), "--out", str(out)], cwd=project,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for iid in INCIDENTS}
    for iid, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=900)
        (logs / f"{iid}.stdout.log").write_text(stdout, encoding="utf-8")
        (logs / f"{iid}.stderr.log").write_text(stderr, encoding="utf-8")
        assert proc.returncode == 0, stderr
        assert "Traceback" not in stderr
    index = subprocess.run([str(KT), "run-all", str(incidents), "--out", str(out)], cwd=project, env=env,
                           capture_output=True, text=True, timeout=900)
    (logs / "run-all.stdout.log").write_text(index.stdout, encoding="utf-8")
    (logs / "run-all.stderr.log").write_text(index.stderr, encoding="utf-8")
    assert index.returncode == 0, index.stderr
    assert (out / "index.html").exists()
    return {"project": project, "out": out, "tmp": tmp, "logs": logs, "roster": frame}


# --- reading every file as text ---------------------------------------------------------------------


def _strings(node: object):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def readable_text(path: Path) -> list[str]:
    """The file as text in every way a reader could see it: the raw bytes (as UTF-8), and also the
    strings inside JSON (escapes resolved), HTML with entities resolved, and every value and the
    metadata of a Parquet file."""
    raw = path.read_bytes()
    texts = [raw.decode("utf-8", errors="replace")]
    if path.suffix in (".json", ".ipynb"):
        strings = list(_strings(json.loads(raw)))
        texts += strings + [html.unescape(s) for s in strings]
    if path.suffix in (".html", ".htm"):
        texts.append(html.unescape(texts[0]))
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        texts.append(str(table.schema.metadata))
        texts.append(str(pq.read_metadata(path).metadata))
        for name in table.column_names:
            texts.append(name)
            texts += [str(v) for v in table.column(name).to_pylist()]
    return texts


def _output_files(planted: dict) -> list[Path]:
    files = [p for folder in (planted["out"], planted["tmp"], planted["logs"]) for p in folder.rglob("*")
             if p.is_file()]
    return sorted(files)


def test_the_outputs_exist_and_the_roster_holds_the_planted_data(planted: dict) -> None:
    """Not vacuous: the runs wrote what they write, and read lines carrying the planted data."""
    out = planted["out"]
    for iid in INCIDENTS:
        for name in ("report.html", "summary.json", "ledger.parquet", "run.json", "notebooks/report.ipynb"):
            assert (out / iid / name).exists(), f"{iid}/{name}"
    roster = planted["roster"]
    assert set(roster["name"].dropna()) == {name for name, _ in PLANTED}
    assert set(roster["phone"].dropna()) == {phone for _, phone in PLANTED}
    assert roster["name"].isna().sum() == roster["phone"].isna().sum() == 1
    for iid in INCIDENTS:
        ledger = pq.read_table(out / iid / "ledger.parquet", columns=["line_id"]).column(0).to_pylist()
        names = set(roster.set_index("line_id").loc[ledger, "name"].dropna())
        assert names == {name for name, _ in PLANTED}, iid  # every identity is among the lines analysed
    assert any(planted["logs"].glob("*.stderr.log"))


def test_no_planted_name_phone_or_secret_in_any_output_or_log(planted: dict) -> None:
    files = _output_files(planted)
    assert len(files) >= 12
    leaks = []
    for path in files:
        for text in readable_text(path):
            for pattern in FORBIDDEN:
                match = re.search(pattern, text)
                if match:
                    start = max(0, match.start() - 60)
                    leaks.append(f"{path}: {pattern!r}: …{text[start:match.end() + 60]!r}…")
    assert not leaks, "\n".join(leaks[:20])


def test_ledgers_and_summaries_carry_no_personal_columns(planted: dict) -> None:
    for iid in INCIDENTS:
        names = set(pq.read_schema(planted["out"] / iid / "ledger.parquet").names)
        assert not names & {"name", "phone", "plan"}, iid
        summary = json.loads((planted["out"] / iid / "summary.json").read_text(encoding="utf-8"))
        assert "name" not in summary and "phone" not in summary


def test_the_billing_report_shows_the_sms_sample_masked(planted: dict) -> None:
    """The sample lists the first three lines of each SMS batch, by line id, with masked name and
    phone: each of those masked forms is in the report (and in its notebook), every identity is among
    them, and the report's sample rows are exactly these lines."""
    folder = planted["out"] / "pii-billing"
    ledger = pq.read_table(folder / "ledger.parquet").to_pandas()
    sample = ledger.sort_values("line_id").groupby(["settled_on", "payment_method"]).head(3).sort_values(
        ["settled_on", "payment_method", "line_id"])
    roster = planted["roster"].set_index("line_id")
    def masked(value: object, mask) -> str:
        return "" if pd.isna(value) else mask(value)

    expected = [(str(line_id), masked(roster.loc[line_id, "name"], present.mask_name),
                 masked(roster.loc[line_id, "phone"], present.mask_phone)) for line_id in sample["line_id"]]
    names = roster.loc[sample["line_id"], "name"]
    assert set(names.dropna()) == {name for name, _ in PLANTED} and names.isna().sum() == 1
    assert ("", "") in {(name, phone) for _, name, phone in expected}  # the line without name and phone
    shown_masks = {m for _, name, phone in expected for m in (name, phone)}
    assert {"황***트", "홍*동", "김*수", "남**수", "제**명", "010-****-5432", "****************",
            "010-****-1357", "02-***-0199"} <= shown_masks
    page = html.unescape((folder / "report.html").read_text(encoding="utf-8"))
    table = page[page.index("배치별 수신자 예시"):]
    table = table[: table.index("</table>")]
    rows = [re.findall(r"<td>([^<]*)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)]
    shown = [tuple(cells[2:5]) for cells in rows if cells]  # (line, name, phone) after method and message
    assert shown == expected
    notebook = "\n".join(_strings(json.loads((folder / "notebooks" / "report.ipynb").read_text(encoding="utf-8"))))
    for text in shown_masks - {""}:
        assert text in notebook, text


def test_papermill_parameters_hold_only_paths_ids_and_options(planted: dict) -> None:
    """What papermill records in the executed notebooks: the incident's path, the run folder and,
    for a billing error, the bills path (the roster option unset) — nothing from the roster, nothing
    from the environment."""
    project, out = planted["project"], planted["out"]
    for iid in INCIDENTS:
        nb = nbformat.read(out / iid / "notebooks" / "report.ipynb", as_version=4)
        meta = nb.metadata["papermill"]
        params = dict(meta["parameters"])
        allowed = {"incident", "roster", "run_dir"} | ({"bills"} if iid == "pii-billing" else set())
        assert set(params) <= allowed, params
        assert params["incident"] == str((project / "incidents" / f"{iid}.yml").resolve())
        assert params.get("roster") is None
        assert Path(params["run_dir"]).parent == out.resolve() and Path(params["run_dir"]).name.startswith(
            f".staging-{iid}-")
        if iid == "pii-billing":
            assert params["bills"] == str((project / "data" / "bills.parquet").resolve())
        assert not meta.get("environment_variables"), meta.get("environment_variables")
        cell = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
        tree = ast.parse(cell.source)
        assert all(isinstance(node, ast.Assign) for node in tree.body)
        assert {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body} == params
        text = json.dumps(meta, ensure_ascii=False) + cell.source
        for pattern in FORBIDDEN:
            assert not re.search(pattern, text), pattern


def _roster_identities(path: Path) -> tuple[set[str], set[str]]:
    table = pq.read_table(path, columns=["name", "phone"])
    return set(table.column("name").to_pylist()), set(table.column("phone").to_pylist())


def test_committed_notebooks_hold_no_personal_data_of_the_sample_roster() -> None:
    """Every name and phone number of the committed sample roster is looked for in the committed
    notebooks (sources, outputs, metadata): names as any three Hangul syllables in a row, numbers as
    digits with or without separators, and as the last eight digits. The settlement chapter's stored
    SMS sample is there, masked, for the lines it lists."""
    names, phones = _roster_identities(ROOT / "data" / "sample" / "roster.parquet")
    assert len(names) > 1000 and len(phones) > 1000
    digits = {re.sub(r"\D", "", p) for p in phones}
    tails = {d[-8:] for d in digits}
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert len(notebooks) == 3
    for path in notebooks:
        text = "\n".join(_strings(json.loads(path.read_text(encoding="utf-8"))))
        text += html.unescape(text)
        grams = {run[i:i + 3] for run in re.findall(r"[\uac00-\ud7a3]+", text) for i in range(len(run) - 2)}
        assert not grams & names, (path.name, sorted(grams & names)[:5])
        numbers = {re.sub(r"\D", "", m) for m in re.findall(r"\+?\d[\d\-. ]{6,}\d", text)}
        assert not numbers & digits, (path.name, sorted(numbers & digits)[:5])
        eights = {re.sub(r"\D", "", m) for m in re.findall(r"\d{4}[-. ]?\d{4}", text)}
        assert not eights & tails, (path.name, sorted(eights & tails)[:5])
    # The stored sample shows masked forms of the very lines it lists.
    settlement = json.loads((ROOT / "notebooks" / "03_settlement.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in settlement["cells"] if "masked_sample" in "".join(c["source"]))
    shown = "".join(next(o for o in cell["outputs"] if "text/html" in o.get("data", {}))["data"]["text/html"])
    rows = [cells for row in re.findall(r"<tr>(.*?)</tr>", shown, flags=re.S)
            if (cells := re.findall(r"<td>([^<]*)</td>", row))]  # method, message, line, name, phone
    assert rows
    roster = pq.read_table(ROOT / "data" / "sample" / "roster.parquet", columns=["line_id", "name", "phone"],
                           filters=[("line_id", "in", [int(r[2]) for r in rows])]).to_pandas().set_index("line_id")
    for row in rows:
        line_id = int(row[2])
        assert row[3:5] == [present.mask_name(roster.loc[line_id, "name"]),
                            present.mask_phone(roster.loc[line_id, "phone"])], line_id


def test_sms_sample_masks_a_phone_column_stored_as_numbers(tmp_path: Path) -> None:
    """A roster whose phone column is numeric (the leading 0 lost) and whose names have gaps: the
    sample masks the numbers whole and shows the gaps empty, instead of failing the report."""
    import datetime as dt

    import duckdb

    from kt_analysis.settlement import masked_sample

    ledger, roster = tmp_path / "ledger.parquet", tmp_path / "roster.parquet"
    pq.write_table(pa.table({"settled_on": [dt.date(2023, 9, 11)] * 3, "payment_method": ["credit_card"] * 3,
                             "action": ["cancel"] * 3, "line_id": [1, 2, 3]}), ledger)
    pq.write_table(pa.table({"line_id": [1, 2, 3], "name": ["황보플랜트", None, "홍길동"],
                             "phone": pa.array([1098765432, None, 212345678], pa.int64())}), roster)
    con = duckdb.connect()
    frame = masked_sample(con, roster, ledger)
    con.close()
    assert frame["name"].tolist() == ["황***트", "", "홍*동"]
    assert frame["phone"].tolist() == ["*" * 10, "", "*" * 9]
    text = frame.to_string()
    for pattern in FORBIDDEN:
        assert not re.search(pattern, text), pattern
