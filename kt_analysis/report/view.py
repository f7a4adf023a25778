"""What the notebooks show: one incident's results, as small frames, charts and HTML blocks.

Everything here is drawn from the run's typed summary (``summary.json`` read back by
:func:`kt_analysis.summary.model.load_summary`); only :meth:`IncidentView.lines`, the exploration
API, reads the ledger. ``kt_analysis.jobs.explore.open_view`` is the notebooks' entry point.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import metadata
from pathlib import Path

import duckdb
import pandas as pd
from markupsafe import Markup

from kt_analysis.dbrow import connect
from kt_analysis.engine.figures import BREAKDOWNS
from kt_analysis.inputs.incident import Incident, elapsed_minutes
from kt_analysis.inputs.roster import RosterSource, open_roster
from kt_analysis.paths import ENV_VAR
from kt_analysis.report import charts, drawings, present
from kt_analysis.report import lines as lines_api
from kt_analysis.report.templates import ENV
from kt_analysis.summary.model import BillingSummary, OutageSummary, Reach, Summary

_ENV = ENV  # the report layer's one environment

BY_TITLE = {
    "service": "서비스별", "region": "지역별", "customer_type": "고객 유형별",
    "payment_method": "결제 수단별",
}
BY_LABELS = {
    "service": present.SERVICE_KO, "customer_type": present.CUSTOMER_TYPE_KO,
    "payment_method": present.PAYMENT_METHOD_KO, "region": {},
}
ROLE_KO = {
    "incident": "사고 파일", "policy": "보상 정책", "windows": "장애 구간 파일", "roster": "회선 명부",
    "bill_items": "청구 항목", "bills": "청구 내역", "claims": "보상 신청", "settlement": "정산 규칙",
}
SCENARIO_KO = {"central": "중간", "high": "높음", "low": "낮음"}
REASON_KO = {
    "all_affected": "영향 회선 전체", "continuous": "연속 장애 시간 기준 충족",
    "monthly_cumulative": "월 누적 장애 시간 기준 충족", "below_threshold": "기준 미달",
    "on_claim": "기준 미달이지만 장애 원인(고의·중과실)으로 신청 시 보상",
    "service_not_covered": "보상 대상 서비스 아님", "plan_not_covered": "보상 제외 요금제",
}


class Html(str):
    """A block of HTML that JupyterLab and nbconvert display as HTML."""

    def _repr_html_(self) -> str:
        return str(self)


def resolve(path: str | Path, root: Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else root / path


@dataclass
class IncidentView:
    incident: Incident
    run_dir: Path
    summary: Summary
    command: str
    _con: duckdb.DuckDBPyConnection | None = field(default=None, repr=False, compare=False)
    _roster: RosterSource | None = field(default=None, repr=False, compare=False)

    @property
    def ledger(self) -> Path:
        return self.run_dir / "ledger.parquet"

    def lines(self, columns: tuple[str, ...] | None = None, where: lines_api.Where = None
              ) -> duckdb.DuckDBPyRelation:
        """Every line of the ledger with the roster's ``columns`` (default: all it has) joined on line_id:
        a lazy DuckDB relation (``.df()`` for pandas, ``.filter(…)``, ``.aggregate(…)``), filtered by
        ``where`` — ``{"region": "서울", "service": ["mobile", "internet"]}`` (values checked against
        the lines: a typo is refused with the closest) or a SQL condition (``"credit_krw > 10000"``).
        The ledger keeps what the incident decided; the roster's attributes are read only when asked for."""
        if self._con is None or self._roster is None:
            self._con = connect()
            self._roster = open_roster(self.incident.roster)
        return lines_api.lines(self._con, self.ledger, self._roster, where=where, columns=columns)

    def by(self, *columns: str, where: lines_api.Where = None) -> pd.DataFrame:
        """Lines, customers, eligible lines and credit by any roster column or pair of columns
        (``view.by("region", "service")``), largest first, over the lines ``where`` selects."""
        return lines_api.breakdown(self.lines(where=where), columns)

    def reach(self) -> pd.DataFrame:
        """What each outage window reached: where it is written, its span and place, lines, customers."""
        rows = [r.to_dict() for r in (self.outage.reach or ())]
        frame = pd.DataFrame(rows, columns=["at", "start", "end", "where", "lines", "customers"])
        windows = self.incident.windows
        frame["where"] = [_where_ko(windows[i]) if i < len(windows) else text for i, text in enumerate(frame["where"])]
        return frame.rename(columns={"at": "적힌 곳", "start": "시작", "end": "종료", "where": "범위",
                                     "lines": "닿은 회선", "customers": "닿은 고객"})

    def explain(self, line_id: int | str) -> Html:
        """One line explained in Korean (kt_analysis/report/explain.py): the windows that reached it, its
        minutes, the eligibility rule that decided and the credit formula with its own numbers, ending in
        the ledger's ``credit_krw`` (checked; a mismatch raises). Names and phone numbers are not shown."""
        from kt_analysis.report.explain import explain_line

        return Html(explain_line(self.incident, self.run_dir, line_id).html())

    # ----- figures -------------------------------------------------------------------------
    @property
    def outage(self) -> OutageSummary:
        assert isinstance(self.summary, OutageSummary), "an outage's view"
        return self.summary

    @property
    def reaches_no_line(self) -> bool:
        """No window reached a line: the headline says so once, and the sections show nothing
        (no table of zeros, no empty chart, no repeated "no lines")."""
        return self.outage.affected_lines == 0

    def figures(self) -> dict[str, int]:
        """The headline numbers, as plain integers (what tests and nbval check)."""
        return self.summary.headline()

    def headline(self) -> Html:
        """The headline cards: each a short figure by :func:`present.short_korean`'s one rule, the exact
        figure beneath it (``data-key`` names its summary.json key), or, when no window reached a line,
        one statement instead of cards."""
        s = self.outage
        window = Markup(" ~ ").join([_nowrap_datetime(present.korean_datetime(_dt(s.outage_start))),
                                     _nowrap_datetime(present.korean_datetime(_dt(s.outage_end)))])
        if s.affected_lines == 0:
            return Html(_ENV.get_template("headline.html.j2").render(
                title=s.title, incident_id=s.incident_id, policy_title=s.policy_title, cards=[],
                statement=Markup("이 사고의 장애 구간({})에 해당하는 회선이 없습니다: 영향 회선, 보상 대상과 "
                                 "보상액이 모두 0입니다.").format(window), provisional=provisional_label(s),
            ))
        cards = [
            _card("영향 회선", present.count_short(s.affected_lines), present.count(s.affected_lines) + " 회선",
                  "affected_lines", f"고객 {present.count(s.affected_customers)}명"),
            _card("보상 대상", present.count_short(s.eligible_lines), present.count(s.eligible_lines) + " 회선",
                  "eligible_lines", f"고객 {present.count(s.eligible_customers)}명"),
            _card("보상 총액", present.krw_short(s.total_credit_krw), present.krw(s.total_credit_krw),
                  "total_credit_krw"),
            _outage_card(s, window),
        ]
        return Html(_ENV.get_template("headline.html.j2").render(
            title=s.title, incident_id=s.incident_id, policy_title=s.policy_title,
            cards=cards, statement="", provisional=provisional_label(s),
        ))

    def breakdown(self, by: str) -> pd.DataFrame:
        """Affected and eligible lines, customers and credit by one dimension (Korean labels)."""
        if by not in BREAKDOWNS:
            raise ValueError(f"by must be one of {', '.join(BREAKDOWNS)}")
        rows = {k: v.to_dict() for k, v in self.outage.breakdown(by).items()}
        frame = pd.DataFrame.from_dict(rows, orient="index")
        if frame.empty:  # no affected line: the table's columns, no rows
            frame = pd.DataFrame(columns=["affected_lines", "affected_customers", "eligible_lines",
                                          "total_credit_krw"], dtype="int64")
        frame.index = [present.label(k, BY_LABELS[by]) for k in frame.index]
        frame.index.name = BY_TITLE[by].removesuffix("별")
        frame = frame.sort_values("affected_lines", ascending=False)
        return frame.rename(columns={
            "affected_lines": "영향 회선", "affected_customers": "영향 고객",
            "eligible_lines": "보상 대상 회선", "total_credit_krw": "보상액(원)",
        })

    def breakdown_table(self, by: str) -> Html:
        """One breakdown as a table, with the incident's totals as its 합계 row (lines, eligible lines
        and credit are the column sums — refused otherwise; customers are counted once each, so their
        total can be less than the column's sum, and a footnote says so)."""
        frame = self.breakdown(by)
        if frame.empty:
            return Html("")  # no line reached: the headline's one statement says it
        s = self.outage
        total = {"영향 회선": s.affected_lines, "영향 고객": s.affected_customers,
                 "보상 대상 회선": s.eligible_lines, "보상액(원)": s.total_credit_krw}
        sums = _column_totals(frame)
        for column in ("영향 회선", "보상 대상 회선", "보상액(원)"):
            if sums[column] != total[column]:
                raise AssertionError(f"{BY_TITLE[by]} {column}: rows sum to {sums[column]:,}, the summary "
                                     f"says {total[column]:,}")
        footnote = ""
        if sums["영향 고객"] != s.affected_customers:
            footnote = (f"고객 합계는 한 고객을 한 번만 센 수입니다: 여러 {BY_TITLE[by].removesuffix('별')}에 회선이 "
                        f"있는 고객이 있어 행의 합({present.count(sums['영향 고객'])}명)보다 적습니다.")
        return _table(frame, money=("보상액(원)",), title=f"{BY_TITLE[by]} 영향", total=total, footnote=footnote)

    def breakdown_chart(self, by: str, value: str = "affected_lines"):
        """One breakdown as bars (largest first); nothing when there are fewer than two bars (a one-bar
        chart says less than the table) or nothing but zeros."""
        if by not in BREAKDOWNS:
            raise ValueError(f"by must be one of {', '.join(BREAKDOWNS)}")
        rows = self.outage.breakdown(by)
        series = pd.Series({k: int(getattr(v, value)) for k, v in rows.items()}, dtype="int64")
        if len(series) < 2 or not series.any():
            return Html("")
        series = series.sort_values(ascending=False)
        what = {"affected_lines": "영향 회선", "total_credit_krw": "보상액",
                "eligible_lines": "보상 대상 회선"}[value]
        kind: present.ValueKind = "krw" if value.endswith("_krw") else "count"
        chart = present.barh_chart if len(series) > 5 else present.bar_chart
        return chart(series, title=f"{BY_TITLE[by]} {what}", value_kind=kind, labels=BY_LABELS[by] or None)

    def region_section(self) -> Html:
        """Where: the affected lines of each 시도 on a tile grid, the region table beside it. Regions
        that are not 시도 names are in the table and named under the picture."""
        if self.reaches_no_line:
            return Html("")
        rows = self.outage.breakdown("region")
        values = {str(k): int(v.affected_lines) for k, v in rows.items()}
        fig, others = drawings.region_tiles(values, title="지역별 영향 회선")
        alt = "지역별 영향 회선: " + ", ".join(f"{k} {present.count(v)}" for k, v in
                                          sorted(values.items(), key=lambda kv: -kv[1]))
        note = ""
        if others:
            note = Markup('<p class="kt-note">지도에 없는 지역 이름(표에는 있음): {}</p>').format(", ".join(others))
        return Html(Markup('<div class="kt-side">{}<div>{}</div></div>{}').format(
            drawings.figure_img(fig, alt), Markup(self.breakdown_table("region")), note))

    def restoration_chart(self):
        """When each place and service came back: the windows as a Gantt (several windows only)."""
        if self.reaches_no_line:
            return Html("")
        inc = self.incident
        fig, caption = drawings.restoration_gantt(inc.windows, inc.services or ())
        if fig is None:
            return Html("")
        if inc.as_of is not None and any(w.ongoing for w in inc.windows):  # provisional: not restored yet
            now = (f"진행 중인 장애 구간은 아직 복구되지 않았습니다: {present.korean_datetime(inc.as_of)} 기준 "
                   f"시각까지 그렸습니다.")
            caption = f"{caption} {now}" if caption else now
        if not caption:
            return fig
        return Html(Markup("{}<p class=\"kt-note\">{}</p>").format(
            drawings.figure_img(fig, "복구 시간표: " + caption), caption))

    def credit_histogram(self):
        """How many eligible lines get how much: bars per readable band (100원 미만, 100~200원,
        200~500원, 500원~1천원, …: edges 1, 2 and 5 times a power of ten), each with its lines and
        their share. Summaries written before the bands were added: the equal-width histogram."""
        if self.reaches_no_line:
            return Html("")
        bands = self.outage.credit_bands
        if bands is None:
            return self._equal_width_histogram()
        if not bands:
            return Html('<p class="kt-note">보상 대상 회선이 없습니다.</p>')
        import matplotlib.pyplot as plt

        total = sum(b.lines for b in bands)
        names = [_band_label(b.from_krw, b.to_krw) for b in bands]
        fig, ax = plt.subplots(figsize=(8, 3.2))
        bars = ax.bar(names, [b.lines for b in bands], color=present.PALETTE[0], width=0.8)
        ax.bar_label(bars, labels=[f"{present.short_korean(b.lines)}\n({_share(b.lines, total)})" if b.lines else ""
                                   for b in bands], padding=2, fontsize=8)
        present.count_axis(ax, "y")
        ax.set_ylabel("회선 수")
        ax.margins(y=0.22)
        ax.grid(False)
        ax.grid(True, axis="y")
        if len(names) > 6:
            ax.tick_params(axis="x", labelrotation=30, labelsize=9)
        ax.set_title("회선별 보상액 분포 (보상 대상 회선)")
        plt.close(fig)
        return fig

    def _equal_width_histogram(self):
        bins = self.outage.credit_histogram
        if not bins:
            return Html('<p class="kt-note">보상 대상 회선이 없습니다.</p>')
        index = pd.IntervalIndex.from_arrays([b.from_krw for b in bins], [b.to_krw + 1 for b in bins], closed="left")
        series = pd.Series([b.lines for b in bins], index=index, dtype="int64")
        return present.histogram_krw(series, title="회선별 보상액 분포 (보상 대상 회선)")

    def credit_table(self) -> Html:
        """The eligible lines' credits per service — lines, total, smallest, median, 90%, largest —
        with the whole incident's as the last row (its quantiles are the incident's, not a sum)."""
        if self.reaches_no_line:
            return Html("")
        d = self.outage.credit_distribution
        per = self.outage.credit_by_service
        if per is None:  # a summary written before per-service figures
            frame = pd.DataFrame({
                "값(원)": [d.min_krw, d.p50_krw, d.p90_krw, d.p99_krw, d.max_krw],
            }, index=pd.Index(["최소", "중앙값", "90%", "99%", "최대"], name="회선별 보상액"))
            return _table(frame, money=("값(원)",), title="회선별 보상액 요약", no_total="분위수라 합하지 않습니다")
        if not per:
            return Html('<p class="kt-note">보상 대상 회선이 없습니다.</p>')
        money = ("보상액(원)", "최소(원)", "중앙값(원)", "90%(원)", "최대(원)")
        frame = pd.DataFrame([{"서비스": present.label(k, present.SERVICE_KO), "보상 대상 회선": v.lines,
                               "보상액(원)": v.credit_krw, "최소(원)": v.min_krw, "중앙값(원)": v.p50_krw,
                               "90%(원)": v.p90_krw, "최대(원)": v.max_krw}
                              for k, v in sorted(per.items(), key=lambda kv: -kv[1].credit_krw)]).set_index("서비스")
        s = self.outage
        sums = (int(frame["보상 대상 회선"].sum()), int(frame["보상액(원)"].sum()))
        if sums != (s.eligible_lines, s.total_credit_krw):
            raise AssertionError("the credits by service do not add up to the summary's eligible lines and total")
        total = {"보상 대상 회선": s.eligible_lines, "보상액(원)": s.total_credit_krw, "최소(원)": d.min_krw,
                 "중앙값(원)": d.p50_krw, "90%(원)": d.p90_krw, "최대(원)": d.max_krw}
        return _table(frame, money=money, title="서비스별 회선당 보상액", total=total,
                      footnote="합계 행의 최소·중앙값·90%·최대는 모든 보상 대상 회선의 값입니다 "
                               "(서비스별 값의 합이 아님).")

    def restoration_cost_chart(self):
        """What the policy would owe had service come back at each time, from the start to twice the
        actual span, with its thresholds marked (summary.json's ``restoration_curve``); a note when
        the summary has none (a policy counting the calendar month, or a summary written before)."""
        if self.reaches_no_line:
            return Html("")
        curve = self.outage.restoration_curve
        if curve is None:
            return Html('<p class="kt-note">복구 시각별 보상 총액은 이 정책에서 계산하지 않습니다: 앞선 장애를 '
                        '포함한 월 누적 시간으로 판정하는 정책입니다.</p>'
                        if self.outage.month_history is not None else "")
        actual = curve.at(curve.actual_minutes)
        if (actual.total_credit_krw, actual.eligible_lines) != (self.outage.total_credit_krw,
                                                                  self.outage.eligible_lines):
            raise AssertionError(f"the restoration curve at the actual span ({actual.total_credit_krw:,} won, "
                                 f"{actual.eligible_lines:,} lines) is not the summary's total "
                                 f"({self.outage.total_credit_krw:,} won, {self.outage.eligible_lines:,} lines)")
        return charts.restoration_cost_chart(curve.points, curve.thresholds, curve.actual_minutes,
                                             now=bool(self.outage.provisional))

    def what_if(self) -> pd.DataFrame:
        rows = [r.to_dict() for r in self.outage.what_if]
        frame = pd.DataFrame(rows).set_index("policy_id")
        return frame

    def what_if_table(self) -> Html:
        if self.reaches_no_line:
            return Html("")
        frame = self.what_if().rename(columns={
            "title": "정책", "eligible_lines": "보상 대상 회선", "total_credit_krw": "보상 총액(원)",
        })
        frame.index.name = "정책 ID"
        own = self.outage.policy_id
        return _table(frame, money=("보상 총액(원)",), title="정책별 비교 (다른 정책을 적용했다면)", mark=own,
                      no_total="정책마다 같은 사고를 따로 계산한 대안이라 합하지 않습니다")

    def what_if_chart(self):
        series = pd.Series(
            {r.policy_id: r.total_credit_krw for r in self.outage.what_if}, dtype="int64"
        )
        if not series.any():  # every policy pays nothing: no chart of zeros
            return Html("")
        return present.barh_chart(series, title="정책별 보상 총액", value_kind="krw")

    def settlement_summary(self) -> Html:
        """When the credits are settled: claim window, the bills they land on, the last day."""
        s = self.outage
        if self.reaches_no_line:
            return Html("")
        d = s.delivery
        items = []
        if d.claim_required:
            closes = s.claim_window_closes
            deadline = f" — 신청 기한 {present.korean_date(_day(closes))}" if closes else "."
            items.append("고객 신청이 필요합니다" + deadline)
        else:
            items.append("신청 없이 자동 적용됩니다.")
        if d.method == "cash_on_request":
            items.append("현금은 별도 요청 시 지급하므로 지급일을 미리 정할 수 없습니다.")
        timeline = s.credit_timeline
        if timeline:
            first, last = timeline[0].day, timeline[-1].day
            where = "청구서에서 차감" if d.method == "bill_credit" else "현금 지급"
            items.append(f"{present.korean_date(_day(first))}부터 {present.korean_date(_day(last))}까지 "
                         f"회선별 결제일에 {where}됩니다 (주말·공휴일이면 다음 영업일).")
        return Html(_ENV.get_template("list.html.j2").render(title="정산 시점", items=items))

    def credit_timeline_chart(self):
        import matplotlib.pyplot as plt

        timeline = self.outage.credit_timeline
        if self.reaches_no_line:
            return Html("")
        if not timeline and not self.outage.total_credit_krw:
            return Html('<p class="kt-note">반영할 보상액이 없습니다.</p>')
        if not timeline:
            return Html('<p class="kt-note">정해진 반영일이 없습니다 (요청 시 지급).</p>')
        frame = pd.DataFrame([d.to_dict() for d in timeline])
        fig, ax = plt.subplots(figsize=(8, 3.0))
        ax.bar([present.korean_date(_day(x)) for x in frame["day"]], frame["credit_krw"].astype("int64"),
               color=present.PALETTE[0])
        present.krw_axis(ax)
        ax.set_title("보상액 반영일 (결제일별, 원)")
        ax.tick_params(axis="x", rotation=30)
        plt.close(fig)
        return fig

    def month_section(self) -> Html:
        """A policy counting monthly outage time across the calendar month: the earlier incidents
        whose minutes were counted, and the lines they made eligible (empty otherwise)."""
        m = self.outage.month_history
        if m is None:
            return Html("")
        items = [f"월 누적 장애 시간은 같은 달({', '.join(m.months)})에 앞서 발표된 장애까지 합해 셉니다."]
        if not m.earlier_incidents:
            items.append("이 출력 폴더의 이력에 같은 달 앞선 장애가 없습니다: 이번 장애의 시간만 셌습니다.")
        else:
            items.append(f"앞선 장애의 시간을 더해 보상 대상이 된 회선 {m.lines_pushed_over:,}개, 이번 장애가 "
                         f"함께 보상하는 앞선 장애 시간 {m.carried_minutes:,}분 "
                         "(이미 보상한 시간은 다시 보상하지 않습니다).")
        parts = [_ENV.get_template("list.html.j2").render(title="같은 달의 앞선 장애", items=items)]
        if m.earlier_incidents:
            frame = pd.DataFrame([{"앞선 장애": e.incident_id, "시작": e.outage_start.replace("T", " "),
                                   "겹친 회선": e.lines, "이 장애로 대상이 된 회선": e.lines_pushed_over}
                                  for e in m.earlier_incidents]).set_index("앞선 장애")
            parts.append(_table(frame, title="월 누적에 더한 앞선 장애",
                                no_total="한 회선이 앞선 장애 여럿과 겹칠 수 있어 합하지 않습니다 "
                                         "(위 문장의 회선 수가 중복 없는 수)"))
        return Html("".join(parts))

    def claims_section(self) -> Html:
        """Compensation paid on application: what only applicants get, the claims so far decided
        (per decision, Korean reasons), and the forecasts per uptake scenario (assumptions)."""
        c = self.outage.claims
        if self.reaches_no_line:
            return Html("")
        if c is None:
            return Html('<p class="kt-note">이 정책은 신청 없이 자동으로 지급합니다: 신청 처리가 없습니다.</p>')
        what = {"credit": "보상금 전부", "consolation": "위로금"}.get(c.paid_on_claim or "", "")
        items = [f"신청 규칙: {c.rules}.",
                 f"신청 기간: {present.korean_date(_day(c.opens_on))} ~ {present.korean_date(_day(c.last_day))}."]
        if what:
            items.append(f"신청한 경우에만 지급하는 {what}: 대상 {c.entitled_lines:,}회선, 모두 신청하면 "
                         f"{c.entitled_krw:,}원.")
        if c.as_of is not None:
            items.append(f"{present.korean_date(_day(c.as_of))}까지 접수 {c.received:,}건 · 승인 {c.accepted:,}건 "
                         f"{c.accepted_krw:,}원 · 그날까지 지급 {c.paid_krw_as_of:,}원 · 미처리 {c.backlog_as_of:,}건.")
        else:
            items.append("아직 접수된 신청이 없습니다: 아래 예측은 가정입니다.")
        parts = [_ENV.get_template("list.html.j2").render(title="신청 처리", items=items)]
        if c.by_decision:
            frame = pd.DataFrame([{"결정": d.reason.split(":")[0], "건수": d.claims, "지급액(원)": d.amount_krw}
                                  for d in c.by_decision]).set_index("결정")
            parts.append(_table(frame, money=("지급액(원)",), title="신청별 결정", total=_column_totals(frame)))
        if c.forecast:
            frame = pd.DataFrame([{"시나리오": SCENARIO_KO.get(f.scenario, f.scenario),
                                   "가정": f.description.removeprefix(f"{f.scenario}: "), "신청(건)": f.claims,
                                   "비용(원)": f.cost_krw, "최대 미처리(건)": f.peak_backlog,
                                   "마지막 지급일": _korean_day(f.last_paid_on)}
                                  for f in c.forecast]).set_index("시나리오")
            parts.append(_table(frame, money=("비용(원)",), title="신청 예측 (가정)",
                                no_total="시나리오는 서로의 대안이라 합하지 않습니다"))
        return Html("".join(parts))

    def claims_chart(self):
        """Claims received and decided per day, and the backlog (the claims so far; else the central
        forecast)."""
        import matplotlib.pyplot as plt

        c = self.outage.claims
        if c is None or self.reaches_no_line:
            return Html("")
        days, label = c.by_day, "접수된 신청"
        if not days:
            central = next((f for f in c.forecast if f.scenario == "central"), None)
            if central is None or not central.claims:
                return Html('<p class="kt-note">그릴 신청이 없습니다.</p>')
            days, label = central.days, "예측 (중간 시나리오, 가정)"
        frame = pd.DataFrame([d.to_dict() for d in days])
        x = [_day(d) for d in frame["day"]]
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.bar(x, frame["received"], color=present.PALETTE[0], label="접수")
        ax.plot(x, frame["decided"].cumsum(), color=present.PALETTE[1], label="누적 처리")
        ax.plot(x, frame["backlog"], color=present.PALETTE[2], label="미처리")
        ax.set_title(f"일별 신청 처리 — {label}")
        ax.legend(loc="upper left", frameon=False)
        drawings.korean_time_axis(ax)
        plt.close(fig)
        return fig

    def appendix(self) -> Html:
        inc = self.incident
        pol = inc.credit_policy
        versions = {"kt-analysis": _version("kt-analysis"), "python": platform.python_version()}
        for pkg in ("duckdb", "pandas", "pyarrow", "papermill", "nbconvert", "matplotlib"):
            versions[pkg] = _version(pkg)
        return Html(_ENV.get_template("appendix.html.j2").render(
            policy=pol, policy_lines=pol.describe(), incident=inc, summary=self.summary,
            command=self.command, versions=versions, windows=_windows_preview(inc, reach=self.outage.reach),
            unmatched=self.outage.unmatched_names or (),
            empty_windows=[{"at": r.at, "where": _where_ko(inc.windows[i]) if i < len(inc.windows) else r.where}
                           for i, r in enumerate(self.outage.reach or ()) if r.lines == 0],
            roles=ROLE_KO,
            reasons=REASON_KO,
        ))


