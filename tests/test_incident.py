"""Incidents: the samples load; each mistake is an InputError naming the file and the field."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from conftest import INCIDENTS

from kt_analysis.errors import InputError
from kt_analysis.inputs.incident import load_incident

INCIDENT = """
id: test-incident
title: 시험 장애
kind: outage
timezone: Asia/Seoul
policy: kt-terms-2022
roster: data/roster.parquet
affected:
  services: [mobile, internet]
  windows:
    - {start: 2021-10-25T11:16, end: 2021-10-25T12:45, where: all}
"""


@pytest.fixture
def proj(project):
    project.copy_policies("kt-terms-2022", "kt-2021-10-25-special")
    project.file("data/roster.parquet", "not read here")
    return project


def load_bad(proj, text: str, name: str = "bad") -> str:
    path = proj.incident(name, text)
    with pytest.raises(InputError) as err:
        load_incident(path)
    message = str(err.value)
    assert message.startswith(str(path) + ": "), message
    assert err.value.exit_code == 2
    return message


def test_nationwide_sample():
    inc = load_incident(INCIDENTS / "kt-2021-10-25-nationwide.yml")
    assert inc.id == "kt-2021-10-25-nationwide" and inc.policy.id == "kt-2021-10-25-special"
    (window,) = inc.windows
    assert (window.start, window.end, window.minutes) == (
        datetime(2021, 10, 25, 11, 16),
        datetime(2021, 10, 25, 12, 45),
        89,
    )
    assert window.regions is None and window.facilities is None
    assert inc.services == ("mobile", "internet", "landline")
    assert inc.roster.is_file()
    roles = [i["role"] for i in inc.inputs()]
    assert roles == ["incident", "policy", "bill_items", "roster"]  # the special computes on the October bill
    assert all(len(i["sha256"]) == 64 for i in inc.inputs())


def test_ahyeon_sample_reads_its_windows_file():
    inc = load_incident(INCIDENTS / "kt-2018-11-24-ahyeon-fire.yml")
    assert len(inc.windows) == 388
    assert all(w.facilities and len(w.facilities) == 1 for w in inc.windows)
    assert {w.services for w in inc.windows} == {
        ("internet",),
        ("iptv",),
        ("landline",),
        ("mobile",),
    }
    assert inc.start == datetime(2018, 11, 24, 11, 12)
    assert inc.windows_file is not None and "windows" in [i["role"] for i in inc.inputs()]


def test_landline_sample_names_its_exchanges():
    """The 2024 landline outage: one window per exchange of its windows file, all 06:15-16:20."""
    inc = load_incident(INCIDENTS / "kt-2024-08-10-landline.yml")
    assert len(inc.windows) == 50 and inc.windows_file is not None
    assert {w.minutes for w in inc.windows} == {605}
    assert {w.services for w in inc.windows} == {("landline",)}
    prefixes = {f.split("-")[0] for w in inc.windows for f in w.facilities or ()}
    assert prefixes == {"SEOUL", "DAEJEON", "SEJONG", "CHUNGBUK", "CHUNGNAM"}  # Seoul and Chungcheong


def test_roster_override(proj, tmp_path):
    other = tmp_path / "other.parquet"
    other.write_text("x")
    inc = load_incident(proj.incident("ok", INCIDENT), roster=other)
    assert inc.roster == other


def test_own_offset_is_accepted(proj):
    text = INCIDENT.replace("start: 2021-10-25T11:16", "start: 2021-10-25T11:16+09:00")
    inc = load_incident(proj.incident("ok", text))
    assert inc.windows[0].start == datetime(2021, 10, 25, 11, 16)
    assert inc.windows[0].start.tzinfo is None


def test_seconds_are_dropped_and_relative_paths_resolve_from_the_root(proj):
    text = INCIDENT.replace("start: 2021-10-25T11:16", "start: '2021-10-25T11:16:59'")
    inc = load_incident(proj.incident("ok", text))
    assert inc.windows[0].start == datetime(2021, 10, 25, 11, 16)
    assert inc.roster == proj.root / "data" / "roster.parquet"
    assert inc.root == proj.root


@pytest.mark.parametrize(
    ("old", "new", "where", "words"),
    [
        (
            "end: 2021-10-25T12:45",
            "end: 2021-10-25T10:45",
            "affected.windows[0]",
            "ends (2021-10-25 10:45) before it starts (2021-10-25 11:16)",
        ),
        ("end: 2021-10-25T12:45", "end: 2021-10-25T11:16", "affected.windows[0]", "same minute"),
        (
            "start: 2021-10-25T11:16",
            "start: 2021-10-25T11:16+00:00",
            "affected.windows[0].start",
            "another time zone (UTC+00:00)",
        ),
        (
            "end: 2021-10-25T12:45",
            "end: 25/10/2021 12:45",
            "affected.windows[0].end",
            "not a date and time",
        ),
        ("end: 2021-10-25T12:45", "end: 2022-10-25T12:45", "affected.windows[0]", "lasts 365 days"),
        ("id: test-incident", "id: ../../etc", "id", "not a valid incident id"),
        ("id: test-incident", "id: Test", "id", "not a valid incident id"),
        ("policy: kt-terms-2022", "policy: kt-terms-2099", "policy", "kt-terms-2099"),
        ("policy: kt-terms-2022", "policy: policies/none.yml", "policy", "not found"),
        ("roster: data/roster.parquet", "roster: data/missing.parquet", "roster", "not found"),
        ("timezone: Asia/Seoul", "timezone: Mars/Olympus", "timezone", "not a known time zone"),
        ("kind: outage", "kind: outrage", "kind", "'outrage'"),
        (
            "services: [mobile, internet]",
            "services: [mobile, fax]",
            "affected.services[1]",
            "'fax'",
        ),
        (
            "where: all}",
            "where: {region: [서울]}}",
            "affected.windows[0].where.region",
            "not a known key",
        ),
        (
            "where: all}",
            "where: {}}",
            "affected.windows[0].where",
            "neither regions nor facilities",
        ),
        ("title: 시험 장애", "title: 시험 장애\nseverity: high", "severity", "not a known key"),
        (
            "  windows:\n    - {start: 2021-10-25T11:16, end: 2021-10-25T12:45, where: all}\n",
            "",
            "affected",
            "no outage window",
        ),
    ],
)
def test_bad_incident_names_file_and_field(proj, old, new, where, words):
    assert old in INCIDENT
    message = load_bad(proj, INCIDENT.replace(old, new, 1))
    assert f": {where}: " in message, message
    assert words in message, message
    assert " — " in message


def test_unknown_policy_lists_the_known_ones(proj):
    message = load_bad(proj, INCIDENT.replace("policy: kt-terms-2022", "policy: kt-terms-2099"))
    assert "kt-terms-2022" in message and "kt-2021-10-25-special" in message


def test_other_zone_message_names_both_offsets(proj):
    text = INCIDENT.replace("start: 2021-10-25T11:16", "start: 2021-10-25T11:16+00:00")
    message = load_bad(proj, text)
    assert "Asia/Seoul" in message and "UTC+09:00" in message


WINDOWS_INCIDENT = INCIDENT.replace(
    "  windows:\n    - {start: 2021-10-25T11:16, end: 2021-10-25T12:45, where: all}\n",
    "  windows_file: data/incidents/w.csv\n",
)


def test_windows_file(proj):
    proj.file(
        "data/incidents/w.csv",
        """
        facility_id,service,start,end
        SEOUL-JUNG-01,internet,2018-11-24T11:12,2018-11-25T06:37
        SEOUL-JUNG-01,,2018-11-24T11:12,2018-11-25T09:18
    """,
    )
    inc = load_incident(proj.incident("ok", WINDOWS_INCIDENT))
    a, b = inc.windows
    assert a.services == ("internet",) and a.facilities == ("SEOUL-JUNG-01",)
    assert b.services is None and b.minutes == 22 * 60 + 6
    assert a.origin.endswith("line 2")


def test_windows_file_with_regions_in_cp949(proj):
    path = proj.root / "data" / "incidents" / "w.csv"
    path.write_bytes(
        "region,service,start,end\n서울,mobile,2024-08-10T06:15,2024-08-10T16:20\n".encode("cp949")
    )
    inc = load_incident(proj.incident("ok", WINDOWS_INCIDENT))
    assert inc.windows[0].regions == ("서울",)


@pytest.mark.parametrize(
    ("row", "where", "words"),
    [
        ("SEOUL-JUNG-02,fax,2018-11-24T11:12,2018-11-25T06:37", "line 3, service", "'fax'"),
        ("SEOUL-JUNG-02,mobile,2018-11-25T11:12,2018-11-24T06:37", "line 3", "before it starts"),
        ("SEOUL-JUNG-02,mobile,2018-11-24T11:12,tomorrow", "line 3, end", "not a date and time"),
        (
            "SEOUL-JUNG-02,mobile,2018-11-24T11:12+00:00,2018-11-25T06:37",
            "line 3, start",
            "another time zone",
        ),
        (",mobile,2018-11-24T11:12,2018-11-25T06:37", "line 3", "no facility_id or region"),
    ],
)
def test_windows_file_errors_name_the_line(proj, row, where, words):
    csv_path = proj.file(
        "data/incidents/w.csv",
        "facility_id,service,start,end\n"
        "SEOUL-JUNG-01,internet,2018-11-24T11:12,2018-11-25T06:37\n" + row + "\n",
    )
    with pytest.raises(InputError) as err:
        load_incident(proj.incident("bad", WINDOWS_INCIDENT))
    message = str(err.value)
    assert message.startswith(f"{csv_path}: {where}: "), message
    assert words in message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "has no header"),
        ("facility_id,service,start,end\n", "holds a header but no windows"),
        ("facility_id,service,start\nF,mobile,2018-11-24T11:12\n", "lacks column(s) end"),
    ],
)
def test_windows_file_shape_errors(proj, text, words):
    proj.file("data/incidents/w.csv", text)
    with pytest.raises(InputError, match=re.escape(words)):
        load_incident(proj.incident("bad", WINDOWS_INCIDENT))


def test_missing_windows_file(proj):
    with pytest.raises(InputError, match="windows file not found"):
        load_incident(proj.incident("bad", WINDOWS_INCIDENT))


def test_incident_file_itself_missing_or_not_a_mapping(proj, tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_incident(tmp_path / "nope.yml")
    assert "mapping" in load_bad(proj, "- a\n- b\n")
