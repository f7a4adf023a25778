"""Personal data planted in a roster never leaves the tool unmasked — in any file a run writes, in
its logs, or in the committed notebooks — and the environment's secrets never reach an output.

A synthetic roster (``kt_analysis.inputs.synthetic``, 400 lines, with its bills) gets planted customer names
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

Both runs also print ``report.pdf`` (``--pdf``); its text, extracted with ``pdftotext`` (poppler-utils,
installed by ``.ci/run``; the PDF's text is in subset fonts, so its bytes alone show nothing), is
searched too, and must show the masked sample. The outage is run a third time on Spark
(``--engine spark``, its own output folder), with the JVM's temp folder (``java.io.tmpdir``, which is
also Spark's ``spark.local.dir``: ``/tmp/spark-*``, ``blockmgr-*`` by default) moved into the test's
own folder and Spark's scratch written uncompressed (``KT_SPARK_CONF``) so that bytes can be searched;
its stderr (Spark's log) is searched like the other logs. Spark deletes its scratch (the run's
``.spark`` work folder under the output, the block manager) before it ends, so a watcher copies
every file that appears under the output folders, ``TMPDIR`` and the JVM's temp folder while the
runs go (polling every 50 ms), and the copies are searched as well.

A phone number in a free-text column (``region``, ``facility_id``: shown in reports as written) is
refused by the roster check with exit 2, naming the column and the row with the number masked. A
personal name there cannot be told from a place name (regions are Korean words, 서울): it is not
detected, and place names are shown unmasked (SECURITY.md, known limits).
"""

from __future__ import annotations

import ast
import html
import json
import os
import re
import shutil
import stat
import subprocess
import threading
from pathlib import Path

import nbformat
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kt_analysis.inputs.synthetic import generate_bill_items, generate_bills, generate_roster
from kt_analysis.report import present

from .conftest import CHROMIUM, KT, ROOT

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
PDFTOTEXT = shutil.which("pdftotext")
# Spark's scratch in clear (no compression of shuffle, spill, broadcast blocks or Parquet parts), so
# that a name or number written there is found in its bytes; two shuffle partitions for 400 lines
# (Spark's 200 cost most of the run's time). KT_SPARK_CONF is the product's own setting.
SPARK_CONF = ",".join(["spark.shuffle.compress=false", "spark.shuffle.spill.compress=false",
                       "spark.broadcast.compress=false", "spark.rdd.compress=false",
                       "spark.sql.parquet.compression.codec=uncompressed", "spark.sql.shuffle.partitions=2"])
