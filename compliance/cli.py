"""The ``compliance`` command: a thin layer over the public API.

Exit status: 0 when no finding fails the run, 1 when one does (by default a
violation; see ``--fail-on``), 2 for bad input or usage, 3 for an internal error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import compliance
from compliance.conditions import Leaf, Node, Not, outline
from compliance.errors import ComplianceError, UsageError

VERDICTS = ("violation", "review", "undetermined")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of processes (1 or more)")
    return jobs


def _verdicts(text: str) -> frozenset[str]:
    chosen = frozenset(v.strip() for v in text.split(",") if v.strip())
    unknown = sorted(chosen - set(VERDICTS))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown verdict {', '.join(unknown) or '(none)'}; choose from {', '.join(VERDICTS)}")
    return chosen


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="compliance",
        description="Check records of goods transfers against sanctions rules, with explained"
                    " findings.",
        epilog="Exit status: 0 nothing failed, 1 findings failed the run, 2 bad input or"
               " usage, 3 internal error.",
    )
    parser.add_argument("--version", action="version",
                        version=f"compliance {compliance.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check", help="check case files against the rules",
        description="Check case files (or folders of them) against the bundled rule packs or"
                    " those given with --rules. Prints, for every transfer, its findings: the"
                    " rule, the verdict, the citation and the explanation.")
    check.add_argument("paths", nargs="+", metavar="PATH", help="case files or folders")
    _rules_option(check)
    check.add_argument("--format", choices=("text", "json"), default="text",
                       help="text for a reader (default), json for programs")
    check.add_argument("--as-of", type=_date, metavar="DATE",
                       help="judge every transfer by the rules in force on DATE (what-if)")
    check.add_argument("--fail-on", type=_verdicts, default=frozenset({"violation"}),
                       metavar="VERDICTS",
                       help="comma-separated verdicts that make the exit status 1"
                            " (default: violation; also review, undetermined)")
    check.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE")
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                       help="colour in text reports (auto: only on a terminal)")

    screen = commands.add_parser(
        "screen", help="screen bulk trade records (CSV, JSONL, Parquet)",
        description="Screen trade records in one vectorised pass: a CSV or Parquet row is one"
                    " item (columns named as the case format flattened with dots, or mapped"
                    " with --map), a JSONL line is one transfer in the case-file shape."
                    " Every row read is screened or rejected with its reason. Exit status:"
                    " 2 if a row was rejected (its findings are unknown) or on bad usage, else"
                    " 1 if a violation was found, else 0.")
    screen.add_argument("paths", nargs="+", metavar="PATH",
                        help="records: .csv, .tsv, .jsonl or .parquet (the first three also"
                        " gzipped: .csv.gz), or a folder of them; several are screened each"
                        " on its own, and their findings led by the file")
    screen.add_argument("--map", metavar="FILE", help="column mapping (YAML)")
    screen.add_argument("--out", "-o", metavar="FILE",
                        help="findings: .parquet, .csv, .tsv or .jsonl, the last three also"
                             " gzipped: .csv.gz (default: none, summary only)")
    screen.add_argument("--rejects", metavar="FILE",
                        help="rejected rows and reasons (default: beside --out,"
                             " NAME.rejects.csv; without --out, the first few on stderr)")
    _rules_option(screen)
    screen.add_argument("--as-of", type=_date, metavar="DATE",
                        help="judge every record by the rules in force on DATE")
    screen.add_argument("--explain", action="store_true",
                        help="give each finding in --out its explanation (each condition and"
                             " the fact it read), the facts that would settle it (missing) and"
                             " what would clear it (clears_if); the records with findings are"
                             " judged again, one by one")
    screen.add_argument("--jobs", "-j", type=_jobs, metavar="N",
                        help="processes that read JSONL lines (default, and at most: one a"
                             " core); CSV and Parquet are read by DuckDB on every core"
                             " whatever N is")

    watch = commands.add_parser(
        "watch", help="follow a stream of transfers (JSONL) and report chains as they complete",
        description="Read transfers as JSONL (one per line, in the case-file shape) from a file"
                    " (gzipped too: .jsonl.gz) or standard input, keep what the correlation"
                    " rules need (bounded by their windows), and print each chain as it"
                    " completes. A malformed line is reported with its number, skipped and"
                    " counted. Exit status: 2 if a line was rejected, else 1 if a chain is a"
                    " violation, else 0.")
    watch.add_argument("source", nargs="?", default="-", metavar="PATH",
                       help="a JSONL file (default: standard input)")
    _rules_option(watch)
    watch.add_argument("--engine", choices=("plain", "rete"), default="plain",
                       help="plain Python (default), or durable_rules' Rete engine"
                            ' (pip install "compliance[rete]")')
    watch.add_argument("--format", choices=("text", "jsonl"), default="text",
                       help="text for a reader (default), jsonl for programs")

    test = commands.add_parser(
        "test", help="run rule examples and expected case findings, with coverage",
        description="Check that every example in the rule files gets its stated verdict and"
                    " that every case with a NAME.expected.yaml beside it gives exactly those"
                    " findings. With --coverage, report per rule and per condition which"
                    " outcomes were exercised and which rules nothing reaches.")
    test.add_argument("paths", nargs="*", metavar="PATH",
                      help="rule files or folders (default: the bundled packs)")
    test.add_argument("--cases", action="append", metavar="PATH",
                      help="case files or folders (default: ./cases if it exists)")
    test.add_argument("--coverage", action="store_true", help="report coverage")
    test.add_argument("--format", choices=("text", "json"), default="text")

    rules = commands.add_parser("rules", help="list or show the rules",
                                description="List, lint or show the rules; without an"
                                            " action, list the bundled rules.")
    # given before the action (or with none), for any action; the action's own come first
    rules.add_argument("--rules", action="append", metavar="PATH", dest="group_rules",
                       help="rule file or folder, instead of the bundled packs (repeatable)")
    rules.add_argument("--format", choices=("text", "json"), dest="group_format",
                       help="of the list or the lint (default: text)")
    rules.set_defaults(rules=None, format=None)
    rule_commands = rules.add_subparsers(dest="rules_command", metavar="ACTION")
    listing = rule_commands.add_parser("list", help="the catalogue of rules",
                                       description="List every rule: id, verdict, citation,"
                                                   " dates in force and goods.")
    _rules_option(listing)
    listing.add_argument("--format", choices=("text", "json"))
    lint = rule_commands.add_parser(
        "lint", help="static checks of rule packs",
        description="Check rule packs: the schema, HS codes, countries and currencies,"
                    " citations, and rules that can never be met, never cleared, or are"
                    " made redundant by another. Exit 1 on any error or warning.")
    lint.add_argument("paths", nargs="*", metavar="PATH",
                      help="rule files or folders (default: the bundled packs)")
    lint.add_argument("--format", choices=("text", "json"))
    show = rule_commands.add_parser("show", help="one rule in full",
                                    description="Show one rule: citation, dates, and its"
                                                " condition tree.")
    show.add_argument("rule_id", metavar="ID")
    _rules_option(show)

    schema = commands.add_parser("schema", help="print a JSON Schema",
                                 description="Print the JSON Schema of case files, rule files"
                                             " or the JSON report.")
    schema.add_argument("name", choices=("cases", "rules", "report"))
    return parser


def _rules_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rules", action="append", metavar="PATH",
                        help="rule file or folder, instead of the bundled packs (repeatable)")


def _open_output(path: str | None) -> IO[str]:
    if path is None:
        return sys.stdout
    try:
        return open(path, "w", encoding="utf-8", newline="\n")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def _check(args: argparse.Namespace) -> int:
    cases = compliance.load_cases(args.paths)
    rules = compliance.load_rules(args.rules)
    if not cases:
        raise UsageError("no case files (*.yaml) found in " + ", ".join(args.paths))
    if args.output is not None:  # never written over a file the check read
        from compliance.loader import collect_files

        target = Path(args.output).resolve()
        for path, display in collect_files([*args.paths, *(args.rules or ())]):
            if path.resolve() == target:
                raise UsageError(f"cannot write {args.output}: it is {display}, read by the check",
                                 "write the report to a file of its own")
    report = compliance.check(cases, rules, as_of=args.as_of)
    out = _open_output(args.output)
    try:
        if args.format == "json":
            out.write(report.to_json())
        else:
            color = {"auto": None, "always": True, "never": False}[args.color]
            report.write_text(out, color=color if args.output is None else False)
    finally:
        if out is not sys.stdout:
            out.close()
    return report.exit_status(args.fail_on)


def _screen(args: argparse.Namespace) -> int:
    from compliance.screening import cores

    if args.explain and not args.out:
        raise UsageError("--explain writes its columns into the findings file",
                         "name one with --out FILE")
    rules = compliance.load_rules(args.rules)
    source = args.paths[0] if len(args.paths) == 1 else args.paths
    result = compliance.screen(source, rules, mapping=args.map, out=args.out,
                               rejects=args.rejects, as_of=args.as_of, keep=False,
                               explain=args.explain, jobs=args.jobs or cores())
    print(result.summary())
    if result.out:
        print(f"findings written to {result.out}")
    if result.rejects:
        print(f"rejected rows written to {result.rejects}")
    if result.rejected:  # rows not screened: their findings are unknown, so never a clean run
        if not result.rejects:
            for name, part in result.files or [(args.paths[0], result)]:
                if not part.rejected:
                    continue
                shown = len(part.first_rejections)
                more = (f" (the first {shown} of {part.rejected:,};"
                        " --rejects FILE writes them all)" if part.rejected > shown else "")
                lines = [f"  row {row}: {reason}" for row, reason in part.first_rejections]
                print(f"{name}: rows rejected{more}:", *lines, sep="\n", file=sys.stderr)
        return 2
    return 1 if any(v == "violation" for _, v in result.counts) else 0


def _watch(args: argparse.Namespace) -> int:
    from compliance.correlate import Correlator
    from compliance.loader import transfer_lines
    from compliance.reports import chain_doc, render_chain
    from compliance.screening import open_records, records_format, unzipping

    rules = compliance.load_rules(args.rules)
    if args.engine == "rete":
        from compliance.rete import ReteCorrelator

        correlator: Any = ReteCorrelator(rules)
    else:
        correlator = Correlator(rules)
    if not rules.correlations:
        print("note: the rules hold no correlation rules; nothing can complete",
              file=sys.stderr)
    name = "<stdin>" if args.source == "-" else args.source
    if args.source != "-" and (kind := records_format(Path(args.source))) not in (None, "jsonl"):
        raise UsageError(f"{args.source}: watch reads JSONL, one transfer a line, not {kind}",
                         "write the transfers as JSON lines in the case-file shape"
                         " (docs/case-format.md)")
    try:
        # bytes: a line that is not UTF-8, or too long, is rejected as a line of its own
        stream = sys.stdin.buffer if args.source == "-" else open_records(Path(args.source))
    except OSError as exc:
        raise UsageError(f"cannot read {args.source}: {exc.strerror or exc}") from None
    read = transfers = rejected = violations = chains = 0
    console = None
    if args.format == "text":
        from rich.console import Console
        from rich.text import Text

        console = Console(file=sys.stdout, highlight=False, soft_wrap=True,
                          force_terminal=sys.stdout.isatty(), no_color=not sys.stdout.isatty())

        def say(*parts: Any, indent: int = 0) -> None:
            text = Text(" " * indent)
            for part in parts:
                text.append(*(part if isinstance(part, tuple) else (part,)))
            console.print(text)

    try:  # the counts of what was read, even when the stream stops short
        with stream, unzipping(name):
            for number, transfer in transfer_lines(stream):
                read += 1
                if isinstance(transfer, str):
                    rejected += 1
                    print(f"{name}:{number}: rejected: {transfer}", file=sys.stderr)
                    continue
                transfers += 1
                for finding in correlator.feed(transfer, name):
                    chains += 1
                    violations += finding.verdict.value == "violation"
                    if console is None:
                        print(json.dumps(chain_doc(finding).model_dump(mode="json"),
                                         ensure_ascii=False), flush=True)
                    else:
                        render_chain(say, finding, indent=0)
                        sys.stdout.flush()
    finally:
        print(f"lines read {read:,}; transfers {transfers:,}; rejected {rejected:,};"
              f" chains {chains:,}", file=sys.stderr)
    return 2 if rejected else 1 if violations else 0


def _test(args: argparse.Namespace) -> int:
    from pathlib import Path

    from compliance.engine import Engine
    from compliance.loader import expectations_path, load_expectations
    from compliance.verify import coverage_data, render_text, verify

    rules = compliance.load_rules(args.paths or None)
    case_paths = args.cases or (["cases"] if Path("cases").is_dir() else [])
    loaded = []
    for entry in compliance.load_cases(case_paths) if case_paths else []:
        expected_file = expectations_path(entry.file)
        expected = load_expectations(expected_file) if expected_file.is_file() else None
        loaded.append((entry.case, entry.file, expected))
    run = verify(Engine(rules), loaded)
    if args.format == "json":
        sys.stdout.write(json.dumps(coverage_data(run), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_text(run, args.coverage))
    return 0 if run.passed else 1


def _tests(node: Node, negated: bool = False) -> Iterator[tuple[Leaf, bool]]:
    """Each test of a tree, and whether it sits under an odd number of `not`."""
    if isinstance(node, Leaf):
        yield node, negated
    elif isinstance(node, Not):
        yield from _tests(node.child, not negated)
    else:
        for child in node.children:
            yield from _tests(child, negated)


def _goods(rule: compliance.Rule) -> str:
    tests = list(_tests(rule.when))
    codes = [code + (f" except {', '.join(leaf.options['except'])}"
                     if leaf.options.get("except") else "")
             for leaf, negated in tests if leaf.op == "prefix" and not negated
             for code in leaf.operand]
    words = [w for leaf, negated in tests if leaf.op == "mentions" and not negated
             and leaf.fact == "description" for w in leaf.operand]
    shown = ", ".join(codes[:6]) + (" …" if len(codes) > 6 else "")
    if not codes:
        excluded = [c for leaf, negated in tests if leaf.op == "prefix" and negated
                    for c in leaf.operand]
        if excluded:
            shown = "all but " + ", ".join(excluded[:6]) + (" …" if len(excluded) > 6 else "")
    if words:
        shown = (shown + "; " if shown else "") + "words: " + ", ".join(words[:3])
    return shown or "-"


def _rules(args: argparse.Namespace) -> int:
    """``compliance rules``: list without an action; options given before one serve it too."""
    command = args.rules_command or "list"
    args.rules = args.rules or args.group_rules
    args.format = args.format or args.group_format
    if command == "show":
        if args.format is not None:
            raise UsageError("compliance rules show has no --format",
                             "it is for compliance rules list and lint")
        return _rules_show(args)
    args.format = args.format or "text"
    if command == "lint":
        args.paths = args.paths or args.rules or []
        return _rules_lint(args)
    return _rules_list(args)


def _rules_list(args: argparse.Namespace) -> int:
    rules = compliance.load_rules(args.rules)
    rows = [{"id": r.id, "verdict": r.verdict.value, "instrument": r.citation.instrument,
             "provision": r.citation.provision, "in_force": str(r.in_force),
             "goods": _goods(r), "pack": r.pack, "confidence": r.citation.confidence}
            for r in rules]
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return 0
    columns = ("id", "verdict", "instrument", "provision", "in_force", "goods")
    widths = {c: max(len(c), *(len(row[c]) for row in rows)) for c in columns}
    header = "  ".join(c.upper().ljust(widths[c]) for c in columns)
    print(header.rstrip())
    for row in rows:
        print("  ".join(row[c].ljust(widths[c]) for c in columns).rstrip())
    print(f"{len(rows)} rules from {len(rules.packs)} pack(s)")
    return 0


def _rules_lint(args: argparse.Namespace) -> int:
    from compliance.lint import failed, lint

    found = lint(args.paths or None)
    if args.format == "json":
        sys.stdout.write(json.dumps([d.to_dict() for d in found], indent=2,
                                    ensure_ascii=False) + "\n")
    else:
        for diagnostic in found:
            print(diagnostic.render())
        counts = {level: sum(d.severity == level for d in found)
                  for level in ("error", "warning", "note")}
        print(", ".join(f"{n} {level}{'s' if n != 1 else ''}" for level, n in counts.items()))
    return 1 if failed(found) else 0


def _rules_show(args: argparse.Namespace) -> int:
    rules = compliance.load_rules(args.rules)
    rule = rules.get(args.rule_id)
    if rule is None:
        close = difflib.get_close_matches(args.rule_id, [r.id for r in rules], n=1)
        raise UsageError(f"no rule with id '{args.rule_id}'",
                         f"did you mean {close[0]}?" if close
                         else "see `compliance rules list`")
    c = rule.citation
    fields = [("id", rule.id), ("title", rule.title), ("pack", f"{rule.pack} ({rule.source})"),
              ("citation", c.text), ("url", c.url or "-"), ("confidence", c.confidence),
              ("binds", rule.binds), ("in force", str(rule.in_force)),
              ("verdict", rule.verdict.value), ("because", rule.because)]
    if c.note:
        fields.append(("citation note", c.note))
    if rule.notes:
        fields.append(("notes", rule.notes))
    for name, value in fields:
        print(f"{name + ':':<15}{value}")
    print("when:")
    for line in outline(rule.when):
        print(f"  {line}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # usage errors (2), --help and --version (0)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        if args.command == "check":
            return _check(args)
        if args.command == "screen":
            return _screen(args)
        if args.command == "test":
            return _test(args)
        if args.command == "watch":
            return _watch(args)
        if args.command == "rules":
            return _rules(args)
        print(json.dumps(compliance.schema(args.name), indent=2, ensure_ascii=False))
        return 0
    except ComplianceError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_status
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("COMPLIANCE_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {exc}\n"
              "  this is a bug; set COMPLIANCE_DEBUG=1 to see the traceback", file=sys.stderr)
        return 3


def run() -> None:
    """Entry point of the console script."""
    sys.exit(main())