def _band_label(lo: int, hi: int) -> str:
    """A credit band as a reader says it: 100원 미만, 100~200원, 500원~1천원 (upper edge excluded)."""
    if lo == 0:
        return f"{present.short_korean(hi + 1)}원 미만"
    if hi >= 2**63 - 1:
        return f"{present.short_korean(lo)}원 이상"
    a, b = present.short_korean(lo), present.short_korean(hi + 1)
    return f"{a}~{b}원" if (lo < 10_000) == (hi + 1 < 10_000) else f"{a}원~{b}원"


def _share(part: int, whole: int) -> str:
    """A share in whole percent, "<1%" for a small but non-zero share."""
    pct = part * 100 // whole if whole else 0
    return "<1%" if part and pct == 0 else f"{pct}%"


def _korean_day(text: str | None) -> str:
    return present.korean_date(_day(text)) if text else "-"


def _where_ko(window) -> str:
    """A window's reach in Korean (the appendix): 지역 …; 국사 …; 서비스 … (Korean names)."""
    parts = []
    if window.regions:
        parts.append("지역 " + ", ".join(window.regions))
    if window.facilities:
        parts.append("국사 " + ", ".join(window.facilities))
    if window.services:
        parts.append("서비스 " + ", ".join(present.label(s, present.SERVICE_KO) for s in window.services))
    return "; ".join(parts) or "전체"


