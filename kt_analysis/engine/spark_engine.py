"""The same rules on Apache Spark: ``kt-analysis run --engine spark``.

What runs on Spark: the per-line pass (each line's exposure, eligibility and credit), the what-if
over every catalogue policy, and every figure of the summary (totals, distinct customers,
breakdowns, credit distribution, the credit timeline). The rules are not rewritten for Spark:
:func:`kt_analysis.rules.credits.compile_policy` builds one expression tree per decision and
:mod:`kt_analysis.engine.dialect` renders it in Spark's dialect (integer division is ``DIV`` there,
a list lookup ``TRY_ELEMENT_AT``), and the summary's queries are the ones the DuckDB engine runs
wherever the two engines read the same SQL. Spark runs in ANSI mode, so an int64 overflow stops
the run as it does in DuckDB instead of wrapping.

What stays on the driver, with the DuckDB engine's code: the roster check (so its messages name
the same rows and fixes), the exposure per (service, region, facility) key — a few thousand rows,
broadcast to every executor — and the final ledger file. Spark writes the ledger as part files
sorted by ``line_id``; the driver streams them, in order, into the one ``ledger.parquet`` the
report reads, in fixed row groups, so the same inputs give the same bytes.

Where it runs is the connection setting: ``--spark-master`` or ``KT_SPARK_MASTER`` (default
``local[2]``: both cores of this machine). Any other Spark setting comes from Spark's own
``spark-defaults.conf`` (``SPARK_CONF_DIR``) or ``KT_SPARK_CONF`` (``key=value,key=value``). On a
cluster the roster and the output folder must be on a filesystem the driver and every executor
see at the same path.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kt_analysis.dbrow import connect, quote
from kt_analysis.engine.dialect import render, render_policy
from kt_analysis.engine.duckdb_engine import (
    LEDGER_COLUMNS,
    PerLine,
    Progress,
    add_fees,
    check_plans,
    ledger_select,
    months_per_key,
    prepare,
    roster_spellings,
)
from kt_analysis.engine.fees import fees_sql, with_fees
from kt_analysis.engine.figures import (
    RESTORATION_TABLE,
    Figures,
    Query,
    incident_figures,
    restoration_curve,
    with_own_policy,
)
from kt_analysis.engine.month import month_figures, month_lines_sql, with_month
from kt_analysis.errors import InputError, RunError
from kt_analysis.inputs.business_days import calendar_for
from kt_analysis.inputs.incident import Incident, catalogue_policies
from kt_analysis.inputs.policy import Policy
from kt_analysis.inputs.schema import INTEGER_COLUMNS, TEXT_COLUMNS
from kt_analysis.paths import TEMPLATES
from kt_analysis.rules.credits import across_month, compile_policy, month_thresholds
from kt_analysis.rules.impact import EXPOSURE_COLUMNS
from kt_analysis.rules.restoration import CURVE_COLUMNS, RESTORED
from kt_analysis.rules.timeline import credit_days, credit_on

DEFAULT_MASTER = "local[2]"
MASTER_ENV = "KT_SPARK_MASTER"
CONF_ENV = "KT_SPARK_CONF"
LOCAL_DRIVER_MEMORY = "4g"
ROW_GROUP = 1_000_000
LINES_PER_PART = 2_000_000


def master_url(master: str | None = None) -> str:
    return master or os.environ.get(MASTER_ENV) or DEFAULT_MASTER


def extra_conf() -> dict[str, str]:
    """``KT_SPARK_CONF=spark.driver.memory=4g,spark.executor.memory=8g`` → a dict."""
    text = os.environ.get(CONF_ENV, "").strip()
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip().startswith("spark."):
            raise InputError(CONF_ENV, item, "is not a Spark setting of the form spark.key=value",
                             "write e.g. KT_SPARK_CONF=spark.driver.memory=4g,spark.sql.shuffle.partitions=64")
        out[key.strip()] = value.strip()
    return out


def _import_pyspark() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("--engine spark", "", "needs PySpark, which is not installed",
                         "pip install 'kt-analysis[spark]' (and a Java 17+ runtime), or run with --engine duckdb"
                         ) from None
    return SparkSession


def _check_java() -> None:
    home = os.environ.get("JAVA_HOME")
    if (home and (Path(home) / "bin" / "java").exists()) or shutil.which("java"):
        return
    raise InputError("--engine spark", "", "needs a Java runtime (17 or newer) for Spark, and none is on PATH",
                     "install one (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME")


def log4j_config() -> Path:
    return TEMPLATES / "spark-log4j2.properties"


@contextmanager
def spark_session(master: str | None = None) -> Iterator[Any]:
    """A Spark session for one run (stopped at the end), in ANSI mode, quiet, in UTC."""
    session_cls = _import_pyspark()
    _check_java()
    quiet = f"-Dlog4j2.configurationFile={log4j_config().as_uri()}"
    builder = (
        session_cls.builder.master(master_url(master)).appName("kt-analysis")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.ansi.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.compression.codec", "zstd")
        .config("spark.driver.extraJavaOptions", quiet)
        .config("spark.executor.extraJavaOptions", quiet)
    )
    if master_url(master).startswith("local"):
        # Local mode talks to itself only: bind the driver to the loopback address, not the
        # machine's network interface.
        # The driver is the executor too: give it room to sort a large ledger without spilling
        # at every step (Spark's default is 1 GiB); KT_SPARK_CONF overrides it.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = (builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.driver.memory", LOCAL_DRIVER_MEMORY))
    for key, value in extra_conf().items():
        builder = builder.config(key, value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            spark = builder.getOrCreate()
        except Exception as exc:  # the JVM did not start, or the master refused us
            raise RunError(f"Spark did not start at {master_url(master)}: {str(exc).splitlines()[0]}") from None
    try:
        yield spark
    finally:
        spark.stop()


@dataclass
class SparkQuery(Query):
    spark: Any

    def rows(self, sql: str) -> list[tuple]:
        return [tuple(r) for r in self.spark.sql(sql).collect()]

    def frame(self, sql: str) -> pd.DataFrame:
        df = self.spark.sql(sql)
        return pd.DataFrame.from_records([tuple(r) for r in df.collect()], columns=df.columns)


def _exposure_frame(spark: Any, exposure: pd.DataFrame, keys: tuple[str, ...]) -> Any:
    from pyspark.sql import types as T

    fields = [T.StructField(k, T.StringType()) for k in keys]
    for c in EXPOSURE_COLUMNS:
        kind = T.TimestampNTZType() if c in ("outage_start", "outage_end") else T.LongType()
        fields.append(T.StructField(c, kind))
    rows = []
    for rec in exposure[[*keys, *EXPOSURE_COLUMNS]].itertuples(index=False, name=None):
        rows.append(tuple(v.to_pydatetime() if isinstance(v, pd.Timestamp) else
                          (int(v) if not isinstance(v, str) else v) for v in rec))
    return spark.createDataFrame(rows, T.StructType(fields))


def _restoration_frame(spark: Any, table: pd.DataFrame, keys: tuple[str, ...]) -> Any:
    """A restoration plan's per-key figures (rules.restoration.restoration_plan) as a Spark frame."""
    from pyspark.sql import types as T

    ints = (RESTORED, *CURVE_COLUMNS)
    fields = [T.StructField(k, T.StringType()) for k in keys] + [T.StructField(c, T.LongType()) for c in ints]
    rows = [(*(None if v is None else str(v) for v in rec[:len(keys)]), *(int(v) for v in rec[len(keys):]))
            for rec in table[[*keys, *ints]].itertuples(index=False, name=None)]
    return spark.createDataFrame(rows, T.StructType(fields))


