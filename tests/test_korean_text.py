"""The notes, assumptions and settlement sources the reports show are Korean prose (#15: "Korean
throughout … a source quote may stay in its language, marked as a quote").

* every built-in policy's, settlement rule's and calendar override file's note or source line, and
  every sample incident's note, is mostly Korean (Hangul at least half of its letters) with no English
  sentence in it;
* the appendix templates show a Korean note as prose, and a note that is mostly not Korean (a user's
  own policy written in English) as a quote marked ``lang="en"`` with "(…원문)";
* the rendered sample reports have no visible English sentence outside ``<q lang="en">``, ``<code>``
  and URLs.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from test_report_text import visible_text

from kt_analysis.inputs.policy import load_policy
from kt_analysis.inputs.settlement import load_settlement
from kt_analysis.report.templates import ENV

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "kt_analysis" / "catalogue"
INCIDENTS = ROOT / "data" / "incidents"
SAMPLES = sorted(p.stem for p in INCIDENTS.glob("*.yml"))
NOTE_FILES = sorted([*(CATALOGUE / "policies").glob("*.yml"), *(ROOT / "data").glob("incidents/*.yml"),
                     *(ROOT / "data" / "examples").rglob("*.yml")])
SETTLEMENT_FILES = sorted((CATALOGUE / "settlement").glob("*.yml"))
CALENDAR_FILE = CATALOGUE / "calendar" / "overrides.yml"

MIN_HANGUL_SHARE = 0.5  # the templates' rule too: a text with less is shown as a quote
LONGEST_LATIN_RUN = 5  # six Latin words in a row read as an English sentence
URL = re.compile(r"(?:https?://|www\.)\S+")
LATIN_WORD = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")
EDGE = "()[]{}\"'“”‘’,.;:!?…—–-"


def hangul_share(text: str) -> float:
    """Hangul letters (syllables and jamo) among all letters; a text without letters counts as Korean."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0
    hangul = sum(1 for c in letters if "가" <= c <= "힣" or "ㄱ" <= c <= "ㆎ")
    return hangul / len(letters)


def latin_runs(text: str, *, outside_brackets: bool = False) -> list[str]:
    """Runs of more than LONGEST_LATIN_RUN consecutive Latin words (tokens of Latin letters only:
    ``KT``, ``what-if``; not ids or numbers such as ``kt-terms-2022``), URLs left out; with
    ``outside_brackets`` the text in parentheses and in double quotes is left out too."""
    text = URL.sub(" ", text)
    if outside_brackets:
        text = re.sub(r"\([^()]*\)|\"[^\"]*\"|“[^”]*”", " ", re.sub(r"\([^()]*\)", " ", text))
    runs, run = [], []
    for token in text.split():
        if LATIN_WORD.fullmatch(token.strip(EDGE)):
            run.append(token)
            continue
        if len(run) > LONGEST_LATIN_RUN:
            runs.append(" ".join(run))
        run = []
    if len(run) > LONGEST_LATIN_RUN:
        runs.append(" ".join(run))
    return runs


def _texts() -> list[tuple[str, str]]:
    """(where, text) for every note and source sentence of the built-in files and the samples."""
    out = []
    for path in NOTE_FILES:
        notes = yaml.safe_load(path.read_text(encoding="utf-8")).get("notes")
        if notes:
            out.append((f"{path.relative_to(ROOT)} notes", notes))
    for path in SETTLEMENT_FILES:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if doc.get("notes"):
            out.append((f"{path.relative_to(ROOT)} notes", doc["notes"]))
        for method, rule in doc["methods"].items():
            if rule.get("source"):
                out.append((f"{path.relative_to(ROOT)} {method}.source", rule["source"]))
    doc = yaml.safe_load(CALENDAR_FILE.read_text(encoding="utf-8"))
    for i, source in enumerate(doc.get("sources") or ()):
        out.append((f"{CALENDAR_FILE.relative_to(ROOT)} sources[{i}]", source))
    for section in ("holidays", "non_banking_days", "business_days"):
        for entry in doc.get(section) or ():
            for key in ("name", "source"):
                if isinstance(entry, dict) and entry.get(key):
                    out.append((f"{CALENDAR_FILE.relative_to(ROOT)} {section}.{key}", entry[key]))
    return out