def _nowrap_datetime(text: str) -> Markup:
    """A Korean date and time that may break only between the date and the time (a narrow printed
    card), never inside either: ``2021년 10월 25일 (월)`` / ``11:16``."""
    day, _, clock = text.rpartition(" ")
    return Markup(" ").join([_nowrap(day), _nowrap(clock)]) if day else _nowrap(text)


def _nowrap_date(text: str) -> Markup:
    """A Korean date that may break only after its year (a narrow card): ``2023년`` / ``9월 12일 (화)``."""
    year, _, rest = text.partition(" ")
    return Markup(" ").join([_nowrap(year), _nowrap(rest)]) if rest else _nowrap(text)


def _nowrap(text: str) -> Markup:
    """Text kept on one line (a date must not break between 일 and its weekday)."""
    return Markup('<span class="kt-nowrap">{}</span>').format(text)


def provisional_label(s: OutageSummary) -> str:
    """A provisional summary's label (an outage still going on, sized as of a time), else ``""``:
    ``잠정 — 2024년 8월 10일 12:00 기준, 장애 진행 중``."""
    if not s.provisional or s.as_of is None:
        return ""
    at = _dt(s.as_of)
    return f"잠정 — {at.year}년 {at.month}월 {at.day}일 {at:%H:%M} 기준, 장애 진행 중"


