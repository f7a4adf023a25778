"""The distributed engine: the same incident on DuckDB and on Spark gives the same ledger and summary.

Spark runs in local mode here (``local[2]``, both cores), started once for the module. CI installs
PySpark (the ``dev`` extra) and a Java runtime (``.ci/run``), so there these tests fail rather than
skip when either is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kt_analysis.engine.figures import credit_distribution
from kt_analysis.errors import InputError
from kt_analysis.inputs.incident import load_incident
from kt_analysis.jobs.analyse import analyse

from .conftest import ROOT, kt

INCIDENTS = ROOT / "data" / "incidents"
OUTAGES = ["kt-2021-10-25-nationwide", "kt-2018-11-24-ahyeon-fire", "kt-2024-08-10-landline"]


def _ledger(path: Path) -> pa.Table:
    """The ledger's rows in line_id order, with the column types (nullability aside)."""
    table = pq.read_table(path)
    schema = pa.schema([pa.field(f.name, f.type) for f in table.schema])
    return table.cast(schema).sort_by("line_id")


def _both(incident_path: Path, tmp: Path, spark, roster: Path | None = None) -> tuple[Path, Path]:
    incident = load_incident(incident_path, roster=roster)
    a, b = tmp / "duckdb", tmp / "spark"
    analyse(incident, a, engine="duckdb")
    analyse(incident, b, engine="spark", spark=spark)
    return a, b


@pytest.mark.slow
@pytest.mark.parametrize("incident_id", OUTAGES)
def test_both_engines_give_the_same_ledger_and_summary(incident_id: str, tmp_path: Path, spark) -> None:
    a, b = _both(INCIDENTS / f"{incident_id}.yml", tmp_path, spark)
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    left, right = _ledger(a / "ledger.parquet"), _ledger(b / "ledger.parquet")
    assert left.schema == right.schema
    assert left.num_rows == right.num_rows > 0
    assert left.equals(right)
    summary = json.loads((b / "summary.json").read_text(encoding="utf-8"))
    assert summary["total_credit_krw"] == sum(right.column("credit_krw").to_pylist()) > 0
    # Spark's ledger is in line_id order.
    ids = pq.read_table(b / "ledger.parquet", columns=["line_id"]).column("line_id").to_pylist()
    assert ids == sorted(ids)


@pytest.mark.slow
def test_an_incident_reaching_no_line_gives_the_same_empty_ledger(tmp_path: Path, spark) -> None:
    roster = tmp_path / "mobile_only.parquet"
    duckdb.sql(f"COPY (SELECT * FROM '{ROOT / 'data' / 'sample' / 'roster.parquet'}' WHERE service = 'mobile') "
               f"TO '{roster}'")
    # A landline incident over a roster without landlines: refused on both engines ...
    for engine in ("duckdb", "spark"):
        with pytest.raises(InputError, match="`landline`: no line of the roster"):
            analyse(load_incident(INCIDENTS / "kt-2024-08-10-landline.yml", roster=roster), tmp_path / engine,
                    engine=engine, spark=spark)
    # ... unless the incident allows it: then both give the same empty ledger and summary.
    project = tmp_path / "project"
    shutil.copytree(ROOT / "kt_analysis" / "catalogue" / "policies", project / "data" / "policies")
    allowed = project / "data" / "incidents" / "landline.yml"
    allowed.parent.mkdir()
    shutil.copy(INCIDENTS / "kt-2024-08-10-landline.windows.csv", allowed.parent)
    (project / "data" / "sample").mkdir()
    shutil.copy(ROOT / "data" / "sample" / "bill_items.parquet", project / "data" / "sample")  # the what-if's
    allowed.write_text((INCIDENTS / "kt-2024-08-10-landline.yml").read_text(encoding="utf-8").replace(
        "affected:\n", "affected:\n  allow_unmatched: true\n"), encoding="utf-8")
    a, b = _both(allowed, tmp_path, spark, roster=roster)
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    summary = json.loads((b / "summary.json").read_text(encoding="utf-8"))
    assert summary["affected_lines"] == 0 and summary["reach"][0]["lines"] == 0
    left, right = _ledger(a / "ledger.parquet"), _ledger(b / "ledger.parquet")
    assert left.num_rows == right.num_rows == 0
    assert left.schema == right.schema


