"""The only reader of YAML, and of JSON lines of transfers: safe loading, errors mapped to places.

Files are composed into YAML nodes (never constructed by PyYAML, so no tag can
build a Python object), then turned into plain data while an index keeps the
node of every path. A pydantic error's ``loc`` is a path into that data, so it
maps back to the file, line and column the user wrote. A JSON line's transfer
is validated by the same models, and its first problem said in the same words.

Scalars follow the YAML 1.2 core schema: ``NO`` (Norway) stays a string, and
``0106`` is not an octal number. HS codes are read exactly as written, quoted
or not, so that ``hs_code: 8703.10`` keeps its trailing zero.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import IO, Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from compliance.conditions import ALWAYS, AllOf, Node, Window, parse_condition
from compliance.errors import (
    CaseFileError,
    Diagnostic,
    InputError,
    MappingError,
    RuleFileError,
    UsageError,
)
from compliance.expectations import ExpectedCase
from compliance.facts import FACTS
from compliance.layouts import Layout
from compliance.models import Case, Money, Transfer
from compliance.rules import (
    Correlation,
    CorrelationSpec,
    Example,
    Exemption,
    ExemptionSpec,
    ListsSpec,
    Rule,
    RulePack,
    RulePackSpec,
    RuleSet,
    RuleSpec,
    example_transfer,
)
from compliance.source import Span, file_span

MAX_FILE_BYTES = 16 * 1024 * 1024
"""Largest YAML file read; bulk records belong in JSONL, CSV or Parquet."""

MAX_ALIAS_EXPANSION = 10_000
"""Nodes that aliases may repeat in one file before it is refused as an alias bomb."""

_RAW_KEYS = frozenset({"hs_code", "prefix", "except", "hs"})

Path_ = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)
S = TypeVar("S", RuleSpec, ExemptionSpec, CorrelationSpec)


class _Resolver(yaml.resolver.BaseResolver):
    """Implicit tags of the YAML 1.2 core schema, plus ISO dates."""


for _tag, _pattern, _first in (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+0123456789."),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("timestamp", r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?$", "0123456789"),
):
    _Resolver.add_implicit_resolver(
        f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first)
    )

try:  # libyaml's parser when present; the pure-Python one otherwise
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    _Parser = None


if _Parser is not None:
    class _Composer(_Parser, _Resolver):  # type: ignore[valid-type,misc]
        def __init__(self, stream: str) -> None:
            _Parser.__init__(self, stream)
            _Resolver.__init__(self)
else:  # pragma: no cover
    class _Composer(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser,  # type: ignore[no-redef]
                    yaml.composer.Composer, _Resolver):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _Resolver.__init__(self)


_STANDARD = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_STANDARD}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}


class _Problem(Exception):
    def __init__(self, code: str, message: str, node: yaml.Node | None, hint: str = "") -> None:
        super().__init__(message)
        self.code, self.node, self.hint = code, node, hint


@dataclass
class Document:
    """A YAML file turned into plain data, with the node of every path for error positions."""

    file: str
    text: str
    data: Any
    values: dict[Path_, yaml.Node]
    keys: dict[Path_, yaml.Node]

    def span(self, path: Path_, prefer_key: bool = False) -> Span:
        """The span of the deepest node along ``path`` (its key, if asked and present)."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            node = (self.keys.get(prefix) if prefer_key else None) or self.values.get(prefix)
            if node is not None:
                return self.mark_span(node.start_mark)
        return file_span(self.file)

    def mark_span(self, mark: Any) -> Span:
        lines = self.text.splitlines()
        line = mark.line if mark.line < len(lines) else max(len(lines) - 1, 0)
        return Span(self.file, line + 1, mark.column + 1, lines[line] if lines else "")