def _outage_card(s: OutageSummary, window: Markup) -> dict[str, object]:
    """The outage-time card. One window, or lines out at once as long as in all: the longest outage.
    Several windows (a fire's week of restorations): the longest uninterrupted outage of any line,
    with a line's longest merged total beside it — the merged total is not one stretch at once."""
    continuous = s.longest_continuous_minutes
    if s.window_count == 1 or continuous is None or continuous == s.longest_outage_minutes:
        return _card("장애 시간", present.duration_korean(s.longest_outage_minutes), window)
    return _card("최장 연속 장애", present.duration_korean(continuous), window, None,
                 f"회선별 누적 최장 {present.duration_korean(s.longest_outage_minutes)} (장애 구간 "
                 f"{s.window_count:,}개를 합친 시간)")


def _card(name: str, big: str | Markup, exact: str | Markup, key: str | None = None,
          note: str = "") -> dict[str, object]:
    """One headline card: the short figure, the exact figure beneath it (``key``: its summary.json key)."""
    return {"name": name, "big": big, "exact": exact, "key": key, "note": note}


def _dt(text: str):
    return datetime.fromisoformat(text)


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "?"


def _short_datetime(dt: datetime, year: bool) -> str:
    """A window's time as the appendix table shows it: ``8월 10일 (토) 06:15`` (the year once, above)."""
    text = present.korean_datetime(dt)
    return text if year else text.split("년 ", 1)[-1]