@pytest.mark.slow
def test_spark_runs_are_byte_identical_and_a_csv_roster_works(tmp_path: Path, spark) -> None:
    """A CSV roster (converted on the driver once) gives what the Parquet roster gives, and two Spark
    runs on the same inputs write the same bytes."""
    csv = tmp_path / "roster.csv"
    duckdb.sql(f"COPY (SELECT * FROM '{ROOT / 'data' / 'sample' / 'roster.parquet'}') TO '{csv}' (HEADER)")
    incident = load_incident(INCIDENTS / "kt-2024-08-10-landline.yml", roster=csv)
    first, second = tmp_path / "first", tmp_path / "second"
    analyse(incident, first, engine="spark", spark=spark)
    analyse(incident, second, engine="spark", spark=spark)
    for name in ("summary.json", "ledger.parquet"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    parquet = tmp_path / "parquet"
    analyse(load_incident(INCIDENTS / "kt-2024-08-10-landline.yml"), parquet, engine="duckdb")
    left = json.loads((parquet / "summary.json").read_text(encoding="utf-8"))
    right = json.loads((first / "summary.json").read_text(encoding="utf-8"))
    left.pop("inputs"), right.pop("inputs")  # the roster files differ by name and digest
    assert left == right
    assert not list(first.glob(".spark*")), "the Spark work folder is removed"


@pytest.mark.slow
def test_cli_runs_the_spark_engine_with_its_report(tmp_path: Path, spark) -> None:
    nationwide = INCIDENTS / "kt-2021-10-25-nationwide.yml"
    result = kt("run", nationwide, "--engine", "spark", "--spark-master", "local[1]", "--out", tmp_path / "spark")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "starting Spark (local[1])" in result.stderr
    folder = tmp_path / "spark" / "kt-2021-10-25-nationwide"
    meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert meta["status"] == "ok" and meta["engine"] == "spark"
    base = kt("-q", "run", nationwide, "--no-report", "--out", tmp_path / "duckdb")
    assert base.returncode == 0, base.stderr
    assert (folder / "summary.json").read_bytes() == \
        (tmp_path / "duckdb" / "kt-2021-10-25-nationwide" / "summary.json").read_bytes()
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    from kt_analysis.report import present

    assert present.krw(summary["total_credit_krw"]) in (folder / "report.html").read_text(encoding="utf-8")


def test_billing_errors_stay_on_duckdb(tmp_path: Path) -> None:
    result = kt("run", INCIDENTS / "kt-2023-09-billing-error.yml", "--engine", "spark", "--no-report",
                "--out", tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "billing errors run on the duckdb engine" in result.stderr
    assert not (tmp_path / "kt-2023-09-billing-error").exists()


def test_missing_pyspark_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from kt_analysis.engine import spark_engine

    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(InputError, match=r"needs PySpark.*pip install 'kt-analysis\[spark\]'"):
        spark_engine._import_pyspark()


def test_missing_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from kt_analysis.engine import spark_engine

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark_engine.shutil, "which", lambda _name: None)
    with pytest.raises(InputError, match="openjdk-17-jre-headless"):
        spark_engine._check_java()


def test_spark_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from kt_analysis.engine import spark_engine

    monkeypatch.setenv("KT_SPARK_MASTER", "spark://10.0.0.1:7077")
    assert spark_engine.master_url() == "spark://10.0.0.1:7077"
    assert spark_engine.master_url("local[1]") == "local[1]"
    monkeypatch.setenv("KT_SPARK_CONF", "spark.driver.memory=4g, spark.sql.shuffle.partitions=8")
    assert spark_engine.extra_conf() == {"spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "8"}
    monkeypatch.setenv("KT_SPARK_CONF", "driver.memory")
    with pytest.raises(InputError, match="spark.key=value"):
        spark_engine.extra_conf()


@pytest.mark.parametrize("values", [[5], [1, 2], [3, 1, 2, 2], list(range(1, 101)), [0] * 7 + [9] * 3,
                                    list(range(1000, 0, -7)), [7] * 1000 + [8], [1] + [2] * 999])
def test_quantiles_from_counts_match_quantile_disc(values: list[int], tmp_path: Path) -> None:
    """Both engines take quantiles from the count of lines per credit (DISTRIBUTION_SQL); they must
    be DuckDB's quantile_disc over every line."""
    ledger = tmp_path / "ledger.parquet"
    pq.write_table(pa.table({"credit_krw": pa.array(values, pa.int64()), "eligible": [True] * len(values)}), ledger)
    con = duckdb.connect()
    row = con.execute("SELECT min(credit_krw), quantile_disc(credit_krw, 0.5), quantile_disc(credit_krw, 0.9), "
                      f"quantile_disc(credit_krw, 0.99), max(credit_krw) FROM '{ledger}'").fetchone()
    assert tuple(credit_distribution(con, ledger).values()) == row


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def standalone_cluster(spark, tmp_path_factory: pytest.TempPathFactory):
    """A Spark standalone cluster on the loopback address: a master and a worker, each its own JVM,
    started with the launcher PySpark ships (the worker then starts the executor JVM)."""
    import subprocess
    import time

    import pyspark

    home = Path(pyspark.__file__).parent
    work = tmp_path_factory.mktemp("spark-cluster")
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(work)}
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    procs, logs = [], []
    for name, args in (
        ("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                    "--webui-port", str(_free_port())]),
        ("worker", ["org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "2",
                    "--memory", "2g", "--webui-port", str(_free_port()), "--work-dir", str(work / "executors")]),
    ):
        log = work / f"{name}.log"
        logs.append(log)
        procs.append(subprocess.Popen([str(home / "bin" / "spark-class"), *args], env=env, cwd=work,
                                      stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + 60
        ready = "Starting Spark master" if name == "master" else "Successfully registered with master"
        while ready not in log.read_text(errors="replace"):
            assert procs[-1].poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.5)
    try:
        yield url
    finally:
        import signal

        for proc in reversed(procs):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


@pytest.mark.slow
def test_a_standalone_cluster_gives_the_same_results(standalone_cluster: str, tmp_path: Path) -> None:
    """`--spark-master spark://…` — the README's way of pointing the engine at a cluster — on a
    master, a worker and its executor, each a separate JVM on this machine."""
    import subprocess

    from .conftest import KT

    incident = INCIDENTS / "kt-2018-11-24-ahyeon-fire.yml"
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    result = subprocess.run([str(KT), "run", str(incident), "--engine", "spark", "--spark-master", standalone_cluster,
                             "--no-report", "--out", str(tmp_path / "cluster")],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert f"starting Spark ({standalone_cluster})" in result.stderr
    base = kt("-q", "run", incident, "--no-report", "--out", tmp_path / "duckdb")
    assert base.returncode == 0, base.stderr
    a = tmp_path / "duckdb" / "kt-2018-11-24-ahyeon-fire"
    b = tmp_path / "cluster" / "kt-2018-11-24-ahyeon-fire"
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    assert _ledger(a / "ledger.parquet").equals(_ledger(b / "ledger.parquet"))
