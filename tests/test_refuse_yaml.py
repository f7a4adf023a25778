"""Adversarial corpus, YAML: a key written twice (at any depth) and a value YAML 1.1 would turn
into something else (``yes`` → a boolean, ``1_000`` → 1000) are refused through the real command
line, never read as a plausible wrong answer.

The small project is ``tests/data/bad/`` (a 5-line roster, the policy ``bad-corpus-10x``, the
settlement rules ``bad-corpus``). Each case runs ``validate`` on the bad file and ``run`` on an
incident that uses it; ``run`` writes into a folder that already holds the good report of
``incidents/good.yml`` (3,332 won), which must stay byte for byte as it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from refusal import assert_refused, kt, small_project, snapshot

GOOD = "incidents/good.yml"
GOOD_BILLING = "incidents/good-billing.yml"
POLICY = "data/policies/bad-corpus-10x.yml"
SETTLEMENT = "data/settlement/bad-corpus.yml"

# name, file to change, (old text, new text), incident that uses it (None: the file itself), expected texts
CASES = [
    ("incident-top-key", GOOD, ("policy: bad-corpus-10x\n", "policy: bad-corpus-10x\npolicy: kt-terms-2022\n"),
     None, ("line 6, column 1", "key 'policy' appears twice (first at line 5)", "keep one `policy:`")),
    ("incident-window-key", GOOD, ("where: {regions: [서울]}", "where: {regions: [서울], regions: [부산]}"),
     None, ("key 'regions' in affected.windows[0].where appears twice (first at line 9)", "keep one `regions:`")),
    ("policy-credit-key", POLICY, ("  outage_multiplier: 10\n", "  outage_multiplier: 10\n  outage_multiplier: 365\n"),
     GOOD, ("line 8, column 3", "key 'outage_multiplier' in credit appears twice (first at line 7)",
            "YAML would silently use the last")),
    ("policy-section-key", POLICY, ("hourly_fee: {hours_per_month: 720}\n",
                                    "hourly_fee: {hours_per_month: 720}\nhourly_fee: {hours_per_month: 24}\n"),
     GOOD, ("key 'hourly_fee' appears twice (first at line 5)", "keep one `hourly_fee:`")),
    ("settlement-method-key", SETTLEMENT, ("  check_card: {action: refund, lag_business_days: 1}\n",
                                           "  check_card: {action: refund, lag_business_days: 1}\n"
                                           "  credit_card: {action: refund, lag_business_days: 30}\n"),
     GOOD_BILLING, ("key 'credit_card' in methods appears twice (first at line 4)", "keep one `credit_card:`")),
    ("policy-bool-number", POLICY, ("  outage_multiplier: 10\n", "  outage_multiplier: true\n"),
     GOOD, ("credit.outage_multiplier", "must be a whole number, found true", "true and false are not numbers")),
    ("policy-underscore-number", POLICY, ("unit_krw: 1,", "unit_krw: 1_000,"),
     GOOD, ("credit.rounding.unit_krw", "found '1_000'", "write a whole number")),
    ("policy-sexagesimal-number", POLICY, ("hours_per_month: 720", "hours_per_month: 12:00"),
     GOOD, ("hourly_fee.hours_per_month", "found '12:00'", "write a whole number")),
    ("policy-yes-boolean", POLICY, ("hourly_fee: {hours_per_month: 720}\n",
                                    "hourly_fee: {hours_per_month: 720}\ndelivery: {claim_required: yes}\n"),
     GOOD, ("delivery.claim_required", "found 'yes'", "write true or false (yes is text in YAML 1.2")),
    ("incident-bool-region", GOOD, ("where: {regions: [서울]}", "where: {regions: [서울, TRUE]}"),
     None, ("affected.windows[0].where.regions[1]", "must be text, found true", "quote it: 'true'")),
    ("incident-tagged-int", GOOD, ("title: 시험용 정상 사고", "title: !!int 1_000"),
     None, ("'1_000' cannot be read as !!int", "without a YAML tag")),
    ("policy-merge-key", POLICY,
     ("  outage_multiplier: 10\n", "  <<: {outage_multiplier: 365}\n  outage_multiplier: 10\n"), GOOD,
     ("credit.<<", "is not a known key", "remove it")),
]


@pytest.fixture(scope="module")
def good_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("yaml-cli")
    project = small_project(base / "good")
    out = base / "reports"
    result = kt("run", GOOD, "--no-report", "--out", out, cwd=project)
    assert result.returncode == 0, result.stderr
    assert "3,332 won" in result.stdout + result.stderr
    return out


@pytest.mark.parametrize(("name", "target", "change", "user", "expect"), CASES, ids=[c[0] for c in CASES])
def test_yaml_that_would_change_meaning_is_refused(tmp_path: Path, good_out: Path, name: str, target: str,
                                                   change: tuple[str, str], user: str | None,
                                                   expect: tuple[str, ...]) -> None:
    project = small_project(tmp_path / "project")
    path = project / target
    text = path.read_text(encoding="utf-8")
    assert text.count(change[0]) == 1, f"{target} lacks {change[0]!r}"
    path.write_text(text.replace(change[0], change[1]), encoding="utf-8")
    file_name = Path(target).name
    proc = kt("validate", target, cwd=project, tmp=tmp_path)
    assert_refused(proc, file_name, *expect)
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    before = snapshot(good_out)
    proc = kt("run", user or target, "--no-report", "--out", good_out, cwd=project, tmp=tmp_path)
    assert_refused(proc, file_name, *expect)
    assert snapshot(good_out) == before
    assert sorted(p.name for p in good_out.iterdir() if p.is_dir()) == ["bad-corpus-good"]