def _windows_preview(inc: Incident, limit: int = 12, reach: tuple[Reach, ...] | None = None
                     ) -> list[dict[str, object]]:
    """The first windows as the appendix shows them, with the lines and customers each reached.

    Windows with the same span and services that name only facilities (or only regions) are one
    row — "CHUNGBUK-001 외 49곳", their lines added up (a line has one facility and one region, so
    none is counted twice; customers, who may have lines in several, are not added up)."""
    tz = inc.tz
    years = {w.start.year for w in inc.windows} | {w.end.year for w in inc.windows}
    groups: dict[tuple[object, ...], list[int]] = {}
    for i, w in enumerate(inc.windows):
        if bool(w.facilities) != bool(w.regions):  # facilities only, or regions only: disjoint lines
            key: tuple[object, ...] = (w.start, w.end, w.services, "f" if w.facilities else "r")
        else:
            key = ("one", i)
        groups.setdefault(key, []).append(i)
    out: list[dict[str, object]] = []
    for members in list(groups.values())[:limit]:
        w = inc.windows[members[0]]
        names = [n for i in members for n in (*(inc.windows[i].regions or ()), *(inc.windows[i].facilities or ()))]
        where = "전국" if not names else (", ".join(names) if len(names) <= 3
                                        else f"{names[0]} 외 {len(names) - 1}곳")
        hits = [reach[i] for i in members if reach and i < len(reach)]
        out.append({
            "start": _short_datetime(w.start, len(years) > 1), "end": _short_datetime(w.end, len(years) > 1),
            "minutes": present.duration_korean(elapsed_minutes(w.start, w.end, tz)), "where": where,
            "services": ", ".join(
                present.label(s, present.SERVICE_KO) for s in (w.services or inc.services or ())
            ) or "전체",
            "lines": present.count(sum(h.lines for h in hits)) if hits else "",
            "customers": present.count(hits[0].customers) if len(hits) == 1 else ("" if not hits else "—"),
            "windows": len(members),
        })
    return out


