"""The command lines' shared parser: a bad option is answered in one line, not a usage dump.

Torch-free and numpy-free like the rest of :mod:`vaekit.format`, so every package's
``python -m vaekit.*`` entry point (train, export, runtime, demo) may build its parser here.
"""

from __future__ import annotations

import argparse
import typing


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (exit 2), without the usage text."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def command_parser(prog: str, doc: str | None, **options: typing.Any) -> OneLineParser:
    """The parser of ``python -m PROG``: its --help shows the module docstring ``doc`` as
    written (line breaks kept); ``options`` go to :class:`argparse.ArgumentParser`."""
    return OneLineParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter,
                         **options)