TEXTS = _texts()


def test_the_files_have_notes_to_check() -> None:
    where = {w.split()[0] for w, _ in TEXTS}
    assert len([w for w in where if "/policies/" in w and "catalogue" in w]) == 9
    assert {f"data/incidents/{s}.yml" for s in SAMPLES} <= where
    assert "data/examples/month-pair/month-pair-a.yml" in where
    assert any(w.endswith(".source") for w, _ in TEXTS) and any("calendar" in w for w, _ in TEXTS)


def test_the_checks_find_english() -> None:
    english = "The fire in the cable tunnel of KT's Ahyeon branch cut mobile service."
    assert hangul_share(english) < MIN_HANGUL_SHARE and latin_runs(english)
    korean = "KT 아현지사 통신구 화재로 중구, 용산구의 무선, 인터넷, IPTV 서비스가 약 일주일 동안 끊겼습니다."
    assert hangul_share(korean) >= MIN_HANGUL_SHARE and latin_runs(korean) == []
    assert latin_runs("근거: https://www.example.org/this/is/a/very/long/english/url kt-terms-2022 IPTV") == []
    assert latin_runs("정책 (as in the terms text of LG, an assumption) 끝", outside_brackets=True) == []
    assert latin_runs("정책 (as in the terms text of LG, an assumption) 끝")


@pytest.mark.parametrize(("where", "text"), TEXTS, ids=[w for w, _ in TEXTS])
def test_a_note_is_korean(where: str, text: str) -> None:
    # A calendar source is "what: where it was published"; the citations (outlet, article id) are no prose.
    prose = text.split(":", 1)[0] if "calendar" in where and "sources[" in where else text
    assert hangul_share(prose) >= MIN_HANGUL_SHARE, f"{where} is mostly not Korean: {text[:80]!r}"
    assert latin_runs(text, outside_brackets=True) == [], where


# The appendix templates: a Korean note as prose, an English one (a user's own file) as a marked quote.

ENGLISH_NOTE = "Paid on the customer's claim within 30 days of the outage, credited on the next bill."


def _outage_appendix(policy, notes: str = "") -> str:
    incident = SimpleNamespace(notes=notes, windows=())
    return ENV.get_template("appendix.html.j2").render(
        policy=policy, policy_lines=["대상 서비스: 인터넷."], incident=incident,
        summary=SimpleNamespace(inputs=()), command="kt-analysis run x.yml", versions={"python": "3"},
        windows=(), unmatched=(), empty_windows=(), roles={}, reasons={})


def _paragraph(html: str, label: str) -> str:
    [p] = re.findall(rf"<p><strong>{label}:</strong>(.*?)</p>", html, flags=re.S)
    return p


def test_the_appendix_shows_a_korean_note_as_prose() -> None:
    policy = load_policy(CATALOGUE / "policies" / "kt-2021-10-25-special.yml")
    html = _outage_appendix(policy, notes="KT 부산국사의 라우터 설정 오류로 전국의 통신이 끊겼습니다.")
    note = _paragraph(html, "가정·해석")
    assert "89분 × 10 = 890분을 900분(15시간)으로 지급" in note
    assert "<q" not in note and "원문" not in note
    memo = _paragraph(html, "사고 메모")
    assert "라우터 설정 오류" in memo and "<q" not in memo and "원문" not in memo
    assert "<li>https://www.koreatimes.co.kr/www/tech/2021/11/133_318025.html</li>" in html  # URLs as they are


