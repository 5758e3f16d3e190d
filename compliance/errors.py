"""The exception tree and the diagnostics that user-facing errors are made of.

::

    ComplianceError            anything this package raises on purpose; exit status 2
    ├── InputError             a case or rule file could not be read or is invalid
    │   ├── CaseFileError      ... a case file
    │   └── RuleFileError      ... a rule file or rule pack
    └── UsageError             a request that cannot be met (an unknown rule id, a bad option)
        └── MappingError       a column mapping the records, or their checks, show wrong
            ├── UnknownColumnError  ... it names a column the records do not have
            └── BadConstantError    ... it gives a constant no record could hold

An :class:`InputError` carries every :class:`Diagnostic` found in the files it
concerns, sorted by position, so that one run reports all the problems at once.
Each diagnostic reads ``file:line:col: code: message``, then the field it
concerns, the source line with a caret, and a hint where one exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from compliance.source import Span

CODES: dict[str, str] = {
    # reading YAML
    "unreadable": "the file cannot be opened or read",
    "file-too-large": "the file is larger than the loader reads",
    "not-text": "the file is binary or not UTF-8 text",
    "empty-file": "the file holds no YAML document",
    "yaml-syntax": "the text is not valid YAML (or nests too deeply, or holds several documents)",
    "duplicate-key": "a mapping has the same key twice",
    "bad-key": "a mapping key is not plain text",
    "forbidden-tag": "a YAML tag other than the plain ones (no Python objects, no binary)",
    "alias-limit": "aliases expand to too many nodes (an alias bomb)",
    # the shape of a case or rule file
    "wrong-file-kind": "a rule file given where a case file is expected, or the other way",
    "missing-field": "a required field is absent",
    "unknown-field": "a field the format does not have (often a typo)",
    "wrong-type": "a value of the wrong type: text for a list, a number for a date",
    "invalid-value": "a value of the right type but not allowed: negative, empty, unknown name",
    "invalid-date": "a date that does not exist, such as 2024-02-30",
    "unknown-country": "not an ISO 3166-1 alpha-2 country code",
    "unknown-currency": "not an ISO 4217 currency code",
    "invalid-hs-code": "not an HS code: 2, 4, 6, 8 or 10 digits",
    "unknown-hs-code": "an HS code absent from the HS 2022 nomenclature",
    "unknown-column": "a column mapping names a column the records file does not have",
    "duplicate-id": "a transfer id used twice in a case, or a rule id used twice",
    # conditions of a rule
    "bad-condition": "a condition that is not all/any/not or one fact test",
    "unknown-fact": "a condition on a fact the catalogue does not have",
    "unknown-operator": "an operator the language does not have",
    "operator-mismatch": "an operator that does not apply to the fact's kind",
    "bad-operand": "an operand that does not fit its operator",
    "unknown-list": "a $name that no list of the file declares and no country group has",
    "empty-group": "a country group none of whose members belongs to it while the rule is in force",
    "unknown-rule": "an exemption for a rule id that the file does not define",
    # static analysis (compliance rules lint)
    "unsatisfiable": "no transfer can meet the rule: its conditions contradict one another",
    "never-clears": "no transfer can clear the rule: every record it reads would fail",
    "redundant-rule": "another rule with the same verdict and citation already catches all"
                      " this one does",
    "redundant-prefix": "an HS prefix listed beside a shorter one that already covers it",
    "rate-unavailable": "a value threshold in a currency without reference rates: always"
                        " undetermined unless the item is valued in that very currency",
    "missing-url": "a citation without a link to the legal text",
    "exemption-never-applies": "an exemption never in force on a day a rule it names is",
    "unverified-citation": "a citation marked unverified: to be checked against the official"
                           " text",
}
"""Every diagnostic code, with what it means. ``docs/errors.md`` lists the same."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in one place: a stable code, a message, the field path and a hint."""

    code: str
    message: str
    span: Span
    field: str = ""
    hint: str = ""
    severity: str = "error"  # error, warning or note

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unregistered diagnostic code {self.code!r}")

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.file, self.span.line, self.span.column, self.code)

    def render(self) -> str:
        """The diagnostic as the command line prints it."""
        level = "" if self.severity == "error" else f" ({self.severity})"
        lines = [f"{self.span}: {self.code}{level}: {self.message}"]
        if self.field:
            lines.append(f"  field: {self.field}")
        snippet = self.span.snippet()
        if snippet:
            lines.append(snippet)
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "field": self.field,
            "hint": self.hint,
            "severity": self.severity,
        }