class _Builder:
    """Turns composed nodes into data, recording each node's path and guarding aliases."""

    def __init__(self) -> None:
        self.values: dict[Path_, yaml.Node] = {}
        self.keys: dict[Path_, yaml.Node] = {}
        self.seen: set[int] = set()
        self.repeats = 0

    def build(self, node: yaml.Node, path: Path_, raw: bool) -> Any:
        if id(node) in self.seen:
            self.repeats += 1
            if self.repeats > MAX_ALIAS_EXPANSION:
                raise _Problem("alias-limit",
                               f"aliases expand to more than {MAX_ALIAS_EXPANSION} repeated"
                               " nodes: refused as a possible alias bomb", node)
        else:
            self.seen.add(id(node))
        self.values[path] = node
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, raw)
        if isinstance(node, yaml.SequenceNode):
            self._check_tag(node, f"{_STANDARD}seq")
            return [self.build(item, (*path, i), raw) for i, item in enumerate(node.value)]
        return self._scalar(node, raw)

    def _check_tag(self, node: yaml.Node, *allowed: str) -> None:
        if node.tag not in allowed:
            raise _Problem("forbidden-tag", f"the tag {node.tag} is not allowed here", node,
                           "case and rule files use plain YAML: mappings, lists, text,"
                           " numbers, dates, true/false")

    def _mapping(self, node: yaml.MappingNode, path: Path_, raw: bool) -> dict[str, Any]:
        self._check_tag(node, f"{_STANDARD}map")
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Problem("bad-key", "a mapping key must be plain text", key_node)
            key = key_node.value
            if key in result:
                first = self.keys[(*path, key)].start_mark.line + 1
                raise _Problem("duplicate-key",
                               f"the key '{key}' appears twice in this mapping"
                               f" (first on line {first})", key_node,
                               "remove or rename one of them")
            self.keys[(*path, key)] = key_node
            result[key] = self.build(value_node, (*path, key), raw or key in _RAW_KEYS)
        return result

    def _scalar(self, node: yaml.ScalarNode, raw: bool) -> Any:
        if node.tag not in _SCALAR_TAGS and node.tag != "!":
            self._check_tag(node, *_SCALAR_TAGS)
        kind = node.tag.removeprefix(_STANDARD)
        text = node.value
        if kind in ("str", "!", "timestamp") or (raw and kind in ("int", "float")):
            return text
        if kind == "null":
            return None
        if kind == "bool":
            return text.lower() == "true"
        if kind == "int":
            return int(text, 0) if text[:2] in ("0o", "0x") else int(text)
        try:
            number = Decimal(text)
        except InvalidOperation:
            return float(text.lower().replace(".inf", "inf").replace(".nan", "nan"))
        return number if number.is_finite() else float(number)


def read_document(path: Path | str, display: str | None = None,
                  error: type[InputError] = InputError) -> Document:
    """Read a YAML file into a :class:`Document`, or raise ``error`` with one diagnostic."""
    file = display or str(path)
    path = Path(path)

    def fail(code: str, message: str, span: Span | None = None, hint: str = "") -> InputError:
        return error([Diagnostic(code, message, span or file_span(file), hint=hint)])

    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise fail("file-too-large",
                       f"the file is {size:,} bytes; YAML files are read up to"
                       f" {MAX_FILE_BYTES:,} bytes",
                       hint="split it, or screen bulk records as JSONL, CSV or Parquet")
        blob = path.read_bytes()
    except OSError as exc:
        raise fail("unreadable", f"cannot read the file: {exc.strerror or exc}") from None
    if b"\0" in blob:
        raise fail("not-text", "the file is binary, not YAML text")
    try:
        text = blob.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail("not-text", f"the file is not UTF-8 text (byte {exc.start})") from None
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        raise fail("empty-file", "the file is empty")
    document = Document(file, text, None, {}, {})
    try:
        composer = _Composer(text)
        try:
            root = composer.get_single_node()
        finally:
            composer.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = exc.problem or str(exc)
        if exc.context and "found" in message:
            message = f"{exc.context}: {message}"
        span = document.mark_span(mark) if mark else None
        raise fail("yaml-syntax", f"invalid YAML: {message}", span) from None
    except yaml.YAMLError as exc:
        raise fail("yaml-syntax", f"invalid YAML: {exc}") from None
    except RecursionError:
        raise fail("yaml-syntax", "the YAML nests too deeply to read") from None
    if root is None:
        raise fail("empty-file", "the file holds no YAML document")
    builder = _Builder()
    try:
        document.data = builder.build(root, (), False)
    except _Problem as exc:
        span = document.mark_span(exc.node.start_mark) if exc.node is not None else None
        raise fail(exc.code, str(exc), span, exc.hint) from None
    except RecursionError:
        raise fail("yaml-syntax", "the YAML nests too deeply to read") from None
    document.values, document.keys = builder.values, builder.keys
    return document


