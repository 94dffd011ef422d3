"""argparse for the train package's commands: a bad option is one line, not the usage text."""

from __future__ import annotations

import argparse
import typing


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (exit 2), without the long usage text."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
