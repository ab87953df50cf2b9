"""CNN Designer: `cnn-designer [DESIGN.json]` opens the window; `cnn-designer COMMAND ...` runs headless."""
from __future__ import annotations

import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from engine.cli import is_command_line, run_command_line

    if is_command_line(argv):
        return run_command_line(argv)
    from designer.app import end_process, run_app

    end_process(run_app(argv))
    return 0   # not reached: end_process ends the process


if __name__ == "__main__":
    sys.exit(main())