def _cells(row: pd.Series, money: tuple[str, ...]) -> list[tuple[str, bool]]:
    cells = []
    for col, value in row.items():
        if col in money:
            cells.append((present.krw(int(value)), True))
        elif isinstance(value, int) or (hasattr(value, "dtype") and "int" in str(getattr(value, "dtype", ""))):
            cells.append((present.count(int(value)), True))
        else:
            cells.append((str(value), False))
    return cells


TOTAL = "합계"


def _table(frame: pd.DataFrame, *, money: tuple[str, ...] = (), title: str = "", mark: str | None = None,
           total: Mapping[str, object] | None = None, footnote: str = "", no_total: str = "") -> Html:
    """A table; ``total`` (column → value; a column left out stays blank) is its 합계 row, in the
    table's footer. Values are given, not summed here: a total that is not a column sum (distinct
    customers) is the caller's figure, with a ``footnote`` saying so. Every table has a total or
    says why not (``no_total``: alternatives, quantiles or examples, whose sum means nothing)."""
    if (total is None) == (not no_total):
        raise ValueError("a table has a total row or a reason for none (no_total), not both")
    header = [frame.index.name or ""] + [str(c) for c in frame.columns]
    body = [{"name": str(idx), "cells": _cells(row, money), "mark": mark is not None and str(idx) == mark}
            for idx, row in frame.iterrows()]
    foot = None
    if total is not None:
        unknown = set(total) - set(frame.columns)
        assert not unknown, f"a total for columns the table lacks: {sorted(unknown)}"
        row = pd.Series({c: total.get(c, "") for c in frame.columns}, dtype=object)
        foot = {"name": TOTAL, "cells": _cells(row, money)}
        foot["cells"] = [(text, num) if c in total else ("", False)
                         for c, (text, num) in zip(frame.columns, foot["cells"], strict=True)]
    return Html(_ENV.get_template("table.html.j2").render(title=title, header=header, rows=body, total=foot,
                                                          footnote=footnote, no_total=no_total))


def _column_totals(frame: pd.DataFrame, columns: tuple[str, ...] | None = None) -> dict[str, int]:
    """The sum of each integer column (or of ``columns``), as Python ints."""
    cols = columns if columns is not None else tuple(
        c for c in frame.columns if pd.api.types.is_integer_dtype(frame[c]))
    return {c: int(frame[c].sum()) for c in cols}