# -- pydantic errors to diagnostics -------------------------------------------------------

_CODES = {
    "missing": "missing-field", "extra_forbidden": "unknown-field",
    "unknown_field": "unknown-field",
    "unknown_country": "unknown-country", "unknown_currency": "unknown-currency",
    "invalid_hs_code": "invalid-hs-code", "unknown_hs_code": "unknown-hs-code",
    "duplicate_id": "duplicate-id", "invalid_date": "invalid-date",
}


_EXPECTED = {"string_type": "expected text", "list_type": "expected a list",
             "tuple_type": "expected a list", "bool_parsing": "expected true or false",
             "bool_type": "expected true or false"}
"""What a value of the wrong type should have been, for the types pydantic words its own way."""
_BOUNDS = {"greater_than": ("above", "gt"), "greater_than_equal": ("at least", "ge"),
           "less_than": ("below", "lt"), "less_than_equal": ("at most", "le")}
"""How a number out of its field's bounds is said to need to be, and the bound's context key."""


def _field_names(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The field names of the model found by following ``loc`` from ``model``."""
    annotation: Any = model
    for segment in loc:
        annotation = _unwrap(annotation)
        if isinstance(segment, int):
            args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
            annotation = args[-1] if args else None
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            info = annotation.model_fields.get(segment)
            annotation = info.annotation if info else None
        else:
            origin = typing.get_origin(annotation)
            annotation = typing.get_args(annotation)[-1] if origin is dict else None
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [f.alias or name for name, f in annotation.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = options[0] if len(options) == 1 else annotation
            if len(options) != 1:
                return annotation
        else:
            return annotation


SHOWN_TEXT = 60
"""The characters of a text shown in a message: a whole file read as one text is not."""


def _text(value: str) -> str:
    """Text as the file wrote it, in quotes; past :data:`SHOWN_TEXT` characters, its start."""
    if len(value) <= SHOWN_TEXT:
        return repr(value)
    return f"{value[:SHOWN_TEXT]!r}... ({len(value):,} characters)"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, int | float | Decimal):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({_text(value)})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing" if value is None else type(value).__name__


def _quoted(value: Any) -> str:
    """A value as the file wrote it: text in quotes, anything else described."""
    return _text(value) if isinstance(value, str) else _describe(value)


def _show_path(path: Path_) -> str:
    out = ""
    for segment in path:
        out += f"[{segment}]" if isinstance(segment, int) else (f".{segment}" if out else segment)
    return out


def _worded(error: Any, model: type[BaseModel]) -> tuple[str, str, str]:
    """A pydantic error in this project's words: its code, message and hint."""
    loc: Path_ = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    kind = error["type"]
    code = _CODES.get(kind)
    message = error["msg"]
    hint = str(ctx.get("hint", ""))
    if code is None:
        code = "wrong-type" if kind.endswith("_type") or kind == "model_attributes_type" \
            else "invalid-value"
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif kind == "missing":
        message = f"missing required field '{loc[-1]}'"
    elif kind == "extra_forbidden":
        fields = _field_names(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
        message = f"unknown field '{loc[-1]}'"
        hint = f"did you mean '{close[0]}'?" if close else (
            "allowed fields: " + ", ".join(fields) if fields else "")
    elif kind in {"decimal_parsing", "float_parsing", "int_parsing"}:
        message = f"{_quoted(error.get('input'))} is not a number"
    elif code == "wrong-type" or kind.endswith("_parsing"):
        given = error.get("input")
        if "valid dictionary" in message:  # pydantic's words for a model given no mapping
            message = "expected a mapping of fields"
            fields = _field_names(model, loc)
            hint = hint or ("its fields: " + ", ".join(fields) if fields else "")
        elif kind in _EXPECTED:
            message = _EXPECTED[kind]
            if (kind in {"list_type", "tuple_type"} and isinstance(given, str | int | float)
                    and not _field_names(model, (*loc, 0))):  # a list of values, not of mappings
                hint = hint or f"write a list, even of one: [{given}]"
            elif kind == "string_type" and isinstance(given, int | float | bool):
                hint = hint or "put it in quotes to make it text"
        message = f"{message.rstrip('.')}; got {_describe(given)}"
    elif kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        message = f"must be {words} {ctx.get(key)}; got {_describe(error.get('input'))}"
    elif kind in {"enum", "literal_error"}:
        given = error.get("input")
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        close = difflib.get_close_matches(given, choices, n=1) if isinstance(given, str) else []
        message = f"{_quoted(given)} is not an allowed value"
        # a few fixed choices (an encoding, a number format) are all named: the nearest may
        # be another thing altogether (utf-16 is not utf-8)
        hint = f"did you mean '{close[0]}'?" if close and kind == "enum" else \
            f"expected {ctx.get('expected', '')}"
    elif kind == "too_short":
        wanted = ctx.get("min_length", 1)
        message = f"needs at least {wanted} {'entry' if wanted == 1 else 'entries'}; got none" \
            if not ctx.get("actual_length") else f"needs at least {wanted} entries"
    return code, message.rstrip("."), hint


def _reported(errors: list[Any]) -> list[Any]:
    """The errors worth reporting: not a list "too short" only because a member failed."""
    deeper = {tuple(e["loc"])[:i] for e in errors for i in range(len(e["loc"]))}
    return [e for e in errors if not (e["type"] == "too_short" and tuple(e["loc"]) in deeper)]


def diagnostics_from(exc: ValidationError, document: Document, model: type[BaseModel],
                     prefix: Path_ = ()) -> list[Diagnostic]:
    """Turn a pydantic error into one diagnostic per problem, each at its span."""
    found: dict[tuple[Path_, str], Diagnostic] = {}
    for error in _reported(exc.errors(include_url=False)):
        ctx = error.get("ctx") or {}
        path = (*prefix, *error["loc"], *ctx.get("path", ()))
        code, message, hint = _worded(error, model)
        span = document.span(path, prefer_key=error["type"] in {"extra_forbidden", "unknown_field"})
        found.setdefault((path, code), Diagnostic(code, message, span, _show_path(path), hint))
    return list(found.values())


def first_problem(exc: ValidationError, model: type[BaseModel] = Transfer) -> str:
    """The first problem of a JSON line, as ``field: message``: why the line is rejected.

    In the words :func:`diagnostics_from` uses for a case file, so that a field
    reads the same in YAML and in JSON Lines.
    """
    error = _reported(exc.errors(include_url=False))[0]
    if error["type"] == "json_invalid":
        reason = str((error.get("ctx") or {}).get("error", "")).replace(" at line 1 ", " at ")
        return f"not valid JSON: {reason}" if reason else "not valid JSON"
    path = (*error["loc"], *(error.get("ctx") or {}).get("path", ()))
    if not path and error["type"] in {"model_type", "dict_type"}:
        return f"not a JSON object; got {_describe(error.get('input'))}"
    _, message, hint = _worded(error, model)
    if error["type"] == "missing":
        message = "missing"
    return f"{_show_path(path) or 'line'}: {message}" + (f" ({hint})" if hint else "")


MAX_LINE_BYTES = 2_000_000
"""The longest line of a records file read (JSONL, and CSV, DuckDB's own default limit)."""

TOO_LONG = (f"the line is longer than the {MAX_LINE_BYTES:,} bytes a line of records may have:"
            " it is damaged, or the file is not JSONL")
"""Why a JSONL line past :data:`MAX_LINE_BYTES` is rejected."""


def numbered_lines(handle: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """Each line of a stream, numbered from 1; None for one past :data:`MAX_LINE_BYTES`.

    A line past the limit is read in pieces and let go, never held whole: a
    file with no line ends (a JSON array, say, named .jsonl) costs no more
    memory than a line of records. A line is given as soon as it has been
    read, so a stream (standard input) is followed as it comes.
    """
    number = 0
    while line := handle.readline(MAX_LINE_BYTES + 2):  # the limit, and a CR LF
        number += 1
        if len(line.rstrip(b"\r\n")) <= MAX_LINE_BYTES:
            yield number, line
            continue
        while not line.endswith(b"\n") and (line := handle.readline(1 << 20)):
            pass
        yield number, None


def transfer_line(number: int, line: bytes | None) -> Transfer | str | None:
    """One line of a JSONL stream of transfers (as :func:`numbered_lines` gives it): the
    transfer, or why not; None for a blank line.

    A byte-order mark before the first line (as Windows tools write UTF-8) is
    no part of it; a line that is not UTF-8 is rejected as JSON that is not
    valid; one past :data:`MAX_LINE_BYTES` (None) as :data:`TOO_LONG`.
    """
    if line is None:
        return TOO_LONG
    if number == 1:
        line = line.removeprefix(b"\xef\xbb\xbf")
    if not line.strip():
        return None
    try:
        return Transfer.model_validate_json(line)
    except ValidationError as exc:
        return first_problem(exc)


def transfer_lines(handle: IO[bytes]) -> Iterator[tuple[int, Transfer | str]]:
    """Each line of a JSONL stream of transfers that is not blank: the transfer, or why not.

    Lines are numbered from 1, blank ones counted; each is read as
    :func:`transfer_line` reads it.
    """
    for number, line in numbered_lines(handle):
        transfer = transfer_line(number, line)
        if transfer is not None:
            yield number, transfer


# -- cases --------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoadedCase:
    """A case and the file it was read from."""

    case: Case
    file: str


def _check_kind(document: Document, wanted: str, error: type[InputError]) -> None:
    """Refuse a rule file given as a case file (or the reverse) with one clear message."""
    data = document.data
    if not isinstance(data, dict):
        return
    looks = {"case": "transfers" in data and "pack" not in data,
             "rule": "rules" in data and "pack" in data and "transfers" not in data}
    other = "rule" if wanted == "case" else "case"
    if looks[other] and not looks[wanted]:
        hint = ("pass it with --rules" if other == "rule" else
                "pass it to compliance check, or to compliance test with --cases")
        raise error([Diagnostic(
            "wrong-file-kind", f"this is a {other} file, not a {wanted} file",
            document.span(()), hint=hint)])


def _load_model(path: Path | str, display: str | None, model: type[M],
                error: type[InputError], kind: str | None = None) -> M:
    """Read a YAML file and validate it as ``model``, every problem at its position."""
    document = read_document(path, display, error)
    if kind is not None:
        _check_kind(document, kind, error)
    try:
        return model.model_validate(document.data)
    except ValidationError as exc:
        raise error(diagnostics_from(exc, document, model)) from None


def load_case(path: Path | str, display: str | None = None) -> Case:
    """Load and validate one case file; raise :class:`CaseFileError` with every problem."""
    return _load_model(path, display, Case, CaseFileError, "case")


def load_cases(paths: Iterable[Path | str] | Path | str) -> list[LoadedCase]:
    """Load every case file under ``paths`` (files or folders, or one), reporting all problems
    at once."""
    loaded: list[LoadedCase] = []
    problems: list[Diagnostic] = []
    for file, display in collect_files(paths):
        try:
            loaded.append(LoadedCase(load_case(file, display), display))
        except InputError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise CaseFileError(problems)
    return loaded


def expectations_path(case_file: Path | str) -> Path:
    """Where the expected findings of a case file live: ``NAME.expected.yaml`` beside it."""
    path = Path(case_file)
    return path.with_name(f"{path.stem}.expected{path.suffix}")


def load_expectations(path: Path | str, display: str | None = None) -> ExpectedCase:
    """Load a case's expected findings; raise :class:`CaseFileError` with every problem."""
    return _load_model(path, display, ExpectedCase, CaseFileError)


def load_layout(path: Path | str, display: str | None = None) -> Layout:
    """Load a column mapping for trade-record files; raise :class:`InputError` if invalid."""
    return _load_model(path, display, Layout, InputError)


def mapping_problems(path: Path | str, error: MappingError, records: str,
                     display: str | None = None) -> InputError:
    """The mapping file's own diagnostics of what ``records`` show wrong in it, each at the
    line that says it, so that a typo is fixed where it was made."""
    document = read_document(path, display, InputError)
    return InputError([Diagnostic(code, message, document.span(place), field=".".join(place),
                                  hint=hint)
                       for place, code, message, hint in error.problems(records)])


def collect_files(paths: Iterable[Path | str] | Path | str) -> list[tuple[Path, str]]:
    """Expand folders into their YAML files (sorted, without ``*.expected.yaml``).

    One path is one path, not the characters of its name (``/`` the first).
    """
    found: list[tuple[Path, str]] = []
    for given in [paths] if isinstance(paths, str | Path) else paths:
        path = Path(given)
        if path.is_dir():
            members = sorted(
                (p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
                 and not p.stem.endswith(".expected")),
                key=lambda p: p.relative_to(path).as_posix(),
            )
            found.extend((p, str(p)) for p in members)
        elif path.is_file():
            found.append((path, str(given)))
        else:
            raise UsageError(f"no such file or folder: {given}")
    return found


# -- rules --------------------------------------------------------------------------------

def bundled_rules_path() -> Path:
    """Where the rule packs shipped with the package are."""
    installed = resources.files("compliance").joinpath("_rules")
    if installed.is_dir():
        return Path(str(installed))
    source = Path(__file__).resolve().parent.parent / "rules"
    if source.is_dir():
        return source
    raise UsageError("the bundled rule packs are missing from this installation",
                     "reinstall the package, or pass --rules PATH")


def load_rule_file(
    path: Path | str, display: str | None = None,
) -> tuple[RulePack, list[Rule], list[Exemption], list[Correlation]]:
    """Load one rule file: validate its shape, then parse every condition tree in it.

    The pack's ``reach`` is parsed for each rule over the rule's days in force
    and joined to the rule's own tree as its first condition.
    """
    document = read_document(path, display, RuleFileError)
    _check_kind(document, "rule", RuleFileError)
    data = document.data
    problems: list[Diagnostic] = []
    try:
        spec = RulePackSpec.model_validate(data)
    except ValidationError as exc:
        spec = None
        problems.extend(diagnostics_from(exc, document, RulePackSpec))
    if not isinstance(data, dict):
        raise RuleFileError(problems)
    lists = _lists(data.get("lists", {}))
    broken = {d.field.split("]")[0] for d in problems
              if d.field.startswith(("rules[", "exemptions[", "correlations["))}
    raw_reach = data.get("reach") if "reach" not in broken else None

    def tree(raw: Any, at: Path_, window: Window = ALWAYS,
             facts: frozenset[str] | None = None) -> Node | None:
        assert lists is not None
        node, found = parse_condition(raw, lists, lambda p: document.span((*at, *p)),
                                      window=window, facts=facts)
        for problem in found:
            full = (*at, *problem.path)
            problems.append(Diagnostic(problem.code, problem.message, document.span(full, True),
                                       _show_path(full), problem.hint))
        return node

    pack_reach = tree(raw_reach, ("reach",)) if raw_reach is not None and lists else None
    if raw_reach is not None and pack_reach is None:
        lists = None  # the reach is broken: its problems are reported once, rules not joined
    first_seen: dict[str, str] = {}

    def valid(key: str, model: type[S]) -> Iterator[tuple[S, Path_]]:
        """The entries of a list (rules, exemptions, correlations) whose shape is valid."""
        for index, raw in enumerate(_entries(data, key)):
            if f"{key}[{index}" in broken or lists is None:
                continue
            spec = model.model_validate(raw)
            where: Path_ = (key, index)
            _unique(spec.id, where, first_seen, document, problems, key[:-1])
            yield spec, where

    rules: list[Rule] = []
    for rule_spec, where in valid("rules", RuleSpec):
        window = (rule_spec.in_force.start, rule_spec.in_force.end)
        node = tree(rule_spec.when, (*where, "when"), window)
        if node is not None and raw_reach is not None:
            reach = tree(raw_reach, ("reach",), window)
            node = None if reach is None else AllOf((reach, node), node.span)
        examples = _examples(document, rule_spec, where, problems)
        if node is not None:
            rules.append(Rule(
                id=rule_spec.id, title=rule_spec.title, citation=rule_spec.citation,
                binds=rule_spec.binds, in_force=rule_spec.in_force, verdict=rule_spec.verdict,
                because=rule_spec.because, when=node, pack=str(data.get("pack")),
                source=document.span(where), notes=rule_spec.notes, examples=examples,
            ))
    exemptions: list[Exemption] = []
    rule_ids = {r["id"] for r in _entries(data, "rules")
                if isinstance(r, dict) and isinstance(r.get("id"), str)}
    for exemption_spec, where in valid("exemptions", ExemptionSpec):
        for n, rule_id in enumerate(exemption_spec.exempts):
            if rule_id not in rule_ids:
                at = (*where, "exempts", n)
                problems.append(Diagnostic(
                    "unknown-rule", f"no rule '{rule_id}' in this file to exempt",
                    document.span(at), _show_path(at),
                    _suggest_id(rule_id, rule_ids) or "an exemption names rules of its own pack"))
        window = (exemption_spec.in_force.start, exemption_spec.in_force.end)
        node = tree(exemption_spec.when, (*where, "when"), window, frozenset(FACTS))
        if node is not None:
            exemptions.append(Exemption(
                id=exemption_spec.id, title=exemption_spec.title,
                citation=exemption_spec.citation, exempts=tuple(exemption_spec.exempts),
                in_force=exemption_spec.in_force, because=exemption_spec.because, when=node,
                pack=str(data.get("pack")), source=document.span(where),
                notes=exemption_spec.notes))
    correlations: list[Correlation] = []
    for correlation_spec, where in valid("correlations", CorrelationSpec):
        window = (correlation_spec.in_force.start, correlation_spec.in_force.end)

        def joined(raw_tree: Any, at: Path_, first: bool, window: Window = window) -> Node | None:
            # the pack's reach binds the first record of a chain (its nexus), or each record
            node = tree(raw_tree, at, window)
            if node is None or raw_reach is None or not first:
                return node
            reach = tree(raw_reach, ("reach",), window)
            return None if reach is None else AllOf((reach, node), node.span)

        steps = [(step.name, joined(step.when, (*where, "sequence", n, "when"), n == 0))
                 for n, step in enumerate(correlation_spec.sequence or ())]
        each = (joined(correlation_spec.each, (*where, "each"), True)
                if correlation_spec.each is not None else None)
        total = None
        if correlation_spec.total is not None:
            try:
                total = (correlation_spec.total.fact,
                         Money.model_validate(correlation_spec.total.gt))
            except ValidationError as exc:
                problems.extend(diagnostics_from(exc, document, Money,
                                                 (*where, "total", "gt")))
                continue
        if any(node is None for _, node in steps) or (correlation_spec.each is not None
                                                      and each is None):
            continue
        correlations.append(Correlation(
            id=correlation_spec.id, title=correlation_spec.title,
            citation=correlation_spec.citation, binds=correlation_spec.binds,
            in_force=correlation_spec.in_force, verdict=correlation_spec.verdict,
            because=correlation_spec.because,
            link=tuple([correlation_spec.link] if isinstance(correlation_spec.link, str)
                       else correlation_spec.link),
            within_days=correlation_spec.within_days,
            steps=tuple((name, node) for name, node in steps if node is not None),
            each=each, total=total, pack=str(data.get("pack")), source=document.span(where),
            notes=correlation_spec.notes))
    if problems or spec is None:
        raise RuleFileError(problems)
    pack = RulePack(spec.pack, spec.title, spec.authority, document.file, spec.binds, pack_reach)
    return pack, rules, exemptions, correlations


def _entries(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _unique(identifier: str, where: Path_, first_seen: dict[str, str], document: Document,
            problems: list[Diagnostic], what: str) -> None:
    """Report an id used before in this file (rules and exemptions share one namespace)."""
    if identifier in first_seen:
        problems.append(Diagnostic(
            "duplicate-id", f"{what} id '{identifier}' is used twice in this file"
            f" (first at {first_seen[identifier]})",
            document.span((*where, "id")), _show_path((*where, "id")),
            "give every rule and exemption its own id"))
    first_seen.setdefault(identifier, _show_path(where))


def _suggest_id(word: str, choices: set[Any]) -> str:
    close = difflib.get_close_matches(word, sorted(c for c in choices if isinstance(c, str)), n=1)
    return f"did you mean '{close[0]}'?" if close else ""


def _examples(document: Document, spec: RuleSpec, where: Path_,
              problems: list[Diagnostic]) -> tuple[Example, ...]:
    """Validate each example's transfer (defaults filled in) at its position."""
    found = []
    for index, example in enumerate(spec.examples):
        at: Path_ = (*where, "examples", index)
        data = example_transfer(example.transfer, spec.in_force.start, index)
        try:
            transfer = Transfer.model_validate(data)
        except ValidationError as exc:
            problems.extend(diagnostics_from(exc, document, Transfer, (*at, "transfer")))
            continue
        found.append(Example(example.verdict, transfer, document.span(at), example.note))
    return tuple(found)


def _lists(raw: Any) -> dict[str, dict[str, tuple[Any, ...]]] | None:
    try:
        spec = ListsSpec.model_validate(raw if raw is not None else {})
    except ValidationError:
        return None
    return {kind: {name: tuple(dict.fromkeys(values)) for name, values in
                   getattr(spec, kind).items()} for kind in ("countries", "hs", "keywords")}


def load_rules(paths: Iterable[Path | str] | Path | str | None = None) -> RuleSet:
    """Load rule packs: the bundled ones by default, or the files and folders given.

    Every problem in every file is reported at once in a :class:`RuleFileError`;
    a rule id used in two files is one of them.
    """
    if paths is None:
        root = bundled_rules_path()
        files = [(p, f"rules/{p.relative_to(root).as_posix()}") for p, _ in collect_files([root])]
    else:
        files = collect_files(paths)
    if not files:
        raise UsageError("no rule files (*.yaml) found", "pass a rule file or a folder of them")
    packs: list[RulePack] = []
    rules: list[Rule] = []
    exemptions: list[Exemption] = []
    correlations: list[Correlation] = []
    problems: list[Diagnostic] = []
    for file, display in files:
        try:
            pack, found, exempting, correlating = load_rule_file(file, display)
        except InputError as exc:
            problems.extend(exc.diagnostics)
            continue
        packs.append(pack)
        rules.extend(found)
        exemptions.extend(exempting)
        correlations.extend(correlating)
    first: dict[str, Rule] = {}
    for rule in rules:
        if rule.id in first and first[rule.id].source.file != rule.source.file:
            problems.append(Diagnostic(
                "duplicate-id", f"rule id '{rule.id}' is also defined at {first[rule.id].source}",
                rule.source, "id", "rule ids are unique across all loaded packs"))
        first.setdefault(rule.id, rule)
    if problems:
        raise RuleFileError(problems)
    return RuleSet(rules, packs, exemptions, correlations)
