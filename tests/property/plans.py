"""What the ledger's state machine asks for: its contracts' terms, payment periods, and
claims that the payment rules should mostly accept, planned from what a contract has.

`intake_terms` (tests/helpers.py) pays for housing entry within a year of enrolment,
sustainment 91–151 days after the entry, a job or (exclusively) an own business, and a fall
in the PSS stress score of five or more 330–400 days after enrolment. The per-participant cap
takes entry, sustainment and a job, not a PSS change on top. Every amount and cap is a
multiple of 5,000 kroner, so that each commissioner's share of it is exact.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict

from outcomes.schemas import ClaimIn
from tests.property.invariants import Seen, today

CAP = 50_000_000
PER_PARTICIPANT = 7_500_000
SHARES = [(6000, 4000), (5000, 5000), (7500, 2500)]  # the commissioners' shares, in bp
ENROL_FROM = dt.date(2024, 1, 1)  # the enrolment period's start in intake_terms
PERIOD_FROM = dt.date(2024, 1, 1)
# Payment runs end before today, so that a variation may take effect today.
PERIOD_ENDS = [dt.date(2024, 12, 31), dt.date(2025, 6, 30), dt.date(2025, 12, 31),
               today() - dt.timedelta(days=1)]
# Rate card lines of intake_terms: metric and price in øre.
LINES = {"entry": ("housing_entry", 1_500_000),
         "sustained-3m": ("housing_sustained_3m", 2_000_000),
         "job": ("employment", 3_500_000), "own-business": ("self_employment", 3_500_000),
         "pss": ("pss_reduction", 1_000_000)}
COUNTED = ("accepted", "sampled", "verified", "approved", "paid")
Row = tuple[int, str, int, bool]  # participant pick, line, day offset, fresh


def after(on: dt.date, days: int) -> dt.date:
    return on + dt.timedelta(days=days)


def plan(seen: Seen, rows: list[Row], refs: itertools.count) -> list[ClaimIn]:
    """Claims with dates inside each line's window, sustainment after an entry, and, for a
    `fresh` row, a line the participant has not had yet and that fits under the
    per-participant cap (the first such from the drawn participant and line on). A row that
    is not fresh is sent as drawn, so that duplicates, exclusions and caps are refused at
    times too."""
    people = seen.participants
    names = {p["id"]: p["pseudonym"] for p in people}
    taken: dict[str, dict[str, dt.date]] = defaultdict(dict)
    for c in seen.claims_in(*COUNTED):
        taken[names[c["participant"]]][c["line_code"]] = c["achieved_on"]
    out = []

    def room(pseudonym: str, line: str) -> bool:
        mine = taken[pseudonym]
        work = {"job", "own-business"}
        if line in mine or (line in work and work & mine.keys()):
            return False
        cost = LINES[line][1] + (LINES["entry"][1] if line == "sustained-3m"
                                 and "entry" not in mine else 0)
        return sum(LINES[k][1] for k in mine) + cost <= PER_PARTICIPANT

    def add(pseudonym: str, line: str, on: dt.date, value: str | None = None) -> None:
        out.append(ClaimIn(client_ref=f"r{next(refs)}", pseudonym=pseudonym,
                           metric_code=LINES[line][0], achieved_on=on, value=value,
                           evidence_ref="case file"))
        taken[pseudonym][line] = on

    for pick, line, off, fresh in rows:
        p = people[pick % len(people)]
        if fresh:
            order = ["entry", "sustained-3m",
                     "own-business" if line == "own-business" else "job", "pss"]
            at = order.index(line)
            p, line = next(((q, k) for n in range(len(people))
                            for q in [people[(pick + n) % len(people)]]
                            for k in order[at:] + order[:at] if room(q["pseudonym"], k)),
                           (p, line))
        mine, enrolled = taken[p["pseudonym"]], p["enrolled_on"]
        if line == "sustained-3m" and "entry" not in mine:
            add(p["pseudonym"], "entry", after(enrolled, off % 200))
        if line == "entry":
            add(p["pseudonym"], line, after(enrolled, off % 366))
        elif line == "sustained-3m":
            add(p["pseudonym"], line, after(mine["entry"], 91 + off % 61))
        elif line == "pss":
            add(p["pseudonym"], line, after(enrolled, 330 + off % 71), str(-5 - off % 8))
        else:
            add(p["pseudonym"], line, after(enrolled, off % 480))
    return out