def reproduce_command(inc: Incident, roster: Path | None, bills: Path | None = None,
                      bill_items: Path | None = None, claims: Path | None = None) -> str:
    parts = ["kt-analysis", "run", inc._rel(Path(inc.path))]
    workspace = os.environ.get(ENV_VAR, "").strip()
    if workspace:  # --workspace or the environment variable (a kt-analysis.toml stays where it is)
        parts[1:1] = ["--workspace", shlex.quote(workspace)]
    if roster is not None:
        parts += ["--roster", inc._rel(roster)]
    if bills is not None:
        parts += ["--bills", inc._rel(bills)]
    if bill_items is not None:
        parts += ["--bill-items", inc._rel(bill_items)]
    if claims is not None:
        parts += ["--claims", inc._rel(claims)]
    if inc.as_of is not None:
        parts += ["--as-of", inc.as_of.isoformat(timespec="minutes")]
    return " ".join(parts)


def python_info() -> str:
    return f"{sys.executable} ({platform.python_version()})"


# ----- billing errors ------------------------------------------------------------------------------

ACTION_KO = {"cancel": "승인 취소", "refund": "환불", "recharge": "정상 금액 재청구"}


def _month_day(text: str) -> str:
    """A day of the billing error's settlement as its tables show it: ``9월 12일 (화)`` (the year is
    the incident's, in the headline)."""
    return present.korean_date(_day(text)).split("년 ", 1)[-1]


def _day(text: str):
    return date.fromisoformat(text)