def _months_frame(spark: Any, months: pd.DataFrame, keys: tuple[str, ...]) -> Any:
    """The exposure per key and calendar month (rules.impact.exposure_months) as a Spark frame."""
    from pyspark.sql import types as T

    fields = [T.StructField(k, T.StringType()) for k in keys]
    fields += [T.StructField("month", T.StringType()), T.StructField("minutes", T.LongType())]
    rows = [(*(str(v) for v in rec[:-1]), int(rec[-1]))
            for rec in months[[*keys, "month", "minutes"]].itertuples(index=False, name=None)]
    return spark.createDataFrame(rows, T.StructType(fields))


def _roster_frame(spark: Any, incident: Incident, con: Any, source_sql: str, work: Path,
                  extra: tuple[str, ...] = ()) -> Any:
    """The roster as Spark reads it: its Parquet files, or a CSV converted once (checked already).
    ``extra``: optional text columns a policy reads (``plan``; the roster has them, check_plans saw to it)."""
    path = Path(incident.roster)
    if path.is_dir():
        files = [str(f) for f in sorted(path.rglob("*.parquet"))]
    elif path.suffix.lower() == ".parquet":
        files = [str(path)]
    else:
        converted = work / "roster.parquet"
        con.execute(f"COPY (SELECT * FROM {source_sql}) TO {quote(converted)} (FORMAT parquet)")
        files = [str(converted)]
    raw = spark.read.parquet(*files)
    return raw.selectExpr(*[f"CAST({c} AS BIGINT) AS {c}" for c in INTEGER_COLUMNS],
                          *[f"CAST({c} AS STRING) AS {c}" for c in (*TEXT_COLUMNS, *extra)])




