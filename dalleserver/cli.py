"""Command line: ``dalleserver [serve|generate|prompts|series|check] ...`` (CONTRACT §1)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from dalleserver import __version__
from dalleserver.address import AddressError
from dalleserver.cli_batch import BatchUsageError, add_batch_command, cmd_batch
from dalleserver.config import SETTINGS, Config, ConfigError, Setting, load_config
from dalleserver.dress import Catalog, DatabaseError, SeriesError
from dalleserver.dress.databases import ALL_DATABASES
from dalleserver.ens import (
    EnsError,
    EnsResolver,
    address_or_name,
    build_resolver,
    looks_like_name,
)
from dalleserver.storage import DataDir

PROG = "dalleserver"
COMMANDS = ("serve", "generate", "prompts", "series", "check", "estimate", "batch",
            "print-unit", "print-env")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# Settings with a flag are flags of ``serve``; these also apply to the other commands.
COMMON_SETTINGS = ("data_dir",)
GENERATE_SETTINGS = ("image_backend",)
NAME_SETTINGS = ("rpc_url",)  # the commands that take an address also take an ENS name
FLAGGED: tuple[Setting, ...] = tuple(s for s in SETTINGS if s.flag)


def _add_setting(parser: argparse.ArgumentParser, setting: Setting) -> None:
    default = "" if setting.default in (None, "") else f", default {setting.default}"
    parser.add_argument(setting.flag, dest=setting.attr, metavar=setting.attr.upper(),
                        help=f"{setting.help} ({setting.env}{default})")


def _add_settings(parser: argparse.ArgumentParser, attrs: tuple[str, ...] | None) -> None:
    """The flags of the settings named in ``attrs`` (all flagged settings when None)."""
    for setting in FLAGGED:
        if attrs is None or setting.attr in attrs:
            _add_setting(parser, setting)


def _add_common(parser: argparse.ArgumentParser) -> None:
    _add_settings(parser, COMMON_SETTINGS)
    parser.add_argument("--env-file", metavar="PATH", help="read settings from this .env file")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Deterministic, annotated AI art for Ethereum addresses.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    serve = sub.add_parser("serve", help="run the HTTP server (the default command)")
    _add_settings(serve, None)
    serve.add_argument("--env-file", metavar="PATH", help="read settings from this .env file")

    generate = sub.add_parser("generate", help="run one generation in-process")
    _add_common(generate)
    generate.add_argument("series")
    generate.add_argument("address", help="an address, or an ENS name with --rpc-url")
    generate.add_argument("--force", action="store_true", help="regenerate an existing image")
    generate.add_argument("--json", action="store_true", help="print the progress snapshot")
    _add_settings(generate, GENERATE_SETTINGS + NAME_SETTINGS)

    prompts = sub.add_parser("prompts", help="print the prompts of an address; writes nothing")
    _add_common(prompts)
    prompts.add_argument("series")
    prompts.add_argument("address", help="an address, or an ENS name with --rpc-url")
    prompts.add_argument("--json", action="store_true", help="print JSON")
    _add_settings(prompts, NAME_SETTINGS)

    series = sub.add_parser("series", help="list the series with their filters")
    _add_common(series)
    series.add_argument("--json", action="store_true", help="print JSON")

    check = sub.add_parser("check", help="validate configuration, data dir, databases, series")
    _add_common(check)
    estimate = sub.add_parser("estimate", help="how many addresses of a file have pictures, "
                              "and what the others would cost")
    _add_common(estimate)
    estimate.add_argument("series")
    estimate.add_argument("file", help="one address a line; # comments, blank lines allowed")
    estimate.add_argument("--json", action="store_true", help="print JSON")
    _add_settings(estimate, GENERATE_SETTINGS)
    add_batch_command(sub, _add_common)
    _add_settings(sub.choices["batch"], GENERATE_SETTINGS)
    sub.add_parser("print-unit", help="print the systemd unit this binary ships with")
    sub.add_parser("print-env", help="print the commented settings file for the service")
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    flags = {s.attr: getattr(args, s.attr, None) for s in FLAGGED}
    return load_config(flags, env_file=getattr(args, "env_file", None))


def _warn_series_errors(catalog: Catalog) -> None:
    for path, reason in catalog.series.errors:
        print(f"{PROG}: warning: skipped series file {path}: {reason}", file=sys.stderr)


def _open_catalog(config: Config) -> Catalog:
    catalog = Catalog(config.data_dir)
    _warn_series_errors(catalog)
    return catalog


def _key_or_usage(catalog: Catalog, series: str, address: str,
                  resolver: EnsResolver | None) -> tuple[tuple[str, str], str]:
    """((series name, lower-cased address), ENS name or ""), or a one-line usage error.
    A name is looked up only once the series is known to be good."""
    if not looks_like_name(address):  # a bad address is reported before a bad series
        _address_or_usage(address, None)
    try:
        suffix = catalog.series.usable(series).suffix
    except SeriesError as exc:
        raise UsageError(f"{exc} (run '{PROG} series' to list them)") from None
    normalized, name = _address_or_usage(address, resolver)
    return (suffix, normalized), name


def _address_or_usage(text: str, resolver: EnsResolver | None) -> tuple[str, str]:
    """(lower-cased address, ENS name or "") of an address or name, or a usage error."""
    # a failure is reported in the one line below: the node client's log line would repeat it
    logging.getLogger("dalleserver.ens").setLevel(logging.ERROR)
    try:
        return address_or_name(text, resolver)
    except AddressError as exc:
        raise UsageError(f"invalid address: {exc}") from None
    except EnsError as exc:
        raise UsageError(str(exc)) from None


def cmd_prompts(args: argparse.Namespace, config: Config) -> int:
    catalog = _open_catalog(config)
    (series, address), name = _key_or_usage(catalog, args.series, args.address,
                                            build_resolver(config))
    dress = catalog.view(series).dress(address)
    if args.json:
        out = {
            "series": dress.series,
            "address": dress.original,
            "name": name,
            "title": dress.title_prompt,
            "terse": dress.terse_prompt,
            "data": dress.data_prompt,
            "prompt": dress.prompt,
            "author": dress.author_prompt,
            "technical": dress.technical_prompt,
            "attributes": [a.to_json_dict() for a in dress.attributes],
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return EXIT_OK
    width = max(len(a.name) for a in dress.attributes)
    print(f"Series:  {dress.series}")
    print(f"Address: {dress.original}" + (f" ({name})" if name else ""))
    print(f"Title:   {dress.title_prompt}")
    print(f"Terse:   {dress.terse_prompt}")
    print("\nPrompt:\n" + dress.prompt)
    print("\nData:\n" + dress.data_prompt)
    print("\nAttributes:")
    for a in dress.attributes:
        where = f"{a.database} row {a.selector} of {a.count}" if a.count else a.database
        print(f"  {a.name:<{width}}  {a.value.split(',', 1)[0]:<32}  {where}")
    return EXIT_OK


def cmd_series(args: argparse.Namespace, config: Config) -> int:
    catalog = _open_catalog(config)
    everything = catalog.series.all(include_hidden=True)
    if args.json:
        items = [s.to_json_dict() for s in everything]
        print(json.dumps({"series": items, "count": len(items)}, indent=2, ensure_ascii=False))
        return EXIT_OK
    width = max(len(s.suffix) for s in everything)
    for s in everything:
        filters = ", ".join(f"{db}: {' | '.join(v)}" for db, v in s.active_filters.items())
        flags = s.source + (", hidden" if s.deleted else "")
        print(f"{s.suffix:<{width}}  [{flags}]  {filters or 'no filters'}")
        if s.purpose:
            print(f"{'':<{width}}  {s.purpose}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace, config: Config) -> int:
    problems = 0

    def report(ok: bool, what: str, detail: str) -> None:
        nonlocal problems
        problems += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'}  {what}: {detail}")

    report(True, "configuration", f"image backend {config.image_backend}, "
           f"listen {config.host}:{config.port}, workers {config.workers}")
    failure = DataDir(config.data_dir).check_writable()
    report(failure is None, "data dir", f"{config.data_dir}" + (f" ({failure})" if failure else
                                                                " is writable"))
    try:
        catalog = Catalog(config.data_dir)
    except (DatabaseError, SeriesError) as exc:
        report(False, "databases", str(exc))
        return EXIT_FAILED
    for name in ALL_DATABASES:
        db = catalog.databases[name]
        report(True, f"database {name}", f"{len(db.records)} rows ({db.source})")
    unresolved = catalog.unresolved_nouns()
    report(not unresolved, "noun taxonomy",
           "every noun resolves" if not unresolved else
           f"{len(unresolved)} nouns do not resolve, e.g. {', '.join(unresolved[:3])}")
    for path, reason in catalog.series.errors:
        report(False, "series file", f"{path}: {reason}")
    report(True, "series", f"{len(catalog.series.names(include_hidden=True))} usable")
    print("everything is usable" if not problems else f"{problems} problem(s) found")
    return EXIT_OK if not problems else EXIT_FAILED


def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from dalleserver.service import StartupError, run_server

    try:
        return run_server(config)
    except StartupError as exc:
        raise UsageError(str(exc)) from None


def _progress_line(snapshot: dict[str, Any], width: int = 30) -> str:
    percent = float(snapshot.get("percent") or 0)
    filled = int(width * min(percent, 100) / 100)
    bar = "#" * filled + "." * (width - filled)
    eta = snapshot.get("etaSeconds") or 0
    phase = snapshot.get("currentPhase", "")
    waiting = snapshot.get("queuePosition") or 0
    where = f"queued #{waiting}" if waiting else phase
    return f"[{bar}] {percent:5.1f}%  {where:<15} ETA {eta:4.1f}s"


def cmd_generate(args: argparse.Namespace, config: Config) -> int:
    from dalleserver.jobs.interface import CoordinationUnavailable
    from dalleserver.jobs.manager import QueueFull
    from dalleserver.runtime import build_runtime
    from dalleserver.storage import StorageError

    try:
        runtime = build_runtime(config, workers=1)
    except StorageError as exc:
        raise UsageError(f"data dir {config.data_dir} is not usable: {exc}") from None
    _warn_series_errors(runtime.catalog)
    key, name = _key_or_usage(runtime.catalog, args.series, args.address, runtime.resolver)
    jobs = runtime.jobs
    jobs.start()
    tty = sys.stderr.isatty()
    try:
        try:
            jobs.submit_key(key, force=args.force, name=name)
        except QueueFull:  # cannot happen with a private queue, but never a traceback
            raise UsageError("the generation queue is full") from None
        except CoordinationUnavailable as exc:  # cluster mode with Redis away
            jobs.stop(grace=0)
            raise UsageError(str(exc)) from None
        last_phase = None
        while True:
            snapshot = runtime.board.snapshot(key) or {}
            phase = snapshot.get("currentPhase")
            if tty:
                print("\r" + _progress_line(snapshot), end="", file=sys.stderr, flush=True)
            elif phase != last_phase:
                print(f"{phase} {snapshot.get('percent', 0):.0f}%", file=sys.stderr, flush=True)
            last_phase = phase
            if snapshot.get("done"):
                break
            time.sleep(0.1)
        if tty:
            print(file=sys.stderr)
    except KeyboardInterrupt:
        jobs.stop(grace=0)
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    jobs.stop(grace=5)
    if args.json:
        print(json.dumps(snapshot, indent=2, ensure_ascii=False))
    if snapshot.get("error"):
        print(f"{PROG}: generation failed: {snapshot['error']}", file=sys.stderr)
        return EXIT_FAILED
    if not args.json:
        annotated = runtime.data_dir.annotated(*key)
        print(annotated if annotated.is_file() else runtime.data_dir.selector(*key))
    return EXIT_OK


def cmd_estimate(args: argparse.Namespace, config: Config) -> int:
    """Exit 0; 2 when the series or the file is unusable or a line is not an address (the
    estimate of the good lines is printed all the same)."""
    from pathlib import Path

    from dalleserver.costs import estimate as est
    from dalleserver.costs.spending import Spending
    from dalleserver.provider.images import orientation

    catalog = _open_catalog(config)
    try:
        view = catalog.view(args.series)
    except SeriesError as exc:
        raise UsageError(f"{exc} (run '{PROG} series' to list them)") from None
    try:
        found = est.read_addresses(Path(args.file).read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {args.file}: {getattr(exc, 'strerror', None) or exc}"
                         ) from None
    paid = config.has_api_key and config.image_backend == "openai"
    spending = Spending(config.prices, config.image_options if paid else None,
                        config.enhancement_model if config.enhance_enabled else None)
    data_dir, suffix = DataDir(config.data_dir), view.series.suffix

    def plan(address: str) -> tuple[str, bool]:
        dress = view.dress(address)
        return orientation(dress.prompt), bool(dress.author_prompt)

    result = est.estimate(found.addresses, lambda a: data_dir.annotated(suffix, a).is_file(),
                          plan, spending if paid else None)
    settings = (f"{config.image_model}, quality {config.image_quality or '(none)'}, size "
                f"{config.image_size or 'by prompt'}" if paid else
                f"the {config.image_backend} backend: nothing is paid")
    doc = est.report(result, found, settings, config.prices.as_of, config.budget)
    for number, reason in found.bad_lines:
        print(f"{args.file}:{number}: {reason}", file=sys.stderr)
    print(json.dumps(doc, indent=2) if args.json else "\n".join(est.report_lines(doc)))
    return EXIT_USAGE if found.bad_lines else EXIT_OK


HANDLERS: dict[str, Any] = {
    "serve": cmd_serve,
    "generate": cmd_generate,
    "prompts": cmd_prompts,
    "series": cmd_series,
    "check": cmd_check,
    "estimate": cmd_estimate,
    "batch": cmd_batch,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "serve")
    try:
        args = build_parser().parse_args(argv)
        if args.command in ("print-unit", "print-env"):  # needs no configuration or data dir
            from dalleserver.packaging import print_deploy_file

            return print_deploy_file(args.command)
        config = config_from_args(args)
        return HANDLERS[args.command](args, config)
    except (UsageError, ConfigError, BatchUsageError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (DatabaseError, SeriesError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
