"""The command line. Each module in this package that defines `add_command(subparsers)` adds a subcommand;
the function it registers with `set_defaults(run=...)` receives the parsed arguments and returns an exit
code."""
from __future__ import annotations

import argparse
import errno
import importlib
import pkgutil
import sys
from collections.abc import Sequence

GUI_HELP = "cnn-designer [DESIGN.json]   open the desktop app (optionally with a design or .cnnd bundle)"
DESKTOP_FLAGS = ("--install-desktop-entry", "--uninstall-desktop-entry")


class CommandError(Exception):
    """A problem the user can fix; printed as one clear message, exit code 2."""


def user_errors() -> tuple[type[Exception], ...]:
    """The error types whose message is meant for the person (a bad file, a refused value): every command
    turns them into one line and exit code 2, also where it does not catch them itself."""
    from engine.data.base import DatasetError
    from engine.graph_io import GraphFileError
    from engine.interchange.bundle import BundleError
    from engine.safe_files import FileLimitError, NotRegularFileError
    from engine.training.run_record import RunRecordError

    return (FileLimitError, NotRegularFileError, GraphFileError, BundleError, RunRecordError, DatasetError)


def _one_line(exc) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        text = f"cannot write {exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    else:
        text = str(exc).strip()
    text = "; ".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
    return text if len(text) <= 2000 else text[:1997] + "..."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnn-designer",
        description="Design, train and understand convolutional neural networks.",
        epilog=f"Without a command:\n  {GUI_HELP}\n\nRun 'cnn-designer COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--install-desktop-entry", action="store_true",
                        help="add CNN Designer to this Linux desktop's menus with its icon, and let the file "
                             "manager open .cnnd projects with it (under $XDG_DATA_HOME, default ~/.local/share)")
    parser.add_argument("--uninstall-desktop-entry", action="store_true",
                        help="remove what --install-desktop-entry added")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "add_command"):
            module.add_command(subs)
    return parser


def command_names() -> set[str]:
    return {info.name.replace("_", "-") for info in pkgutil.iter_modules(__path__)} | {"-h", "--help"}


def is_command_line(argv: Sequence[str]) -> bool:
    return bool(argv) and (argv[0] in command_names() or argv[0] in ("--version", *DESKTOP_FLAGS))


def run_command_line(argv: Sequence[str]) -> int:
    if list(argv) in ([DESKTOP_FLAGS[0]], [DESKTOP_FLAGS[1]]):
        # Without building the parser, which imports every command (and so torch): seconds saved.
        from engine.desktop_entry import run as desktop_entry

        return desktop_entry(install_entry=argv[0] == DESKTOP_FLAGS[0])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.install_desktop_entry or args.uninstall_desktop_entry:
        if args.install_desktop_entry and args.uninstall_desktop_entry or getattr(args, "run", None):
            parser.error("give --install-desktop-entry or --uninstall-desktop-entry alone")
        from engine.desktop_entry import run as desktop_entry

        return desktop_entry(install_entry=args.install_desktop_entry)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    from engine.memory_limit import apply_option
    apply_option(args)  # --max-memory of the commands that build networks
    try:
        return int(args.run(args) or 0)
    except CommandError as exc:
        print(f"cnn-designer {args.command}: {_one_line(exc)}", file=sys.stderr)
        return 2
    except user_errors() as exc:  # a bad file or value that a command did not translate itself: still one line
        print(f"cnn-designer {args.command}: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        print(f"cnn-designer {args.command}: cannot write {exc.filename or 'a file'}: {exc.strerror or exc}. "
              f"Free some space or choose another folder (--out / -o).", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