INCIDENTS = {
    "pii-outage": """\
id: pii-outage
title: 개인정보 시험 — 전국 장애
kind: outage
timezone: Asia/Seoul
policy: kt-2021-10-25-special
roster: ../data/roster.parquet
bill_items: ../data/bill_items.parquet
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
roster: ../data/roster.parquet
billing:
  wrong_month: "2023-09"
  charged_month: "2023-07"
  bills: ../data/bills.parquet
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


class _Watcher(threading.Thread):
    """Copies every regular file under ``folders`` into ``dest`` (``dest/<label>/<path>``) each time
    its size or time changes, and notes every folder, while the runs go: scratch a run deletes
    before it ends is searched too. A file that lives less than one poll (50 ms) may be missed."""

    def __init__(self, folders: dict[str, Path], dest: Path) -> None:
        super().__init__(daemon=True)
        self.folders, self.dest = folders, dest
        self.done = threading.Event()
        self.versions: dict[Path, tuple[int, int]] = {}
        self.dirs: set[str] = set()

    def run(self) -> None:
        while not self.done.is_set():
            self.poll()
            self.done.wait(0.05)
        self.poll()

    def poll(self) -> None:
        for label, folder in self.folders.items():
            for dirpath, _dirs, names in os.walk(folder):
                rel = Path(dirpath).relative_to(folder)
                self.dirs.add(f"{label}/{rel}")
                for name in names:
                    path = Path(dirpath) / name
                    try:
                        st = path.lstat()
                        if not stat.S_ISREG(st.st_mode) or self.versions.get(path) == (st.st_size, st.st_mtime_ns):
                            continue  # sockets and FIFOs (the kernel's IPC) are not files to read
                        target = self.dest / label / rel / name
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(path, target)
                        self.versions[path] = (st.st_size, st.st_mtime_ns)
                    except OSError:
                        continue  # gone while being copied


def _runs(project: Path, out: Path, spark_out: Path, jvmtmp: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """label → (arguments, extra environment). ``--pdf`` when Chromium is there (always in CI)."""
    pdf = ["--pdf"] if CHROMIUM or os.environ.get("CI") else []
    incidents = project / "incidents"
    runs = {iid: (["run", str(incidents / f"{iid}.yml"), "--out", str(out), *pdf], {}) for iid in INCIDENTS}
    runs["pii-outage-spark"] = (
        ["run", str(incidents / "pii-outage.yml"), "--out", str(spark_out), "--engine", "spark"],
        {"JAVA_TOOL_OPTIONS": f"-Djava.io.tmpdir={jvmtmp}", "KT_SPARK_CONF": SPARK_CONF})
    return runs


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("pii")
    project = base / "project"
    project.mkdir(parents=True)
    roster = generate_roster(400, 20240101, project / "data")
    frame = _plant(roster)
    generate_bills(roster, 20240101, project / "data", first_month="2023-07", months=3)
    generate_bill_items(roster, 20240101, project / "data", months=["2021-10"])  # the 2021 special's basis
    incidents = project / "incidents"
    incidents.mkdir()
    for iid, text in INCIDENTS.items():
        (incidents / f"{iid}.yml").write_text(text, encoding="utf-8")
    out, spark_out, tmp, jvmtmp, logs = (base / "reports", base / "reports-spark", base / "tmp", base / "jvmtmp",
                                         base / "logs")
    for folder in (out, spark_out, tmp, jvmtmp, logs):
        folder.mkdir()
    watcher = _Watcher({"reports": out, "reports-spark": spark_out, "tmp": tmp, "jvmtmp": jvmtmp}, base / "seen")
    watcher.start()
    env = {**os.environ, SECRET_VAR: SECRET, "TMPDIR": str(tmp)}
    env.pop("KT_SPARK_CONF", None)
    runs = _runs(project, out, spark_out, jvmtmp)
    try:
        procs = {label: subprocess.Popen([str(KT), *args], cwd=project, env={**env, **extra}, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
                 for label, (args, extra) in runs.items()}
        for label, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=900)
            (logs / f"{label}.stdout.log").write_text(stdout, encoding="utf-8")
            (logs / f"{label}.stderr.log").write_text(stderr, encoding="utf-8")
            assert proc.returncode == 0, stderr
            assert "Traceback" not in stderr
        # The same options as the runs: both are up to date and kept (with their PDFs); the index is written.
        pdf = [a for a in runs["pii-outage"][0] if a == "--pdf"]
        index = subprocess.run([str(KT), "run-all", str(incidents), "--out", str(out), *pdf], cwd=project, env=env,
                               capture_output=True, text=True, timeout=900)
    finally:
        watcher.done.set()
        watcher.join()
    (logs / "run-all.stdout.log").write_text(index.stdout, encoding="utf-8")
    (logs / "run-all.stderr.log").write_text(index.stderr, encoding="utf-8")
    assert index.returncode == 0, index.stderr
    assert (out / "index.html").exists()
    return {"project": project, "out": out, "spark_out": spark_out, "tmp": tmp, "jvmtmp": jvmtmp, "logs": logs,
            "seen": base / "seen", "watched_dirs": watcher.dirs, "roster": frame, "pdf": bool(pdf)}


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
    if path.suffix == ".pdf" and PDFTOTEXT:
        # The page text as a reader copies it, and the document's metadata (title, author, …); the
        # text also without blanks: pdftotext spaces some glyphs apart (홍 *동).
        for tool in (PDFTOTEXT, shutil.which("pdfinfo")):
            if tool:
                args = [tool, "-enc", "UTF-8", str(path)] + (["-"] if tool == PDFTOTEXT else [])
                done = subprocess.run(args, capture_output=True, timeout=120)
                if done.returncode != 0:
                    raise ValueError(f"{tool} cannot read {path}: {done.stderr[-300:]!r}")
                text = done.stdout.decode("utf-8", errors="replace")
                texts += [text, re.sub(r"\s+", "", text)]
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        texts.append(str(table.schema.metadata))
        texts.append(str(pq.read_metadata(path).metadata))
        for name in table.column_names:
            texts.append(name)
            texts += [str(v) for v in table.column(name).to_pylist()]
    return texts


def _output_files(planted: dict) -> list[Path]:
    """What the runs left: both output folders, TMPDIR, the JVM's temp folder, the logs, and anything
    new in the project folder (the working directory: Spark's spark-warehouse, derby.log, …) other than
    the planted roster, bills and bill items themselves."""
    inputs = {planted["project"] / "data" / name for name in ("roster.parquet", "bills.parquet", "bill_items.parquet")}
    folders = ("out", "spark_out", "tmp", "jvmtmp", "logs", "project")
    files = [p for key in folders for p in planted[key].rglob("*") if p.is_file() and p not in inputs]
    return sorted(files)


def _leaks(path: Path, texts: list[str]) -> list[str]:
    leaks = []
    for text in texts:
        for pattern in FORBIDDEN:
            match = re.search(pattern, text)
            if match:
                start = max(0, match.start() - 60)
                leaks.append(f"{path}: {pattern!r}: …{text[start:match.end() + 60]!r}…")
    return leaks


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
        leaks += _leaks(path, readable_text(path))
    assert not leaks, "\n".join(leaks[:20])


def test_no_planted_data_in_any_file_seen_while_the_runs_went(planted: dict) -> None:
    """The watcher's copies: staging files, Spark's work folder and block manager, the kernel's and
    Chromium's temp files. A copy may be caught half-written: its parsed forms are read when it
    parses, its bytes always."""
    copies = sorted(p for p in planted["seen"].rglob("*") if p.is_file())
    leaks = []
    for path in copies:
        try:
            texts = readable_text(path)
        except Exception:  # half-written Parquet, JSON or PDF
            texts = [path.read_bytes().decode("utf-8", errors="replace")]
        leaks += _leaks(path, texts)
    assert not leaks, "\n".join(leaks[:20])


def test_the_spark_run_and_its_scratch_were_searched(planted: dict) -> None:
    """Not vacuous: Spark ran (its summary equals the DuckDB run's), wrote its scratch in the JVM's
    temp folder the test moved (block manager and spark-* folders, seen while it ran) and its
    ledger parts in the run's ``.spark`` work folder (seen, then removed), and logged on stderr."""
    spark = json.loads((planted["spark_out"] / "pii-outage" / "summary.json").read_text(encoding="utf-8"))
    duck = json.loads((planted["out"] / "pii-outage" / "summary.json").read_text(encoding="utf-8"))
    assert spark["total_credit_krw"] == duck["total_credit_krw"] > 0
    run = json.loads((planted["spark_out"] / "pii-outage" / "run.json").read_text(encoding="utf-8"))
    assert run["engine"] == "spark"
    dirs = planted["watched_dirs"]
    assert any(re.match(r"jvmtmp/blockmgr-", d) for d in dirs), sorted(dirs)[:20]
    assert any(re.match(r"jvmtmp/spark-", d) for d in dirs), sorted(dirs)[:20]
    parts = [p for p in (planted["seen"] / "reports-spark").rglob("part-*.parquet") if "/.spark/ledger/" in str(p)]
    assert parts, "the watcher never saw Spark's ledger parts"
    assert not any(planted["spark_out"].rglob(".spark")), "the .spark work folder is left behind"
    assert "starting Spark" in (planted["logs"] / "pii-outage-spark.stderr.log").read_text(encoding="utf-8")


def test_the_pdfs_show_the_masked_sample_and_nothing_planted(planted: dict) -> None:
    """``--pdf``: the billing report's PDF text holds the masked SMS sample (so the extraction reads
    Hangul and the search above is not vacuous) and no planted name or number."""
    if not planted["pdf"]:
        pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it")
    if PDFTOTEXT is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install poppler-utils for pdftotext (see .ci/run)")
        pytest.skip("pdftotext is not installed (apt-get install poppler-utils); CI installs it")
    pdfs = {iid: planted["out"] / iid / "report.pdf" for iid in INCIDENTS}
    assert all(p.exists() for p in pdfs.values())
    billing = readable_text(pdfs["pii-billing"])[2]  # the page text without blanks
    summary = json.loads((planted["out"] / "pii-billing" / "summary.json").read_text(encoding="utf-8"))
    assert f"{summary['total_charged_krw']:,}" in billing  # the card puts 원 on a line of its own
    for masked in ("황***트", "홍*동", "010-****-5432", "02-***-0199"):
        assert masked in billing, masked
    for iid, pdf in pdfs.items():
        assert not _leaks(pdf, readable_text(pdf)), iid


def test_the_pdf_search_finds_what_a_pdf_shows(tmp_path: Path) -> None:
    """Negative control: a page showing a planted name and number, printed as the product prints,
    is caught by the same search (the text is in subset fonts: only the extracted text shows it)."""
    if not (CHROMIUM and PDFTOTEXT):
        if os.environ.get("CI"):
            pytest.fail("CI must install Chromium and poppler-utils (see .ci/run)")
        pytest.skip("needs Chromium and pdftotext (apt-get install chromium poppler-utils)")
    from kt_analysis.jobs.run import render_pdf

    page = tmp_path / "page.html"
    page.write_text('<html><head><meta charset="utf-8"></head><body><table><tr><td>홍길동</td>'
                    "<td>010-9876-5432</td></tr></table></body></html>", encoding="utf-8")
    render_pdf(page, tmp_path / "page.pdf")
    assert "홍길동" not in (tmp_path / "page.pdf").read_bytes().decode("utf-8", errors="replace")
    found = "\n".join(_leaks(tmp_path / "page.pdf", readable_text(tmp_path / "page.pdf")))
    assert "홍길동" in found and "9876" in found, found


FREE_TEXT_INCIDENT = """\
id: free-text
title: 자유 입력 열의 전화번호
kind: outage
timezone: Asia/Seoul
policy: kt-terms-2022
roster: data/roster.parquet
affected:
  services: [mobile, internet, iptv, landline]
  windows:
    - {start: 2024-03-04T10:00, end: 2024-03-04T14:00, where: all}
"""


@pytest.mark.parametrize(("column", "value", "masked"), [
    ("region", "010-9876-5432", "'010-****-5432'"),
    ("region", "서울 01098765432", "'서울 010****5432'"),
    ("facility_id", "+82-10-9876-5432", "'+82-**-****-5432'"),
])
def test_a_phone_number_in_a_free_text_column_is_refused(tmp_path: Path, column: str, value: str,
                                                         masked: str) -> None:
    """``region`` and ``facility_id`` are shown in reports as written: a phone number shifted into
    one (rows 3 and 8 here) is refused at the roster check — ``run`` and ``validate`` exit 2 naming
    the column and the rows, the number masked; nothing is written."""
    project = tmp_path / "project"
    roster = generate_roster(40, 7, project / "data")
    table = pq.read_table(roster)
    values = table.column(column).to_pylist()
    values[2] = values[7] = value
    pq.write_table(table.set_column(table.schema.get_field_index(column), column, pa.array(values, pa.string())),
                   roster)
    (project / "incident.yml").write_text(FREE_TEXT_INCIDENT, encoding="utf-8")
    out = tmp_path / "reports"
    for args in (["run", "incident.yml", "--no-report", "--out", str(out)], ["validate", str(roster)]):
        done = subprocess.run([str(KT), *args], cwd=project, capture_output=True, text=True, timeout=300)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert f"column {column}: 2 row(s) hold a phone number: row 3 ({masked}), row 8 ({masked})" in done.stderr
        assert "Traceback" not in done.stderr
        for pattern in FORBIDDEN:
            assert not re.search(pattern, done.stdout + done.stderr), (args, pattern, done.stderr)
    assert not (out / "free-text").exists()


def test_ledgers_and_summaries_carry_no_personal_columns(planted: dict) -> None:
    for iid in INCIDENTS:
        names = set(pq.read_schema(planted["out"] / iid / "ledger.parquet").names)
        assert not names & {"name", "phone", "plan"}, iid
        summary = json.loads((planted["out"] / iid / "summary.json").read_text(encoding="utf-8"))
        assert "name" not in summary and "phone" not in summary
        # The one place a summary names people: the report's sample of SMS recipients, masked.
        for person in summary.get("recipients_sample", []):
            for key in ("name", "phone"):
                assert person[key] == "" or "*" in person[key], (iid, key)
    assert any(summary.get("recipients_sample") for summary in (
        json.loads((planted["out"] / iid / "summary.json").read_text(encoding="utf-8")) for iid in INCIDENTS))


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
        allowed = {"incident", "roster", "run_dir"} | ({"bills"} if iid == "pii-billing" else {"bill_items"})
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
    assert [p.name for p in notebooks] == ["00_explore.ipynb", "01_affected.ipynb", "02_credits.ipynb",
                                           "03_settlement.ipynb"]
    for path in notebooks:
        book = json.loads(path.read_text(encoding="utf-8"))
        text = "\n".join(_strings(book))
        text += html.unescape(text)
        # In what the notebook shows (outputs, code), any three syllables that are a roster name; in
        # its prose (markdown), a name standing as a word — Korean words hold names' syllables
        # (설명하고 = 설명하 + 고), and prose is written by people, not drawn from the roster.
        prose = "\n".join("".join(c["source"]) for c in book["cells"] if c["cell_type"] == "markdown")
        shown = "\n".join(_strings([c for c in book["cells"] if c["cell_type"] == "code"]))
        shown += html.unescape(shown)
        grams = {run[i:i + 3] for run in re.findall(r"[\uac00-\ud7a3]+", shown) for i in range(len(run) - 2)}
        assert not grams & names, (path.name, sorted(grams & names)[:5])
        words = set(re.findall(r"[\uac00-\ud7a3]+", prose))
        assert not words & names, (path.name, sorted(words & names)[:5])
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

    from kt_analysis.engine.billing import masked_sample

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