def merge_parts(parts: Path, path: Path) -> int:
    """Spark's sorted part files → one Parquet file, in order, in row groups of exactly ROW_GROUP
    lines (the last one shorter), zstd, no Spark metadata: the same bytes for the same rows."""
    files = sorted(parts.glob("part-*.parquet"))
    tmp = path.with_name(path.name + ".partial")
    writer, pending, n = None, [], 0

    def flush(batches: list[pa.RecordBatch]) -> None:
        nonlocal writer
        table = pa.Table.from_batches(batches)
        schema = pa.schema([pa.field(f.name, f.type) for f in table.schema])  # nullable, no metadata
        table = table.cast(schema)
        if writer is None:
            writer = pq.ParquetWriter(tmp, schema, compression="zstd")
        writer.write_table(table, row_group_size=ROW_GROUP)

    try:
        buffered = 0
        for f in files:
            for batch in pq.ParquetFile(f).iter_batches(batch_size=ROW_GROUP, columns=list(LEDGER_COLUMNS)):
                pending.append(batch)
                buffered += batch.num_rows
                n += batch.num_rows
                while buffered >= ROW_GROUP:
                    table = pa.Table.from_batches(pending)
                    flush(table.slice(0, ROW_GROUP).to_batches())
                    rest = table.slice(ROW_GROUP)
                    pending, buffered = rest.to_batches(), rest.num_rows
        if pending and buffered:
            flush(pending)
        if writer is None:  # no line at all: an empty ledger with the columns
            schema = pq.read_schema(files[0]) if files else None
            if schema is None:
                raise RunError("Spark wrote no ledger part files")
            flush([pa.RecordBatch.from_pylist([], schema=pa.schema(
                [pa.field(c, schema.field(c).type) for c in LEDGER_COLUMNS]))])
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, path)
    return n


def _restoration(spark: Any, per_line: PerLine, own: Policy) -> dict[str, Any] | None:
    """The restoration curve on Spark, by the DuckDB engine's SQL (engine/figures.py): None without a
    plan, or when a credit or total beyond the actual span overflows (ANSI mode stops it, as DuckDB)."""
    from pyspark.errors import ArithmeticException

    plan = per_line.restoration_plan
    if plan is None:
        return None
    _restoration_frame(spark, plan.exposure, per_line.keys).createOrReplaceTempView(RESTORATION_TABLE)
    try:
        return restoration_curve(SparkQuery(spark), "per_line", plan, own, per_line.keys, dialect="spark")
    except ArithmeticException:
        return None