class ComplianceError(Exception):
    """Base of every error this package raises on purpose."""

    exit_status = 2

    def render(self) -> str:
        """The error as the command line prints it, without a traceback."""
        return f"error: {self}"


class InputError(ComplianceError):
    """One or more files could not be read or are invalid."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(sorted(diagnostics, key=Diagnostic.sort_key))
        if not self.diagnostics:
            raise ValueError("an InputError needs at least one diagnostic")
        first = self.diagnostics[0]
        more = len(self.diagnostics) - 1
        suffix = f" (and {more} more)" if more else ""
        super().__init__(f"{first.span}: {first.code}: {first.message}{suffix}")

    def render(self) -> str:
        count = len(self.diagnostics)
        files = len({d.span.file for d in self.diagnostics})
        body = "\n".join(d.render() for d in self.diagnostics)
        noun = "problem" if count == 1 else "problems"
        where = "file" if files == 1 else "files"
        return f"{body}\n{count} {noun} in {files} {where}"


class CaseFileError(InputError):
    """A case file could not be read or does not follow the case-file contract."""


class RuleFileError(InputError):
    """A rule file could not be read or is not a valid rule pack."""


class UsageError(ComplianceError):
    """A request that cannot be met: an unknown rule id, a path that does not exist."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def render(self) -> str:
        text = f"error: {self}"
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class MappingError(UsageError):
    """A column mapping that the records, or the checks of their values, show to be wrong.

    Raised where that is known, when the mapping is already read; whoever read
    the mapping file turns :meth:`problems` into diagnostics at its lines.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint)
        self.records: str | None = None
        """The records file it is said of, when one of several was screened."""

    def problems(self, records: str) -> list[tuple[tuple[str, str], str, str, str]]:
        """Each problem, said of ``records``: the place in the mapping (``("columns",
        field)``), its diagnostic code, message and hint."""
        raise NotImplementedError


class UnknownColumnError(MappingError):
    """Columns that a column mapping names and the records do not have.

    ``missing`` holds, for each, the field it was named for, the column and a
    hint. Raised where the records' columns are known.
    """

    def __init__(self, missing: Iterable[tuple[str, str, str]]) -> None:
        self.missing = tuple(missing)
        field, column, hint = self.missing[0]
        more = len(self.missing) - 1
        super().__init__(f"no column '{column}', which the mapping names for '{field}'"
                         + (f" (and {more} more)" if more else ""), hint)

    def problems(self, records: str) -> list[tuple[tuple[str, str], str, str, str]]:
        return [(("columns", field), "unknown-column",
                 f"{records} has no column '{column}', which the mapping names for '{field}'",
                 hint) for field, column, hint in self.missing]


class BadConstantError(MappingError):
    """Constants of a column mapping that every row would be rejected for.

    ``bad`` holds, for each, the field and why, in the words a rejected row's
    reason uses. Raised before any row is read.
    """

    HINT = "every row would be rejected for it: correct the constant"

    def __init__(self, bad: Iterable[tuple[str, str]]) -> None:
        self.bad = tuple(bad)
        field, reason = self.bad[0]
        more = len(self.bad) - 1
        super().__init__(f"the mapping's constant for '{field}' is wrong: {reason}"
                         + (f" (and {more} more)" if more else ""), self.HINT)

    def problems(self, records: str) -> list[tuple[tuple[str, str], str, str, str]]:
        return [(("constants", field), "invalid-value", reason, self.HINT)
                for field, reason in self.bad]
