"""One registry of every reason code (contracts/reasons.py), held to the source code and to
docs/payment-rules.md: a code the code can emit is registered, a registered code is emitted
somewhere and documented with an example, and the docs document no other code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from contracts.reasons import GROUPS, REASONS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "contracts", "core", "effect", "ledger", "outcomes", "reports", "voice",
            "opendata")
DOCS = ROOT / "docs" / "payment-rules.md"
CODE = re.compile(r"^[a-z][a-z0-9_]*$")
# Helpers that take a reason code as a positional argument, and where.
HELPERS = {"fail": 0, "_reject": 0, "add": 0, "field_error": 0, "problem": 2,
           "_rejected_invitation": 2, "AnswerError": 1}


def _sources() -> list[Path]:
    return [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
            if "piccolo_migrations" not in p.parts and p.name != "demo.py"
            # The instruments' item and measure codes are data, not reasons.
            and p.parts[-2:] != ("voice", "instruments.py")]


def _text(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) \
        else None


def _name(func: ast.AST) -> str:
    return func.id if isinstance(func, ast.Name) else \
        func.attr if isinstance(func, ast.Attribute) else ""


def emitted() -> dict[str, set[str]]:
    """Every code literal in a place that emits it: `code="…"` in a call (a domain error, a
    Problem), a class's `code = "…"`, a helper's code argument, a returned (code, message)
    pair, the HTTP status codes' table."""
    found: dict[str, set[str]] = {}
    for path in _sources():
        where = str(path.relative_to(ROOT))
        codes: list[str | None] = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = _name(node.func)
                if name != "dict":  # dict(code=…) is a metric or rate card line's code
                    codes += [_text(k.value) for k in node.keywords if k.arg == "code"]
                if name in HELPERS and len(node.args) > HELPERS[name]:
                    codes.append(_text(node.args[HELPERS[name]]))
            elif isinstance(node, ast.ClassDef):
                codes += [_text(b.value) for b in node.body if isinstance(b, ast.Assign)
                          and any(isinstance(t, ast.Name) and t.id == "code"
                                  for t in b.targets)]
            elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) \
                    and len(node.value.elts) == 2:
                first, second = node.value.elts
                if _text(second) is not None or isinstance(second, ast.JoinedStr):
                    codes.append(_text(first))
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "STATUS_CODES" for t in node.targets):
                codes += [_text(v) for v in node.value.values]
        for code in codes:
            if code is not None and CODE.match(code):
                found.setdefault(code, set()).add(where)
    return found


def literals() -> set[str]:
    """Every code-shaped string literal in the source."""
    out: set[str] = set()
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            text = _text(node)
            if text is not None and CODE.match(text):
                out.add(text)
    return out


def documented() -> dict[str, str]:
    """Each code named in a `###` heading of the docs, with the text of its section."""
    sections: dict[str, str] = {}
    heading, body = None, []
    for line in [*DOCS.read_text().splitlines(), "## end"]:
        if line.startswith("#"):
            if heading is not None:
                for code in re.findall(r"`([^`]+)`", heading):
                    sections[code] = sections.get(code, "") + "\n".join(body).strip()
            heading, body = (line if line.startswith("### ") else None), []
        else:
            body.append(line)
    return sections


def test_every_code_the_code_emits_is_registered():
    unregistered = {code: sorted(where) for code, where in emitted().items()
                    if code not in REASONS}
    assert not unregistered, f"add these to contracts/reasons.py: {unregistered}"


def test_every_registered_code_is_in_the_code():
    stale = sorted(set(REASONS) - literals())
    assert not stale, f"no code emits these any more: {stale}"


def test_each_code_is_in_one_group():
    assert sum(len(g) for g in GROUPS.values()) == len(REASONS)
    assert all(meaning.strip() for meaning in REASONS.values())


def test_the_docs_give_each_code_an_example_and_nothing_else():
    sections = documented()
    missing = sorted(code for code in REASONS if code not in sections)
    assert not missing, f"docs/payment-rules.md has no section for {missing}"
    thin = sorted(code for code in REASONS if len(sections[code]) < 60)
    assert not thin, f"these sections give no example: {thin}"
    unknown = sorted(code for code in sections if code not in REASONS)
    assert not unknown, f"docs/payment-rules.md documents codes Virker does not give: {unknown}"


def test_the_reasons_table_names_registered_codes():
    table = [line for line in DOCS.read_text().splitlines() if line.startswith("| `")]
    codes = [re.match(r"\| `([^`]+)`", line).group(1) for line in table]
    assert codes and set(codes) <= set(REASONS)
    assert REASONS.keys() >= {"enrolment_conflict", "not_yet_sampled", "not_approvable"}


def test_the_scan_finds_codes_wherever_they_are_written():
    found = emitted()
    # a keyword, a class attribute, a rule's helper, a returned pair, the status table
    for code in ("contract_not_found", "entry_unbalanced", "below_threshold",
                 "not_yet_sampled", "invalid_pseudonym", "method_not_allowed"):
        assert code in found, code
