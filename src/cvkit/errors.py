"""Errors cvkit raises; the CLI turns them into messages and exit codes."""

from __future__ import annotations

from pathlib import Path


class CvkitError(Exception):
    """Base class: something the user can fix (bad input, bad option, refused destination).

    ``file`` and ``location`` (a line number, JSON path or XML element) are shown
    in front of the message so a user can jump straight to the problem.
    """

    exit_code = 2

    def __init__(self, message: str, file: str | Path | None = None, location: str | None = None):
        self.message = _unwrapped(message)
        self.file = str(file) if file is not None else None
        self.location = location
        super().__init__(self.describe())

    def describe(self) -> str:
        """The message as the CLI prints it: ``file:location: message``, on one line (lxml's messages hold
        line breaks: ``Char 0x0 out of allowed range\n, line 6, column 11``)."""
        where = ""
        if self.file:
            where = self.file
            if self.location:
                where += f":{self.location}"
            where += ": "
        return where + " ".join(self.message.splitlines()) if "\n" in self.message else where + self.message


class InvalidInputError(CvkitError):
    """A malformed input file or record; ``--skip-invalid`` may skip it."""


class FormatDetectionError(CvkitError):
    """The input format could not be identified (or is ambiguous)."""


class DestinationExistsError(CvkitError):
    """Output would overwrite something and ``--overwrite`` was not given."""


class UnsafePickleError(InvalidInputError):
    """A pickle asked to build an object type cvkit does not allow."""


def _unwrapped(message: str) -> str:
    """The message a worker process raised, where torch's data loader raises it again as ``Caught X in DataLoader
    worker process N. Original Traceback ...: <message>`` (it builds the error anew from that text): the traceback
    is no part of what the user is told."""
    if not (message.startswith("Caught ") and "\nOriginal Traceback" in message):
        return message
    last = message.rstrip().rsplit("\n", 1)[-1]
    kind, _, text = last.partition(": ")
    return text if text and "Error" in kind else message