def analyse_spark(
    incident: Incident, out_dir: Path, *, what_if_policies: list[Policy] | None = None,
    progress: Progress | None = None, master: str | None = None, spark: Any = None,
    month_rows: Path | None = None,
) -> tuple[Figures, list[dict[str, Any]], PerLine]:
    """Write ``ledger.parquet`` in ``out_dir`` with Spark and return (the summary's figures and the
    what-if rows, computed on Spark by the same SQL as on DuckDB, and the prepared per-line
    relation: reach, unmatched names, the month figures).

    ``spark``: an open session to use (tests share one); otherwise one is started and stopped.
    ``month_rows``: the earlier incidents' ``line_minutes`` rows, for a policy counting across the
    calendar month (engine/month.py: the same SQL as on DuckDB)."""
    say = progress or (lambda _msg: None)
    if incident.kind != "outage":
        raise InputError(incident.path, "kind", "the spark engine runs outage incidents; billing errors run on "
                         "the duckdb engine", "run this incident without --engine spark")
    if spark is None:
        say(f"starting Spark ({master_url(master)})")
        with spark_session(master) as session:
            return analyse_spark(incident, out_dir, what_if_policies=what_if_policies, progress=progress,
                                 spark=session, month_rows=month_rows)
    from pyspark.errors import ArithmeticException

    con = connect()
    per_line = None
    work = out_dir / ".spark"
    work.mkdir(parents=True, exist_ok=True)
    try:
        say("reading and checking the roster (on the driver)")
        per_line = prepare(incident, con)
        own = roster_spellings(per_line, incident.credit_policy)
        policies = [roster_spellings(per_line, p) for p in
                    (what_if_policies if what_if_policies is not None else catalogue_policies(incident))]
        left_out = {s.policy_id for s in add_fees(per_line, incident, [own, *policies])}  # checked on the driver
        policies = check_plans(per_line, incident, own, [p for p in policies if p.id not in left_out])  # plans too
        say(f"roster: {per_line.roster_lines:,} lines; computing credits per line on Spark")
        extra = ("plan",) if any(p.exclude_plans for p in (own, *policies)) else ()
        roster = _roster_frame(spark, incident, con, per_line.source.sql, work, extra)
        roster.createOrReplaceTempView("roster")
        _exposure_frame(spark, per_line.exposure, per_line.keys).createOrReplaceTempView("exposure")
        using = ", ".join(per_line.keys)
        spark.sql(f"SELECT /*+ BROADCAST(e) */ * FROM roster AS r JOIN exposure AS e USING ({using})"
                  ).createOrReplaceTempView("exposed")
        lines = "exposed"
        if per_line.fee_bases:
            assert per_line.items_sql is not None  # add_fees opened them
            items = work / "bill_items.parquet"  # the checked, typed items, as Spark reads them
            con.execute(f"COPY (SELECT * FROM {per_line.items_sql}) TO {quote(items)} (FORMAT parquet)")
            spark.read.parquet(str(items)).createOrReplaceTempView("bill_items")
            found = list(per_line.fee_bases)
            lines = with_fees("exposed", found, fees_sql(found, "bill_items"))
        thresholds = month_thresholds([own, *policies]) if month_rows is not None else []
        if thresholds:
            assert month_rows is not None
            spark.read.parquet(str(month_rows)).createOrReplaceTempView("month_rows")
            _months_frame(spark, months_per_key(per_line, incident), per_line.keys
                          ).createOrReplaceTempView("exposure_months")
            lines = with_month(lines, month_lines_sql("exposed", per_line.keys, "exposure_months", "month_rows",
                                                      thresholds), thresholds)
        spark.sql(f"SELECT * FROM {lines}").createOrReplaceTempView("per_line")
        p = render_policy(compile_policy(own), "spark")
        end = incident.end
        assert isinstance(end, datetime)  # an outage's: its last window's end
        days = credit_days(incident.credit_policy, end.date(), calendar_for(incident.folder))
        ledger_df = spark.sql(
            f"SELECT {ledger_select(across_month(own.eligibility))}, {p.eligible} AS eligible, "
            f"{p.reason} AS eligibility_reason, "
            f"{p.rule} AS rule, {p.credit_krw} AS credit_krw, "
            f"CASE WHEN {p.credit_krw} > 0 THEN {render(credit_on(days), 'spark')} END AS credit_on FROM per_line")
        parts = work / "ledger"
        n_parts = max(1, per_line.roster_lines // LINES_PER_PART)
        try:
            (ledger_df.repartitionByRange(n_parts, "line_id").sortWithinPartitions("line_id")
             .write.mode("overwrite").parquet(str(parts)))
            say("comparing policies (what-if) on Spark")
            query = SparkQuery(spark)
            everything, own_at = with_own_policy(own, policies)
            spark.read.parquet(str(parts)).createOrReplaceTempView("ledger")
            figures, rows = incident_figures(query, "per_line", "ledger", everything, own_at, dialect="spark",
                                             roster=per_line.source.path, say=lambda _msg: say("summarising on Spark"))
            if thresholds and across_month(own.eligibility):
                per_line.month = month_figures(query, "per_line", "month_rows", own, "spark")
        except ArithmeticException as exc:
            raise InputError(incident.credit_policy.path, "credit", f"a credit or total overflows 64-bit integers "
                             f"({str(exc).splitlines()[0]})", "check the roster's fees and the policy's multipliers"
                             ) from None
        per_line.restoration = _restoration(spark, per_line, own)
        say("writing ledger.parquet from Spark's sorted parts")
        merge_parts(parts, out_dir / "ledger.parquet")
        return figures, rows[:len(policies)], per_line
    finally:
        if per_line is not None:
            per_line.source.close()
        con.close()
        shutil.rmtree(work, ignore_errors=True)