class BillingView(IncidentView):
    """What notebook 03 shows for a billing error."""

    @property
    def billing(self) -> BillingSummary:
        assert isinstance(self.summary, BillingSummary), "a billing error's view"
        return self.summary

    def headline(self) -> Html:
        s = self.billing
        done = s.refund_completion_date
        cards = [
            _card("오청구 회선", present.count_short(s.affected_lines), present.count(s.affected_lines) + " 회선",
                  "affected_lines", f"고객 {present.count(s.affected_customers)}명"),
            _card("잘못 청구된 금액", present.krw_short(s.total_charged_krw), present.krw(s.total_charged_krw),
                  "total_charged_krw"),
            _card("환불 (실제 출금분)", present.krw_short(s.total_refund_krw), present.krw(s.total_refund_krw),
                  "total_refund_krw"),
            _card("취소·환불 완료", _nowrap_date(present.korean_date(_day(done))) if done else "—",
                  f"최대 미환불 {present.krw(s.peak_exposure_krw)}"),
        ]
        return Html(_ENV.get_template("headline.html.j2").render(
            title=s.title, incident_id=s.incident_id,
            policy_title=(f"{s.wrong_month} 청구를 {s.charged_month} 금액으로 승인 · "
                          f"정산 규칙 {s.settlement_id}"),
            cards=cards, statement="",
        ))

    def payment_table(self) -> Html:
        rows = {k: v.to_dict() for k, v in self.billing.by_payment_method.items()}
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frame.index = [present.label(k, present.PAYMENT_METHOD_KO) for k in frame.index]
        frame.index.name = "결제 수단"
        # The days each method is settled on are the daily table's and the headline's: not repeated here
        # (ten columns do not fit a printed page).
        # 정상 요금 is not a column of its own: it is the re-charge, to the won (checked before publishing,
        # and here again: the column is left out only because it would repeat the re-charge).
        if not (frame["owed_krw"] == frame["recharge_krw"]).all():
            raise AssertionError("a payment method's re-charge differs from its correct fees (owed_krw)")
        frame = frame[["affected_lines", "affected_customers", "charged_krw", "cancelled_krw",
                       "refund_krw", "recharge_krw"]]
        frame = frame.rename(columns={
            "affected_lines": "회선", "affected_customers": "고객", "charged_krw": "잘못 청구(원)",
            "owed_krw": "정상 요금(원)", "cancelled_krw": "승인 취소(원)", "refund_krw": "환불(원)",
            "recharge_krw": "재청구(원)",
        })
        b = self.billing
        total: dict[str, object] = {
            "회선": b.affected_lines, "고객": b.affected_customers, "잘못 청구(원)": b.total_charged_krw,
            "승인 취소(원)": b.total_cancelled_krw, "환불(원)": b.total_refund_krw,
            "재청구(원)": b.total_recharge_krw,
        }
        sums = _column_totals(frame, tuple(total))
        for column, value in total.items():
            if column != "고객" and sums[column] != value:
                raise AssertionError(f"결제 수단별 {column}: rows sum to {sums[column]:,}, the summary says {value:,}")
        footnote = ""
        if sums["고객"] != b.affected_customers:
            footnote = (f"고객 합계는 한 고객을 한 번만 센 수입니다: 결제 수단이 둘 이상인 고객이 있어 행의 합"
                        f"({present.count(sums['고객'])}명)보다 적습니다.")
        return _table(frame, money=("잘못 청구(원)", "승인 취소(원)", "환불(원)", "재청구(원)"),
                      title="결제 수단별 오청구와 정산", total=total, footnote=footnote)

    def timeline_frame(self) -> pd.DataFrame:
        return pd.DataFrame([d.to_dict() for d in self.billing.timeline])

    def timeline_table(self) -> Html:
        frame = self.timeline_frame()
        frame["payment_method"] = frame["payment_method"].map(lambda c: present.label(c, present.PAYMENT_METHOD_KO))
        frame["day"] = frame["day"].map(_month_day)
        frame = frame.set_index("day")
        frame.index.name = "날짜"
        frame = frame.rename(columns={
            "payment_method": "결제 수단", "cancelled_lines": "취소 회선", "cancelled_krw": "취소(원)",
            "refunded_lines": "환불 회선", "refund_krw": "환불(원)", "recharged_lines": "재청구 회선",
            "recharge_krw": "재청구(원)",
        })
        return _table(frame, money=("취소(원)", "환불(원)", "재청구(원)"), title="일자별 정산",
                      total=_column_totals(frame))

    def timeline_chart(self):
        import matplotlib.pyplot as plt

        frame = self.timeline_frame()
        frame["reversed_krw"] = frame["cancelled_krw"] + frame["refund_krw"]
        table = frame.pivot_table(index="day", columns="payment_method", values="reversed_krw", aggfunc="sum",
                                  fill_value=0)
        recharge = frame.groupby("day")["recharge_krw"].sum()
        fig, ax = plt.subplots(figsize=(8, 4))
        days = sorted(set(table.index) | set(recharge.index))
        x = range(len(days))
        bottom = [0] * len(days)
        for i, method in enumerate(table.columns):
            values = [int(table[method].get(d, 0)) for d in days]
            ax.bar([v - 0.2 for v in x], values, width=0.4, bottom=bottom,
                   label=f"{present.label(method, present.PAYMENT_METHOD_KO)} 취소·환불",
                   color=present.PALETTE[i % len(present.PALETTE)])
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.bar([v + 0.2 for v in x], [int(recharge.get(d, 0)) for d in days], width=0.4, label="정상 금액 재청구",
               color=present.PALETTE[-1])
        ax.set_xticks(list(x), [present.korean_date(_day(d)) for d in days], rotation=15)
        present.krw_axis(ax)
        ax.set_title("일자별 취소·환불과 재청구 (원)")
        ax.margins(y=0.05)
        # Under the plot, not over it: inside, the legend covered the last day's re-charge bar.
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=min(4, len(table.columns) + 1),
                  frameon=False)
        plt.close(fig)
        return fig

    def cumulative_chart(self):
        import matplotlib.pyplot as plt

        frame = self.timeline_frame()
        frame["reversed_krw"] = frame["cancelled_krw"] + frame["refund_krw"]
        daily = frame.groupby("day")["reversed_krw"].sum().sort_index()
        total = self.billing.total_charged_krw or 1
        share = daily.cumsum() / total * 100
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.step([present.korean_date(_day(d)) for d in share.index], share.values, where="post", marker="o")
        ax.set_ylim(0, 105)
        ax.set_ylabel("정산된 비율 (%)")
        ax.set_title("잘못 청구된 금액 중 취소·환불된 누적 비율")
        plt.close(fig)
        return fig

    def exposure_chart(self):
        import matplotlib.pyplot as plt

        held = self.billing.exposure
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.plot([present.korean_date(_day(d.day)) for d in held], [d.held_krw for d in held], marker="o")
        present.krw_axis(ax)
        ax.set_title("고객에게서 잘못 출금되어 아직 돌려드리지 않은 금액 (일자별)")
        plt.close(fig)
        return fig

    def notification_table(self) -> Html:
        frame = pd.DataFrame([n.to_dict() for n in self.billing.notifications],
                             columns=["day", "payment_method", "message", "text", "lines", "customers"])
        if frame.empty:
            return Html('<p class="kt-note">보낼 안내 문자가 없습니다.</p>')
        frame["payment_method"] = frame["payment_method"].map(lambda c: present.label(c, present.PAYMENT_METHOD_KO))
        frame["message"] = frame["message"].map(lambda c: ACTION_KO.get(c, c))
        frame["day"] = frame["day"].map(_month_day)
        frame = frame.set_index("day")[["payment_method", "message", "lines", "customers", "text"]]
        frame.index.name = "발송일"
        frame = frame.rename(columns={"payment_method": "결제 수단", "message": "안내", "lines": "회선",
                                      "customers": "고객", "text": "문자 내용"})
        return _table(frame, title="안내 문자 발송 계획 (배치별)", total=_column_totals(frame, ("회선", "고객")),
                      footnote="합계는 보내는 문자 수입니다: 한 회선이 취소·환불과 재청구 안내를 모두 받을 수 "
                               "있습니다.")

    def masked_sample(self) -> Html:
        frame = pd.DataFrame([r.to_dict() for r in self.billing.recipients_sample],
                             columns=["day", "payment_method", "message", "line_id", "name", "phone"])
        frame["payment_method"] = frame["payment_method"].map(lambda c: present.label(c, present.PAYMENT_METHOD_KO))
        frame["message"] = frame["message"].map(lambda c: ACTION_KO.get(c, c))
        frame["line_id"] = frame["line_id"].astype(str)
        frame["day"] = frame["day"].map(_month_day)
        frame = frame.set_index("day")
        frame.index.name = "발송일"
        return _table(frame.rename(columns={"payment_method": "결제 수단", "message": "안내", "line_id": "회선",
                                            "name": "이름(가림)", "phone": "전화(가림)"}),
                      title="배치별 수신자 예시 (개인정보 가림)", no_total="배치마다 몇 명만 보인 예시입니다")

    def appendix(self) -> Html:
        inc = self.incident
        versions = {"kt-analysis": _version("kt-analysis"), "python": platform.python_version()}
        for pkg in ("duckdb", "pandas", "pyarrow", "papermill", "nbconvert", "holidays"):
            versions[pkg] = _version(pkg)
        billing = inc.billing
        assert billing is not None  # this is the billing error's report
        rules = billing.settlement
        return Html(_ENV.get_template("billing_appendix.html.j2").render(
            incident=inc, billing=billing, rules=rules,
            rule_lines=[(present.label(m, present.PAYMENT_METHOD_KO), r.describe(), r.source)
                        for m, r in rules.methods.items() if m in billing.payment_methods],
            summary=self.summary, command=self.command, versions=versions, roles=ROLE_KO,
            payment_methods=[present.label(m, present.PAYMENT_METHOD_KO) for m in billing.payment_methods],
            services=[present.label(s, present.SERVICE_KO) for s in billing.services or ()],
        ))