def test_the_appendix_quotes_an_english_note() -> None:
    policy = dataclasses.replace(load_policy(CATALOGUE / "policies" / "kt-terms-2022.yml"), notes=ENGLISH_NOTE,
                                 sources=("https://example.org/terms", "KT terms text as quoted by the press"))
    html = _outage_appendix(policy, notes="Router error at the Busan office.")
    note = _paragraph(html, "가정·해석")
    assert re.fullmatch(r'\s*<q class="kt-quote" lang="en">Paid on the customer&#39;s claim within 30 days of the '
                        r'outage, credited on the next bill.</q> <small>\(정책 파일의 원문\)</small>\s*', note), note
    assert ('<q class="kt-quote" lang="en">Router error at the Busan office.</q> '
            "<small>(사고 파일의 원문)</small>") in html
    assert "<li>https://example.org/terms</li>" in html
    assert ('<li><q class="kt-quote" lang="en">KT terms text as quoted by the press</q> '
            "<small>(원문)</small></li>") in html
    assert latin_runs(visible_text(html)) == []


def _billing_appendix(rules, sources: dict[str, str]) -> str:
    billing = SimpleNamespace(wrong_month="2023-09", charged_month="2023-07", charged_on="2023-09-11",
                              discovered_on="2023-09-11", bill_cycle_days=(11,))
    return ENV.get_template("billing_appendix.html.j2").render(
        incident=SimpleNamespace(notes=""), billing=billing, rules=rules,
        rule_lines=[(name, rules.methods[m].describe(), text) for name, (m, text) in
                    zip(("신용카드", "체크카드"), sources.items(), strict=True)],
        summary=SimpleNamespace(inputs=()), command="kt-analysis run x.yml", versions={}, roles={},
        payment_methods=["신용카드", "체크카드"], services=["무선(모바일)"])


def test_the_billing_appendix_shows_a_korean_source_as_prose_and_quotes_an_english_one() -> None:
    rules = load_settlement(CATALOGUE / "settlement" / "kt-2023-09-announced.yml")
    html = _billing_appendix(rules, {m: r.source for m, r in rules.methods.items()})
    assert "(근거: 결제일 전에 승인 취소, 돈이 오가지 않음 (131만 명))" in html
    assert "<q" not in html
    html = _billing_appendix(rules, {"credit_card": "approvals cancelled before the payment date",
                                     "check_card": "이미 출금됨, 취소 후 환불"})
    assert ('(근거: <q class="kt-quote" lang="en">approvals cancelled before the payment date</q> '
            "<small>(원문)</small>)") in html
    assert "(근거: 이미 출금됨, 취소 후 환불)" in html


# The rendered sample reports.

@pytest.fixture(scope="module")
def reports(sample_reports: dict[str, str]) -> dict[str, str]:
    return sample_reports  # tests/conftest.py: every sample incident run once with its report


@pytest.mark.parametrize("name", SAMPLES)
def test_a_report_has_no_english_sentence(reports: dict[str, str], name: str) -> None:
    html = reports[name]
    assert latin_runs(visible_text(html)) == []
    # The notes are shown as prose, not as quotes.
    assert "사고 메모:</strong> <q" not in html and "가정·해석:</strong> <q" not in html
    assert "(사고 파일의 원문)" not in html and "(정책 파일의 원문)" not in html


def test_the_report_check_finds_an_english_note() -> None:
    """The check above fails on an English note shown as prose (as the templates would show a note
    that slipped through as mostly Korean) and passes it as a marked quote."""
    sentence = ("A router configuration error at KT's Busan office took the whole country offline. KT's "
                "window (11:16-12:45, 89 min) is the basis of compensation.")
    assert latin_runs(visible_text(f"<p><strong>사고 메모:</strong> {sentence}</p>"))
    quoted = f'<p><strong>사고 메모:</strong> <q class="kt-quote" lang="en">{sentence}</q></p>'
    assert latin_runs(visible_text(quoted)) == []
