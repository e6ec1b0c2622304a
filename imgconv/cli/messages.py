"""The lines the command line writes to stderr: one line each, whatever the names in them hold.

Every ``imgconv: error:`` and ``imgconv: note:`` line goes through :func:`one_line`:
control characters (a newline in a file name would forge a second line, an escape
sequence would drive the terminal) are written as Python escapes, runs of more than
:data:`MAX_DIGITS` digits are cut to their first digits and their count, and a line is
at most :data:`MAX_LINE` characters.  Python warnings that reach the command line are
one note each (:func:`warnings_as_notes`), never the two lines Python would print.

Examples
--------
>>> one_line("bad\\nname.png: no such file")
'bad\\\\nname.png: no such file'
>>> one_line("1/" + "3" * 100 + " is out of range")
'1/3333333333...(100 digits) is out of range'
"""
import contextlib
import re
import unicodedata
import warnings

import click

#: The longest line written (longer ones are cut in the middle).
MAX_LINE = 4096
#: Longer runs of digits are shown as their first 10 digits and their length.
MAX_DIGITS = 40

_LONG_NUMBER = re.compile(rf"\d{{{MAX_DIGITS + 1},}}")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(character):
    if character in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[character]
    code = ord(character)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte of a file name (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _is_control(character):
    return unicodedata.category(character) in ("Cc", "Cs", "Zl", "Zp")


def one_line(text):
    """``text`` as one printable line: control characters escaped, long numbers and lines cut.

    Examples
    --------
    >>> one_line("a\\x1b[31mred")
    'a\\\\x1b[31mred'
    >>> len(one_line("x" * 10000)) <= MAX_LINE
    True
    """
    text = "".join(_escape(c) if _is_control(c) else c for c in str(text))
    text = _LONG_NUMBER.sub(lambda m: f"{m.group()[:10]}...({len(m.group())} digits)", text)
    if len(text) > MAX_LINE:
        cut = len(text) - MAX_LINE + 40
        half = (MAX_LINE - 40) // 2
        text = f"{text[:half]}...({cut} characters cut)...{text[-half:]}"
    return text


def error(message):
    """Write ``imgconv: error: <message>`` as one line on stderr."""
    click.echo(f"imgconv: error: {one_line(message)}", err=True)


def note(message):
    """Write ``imgconv: note: <message>`` as one line on stderr."""
    click.echo(f"imgconv: note: {one_line(message)}", err=True)


def say(message):
    """Write ``imgconv: <message>`` as one line on stderr (interruptions, internal errors)."""
    click.echo(f"imgconv: {one_line(message)}", err=True)


def _show_as_note(message, category, filename, lineno, file=None, line=None):
    note(f"{category.__name__}: {message} (please report this)")


@contextlib.contextmanager
def warnings_as_notes():
    """A block in which every Python warning shown is one ``imgconv: note:`` line.

    The warning filters in force stay as they are (a test's ``error`` filter still
    raises); only the display changes.
    """
    with warnings.catch_warnings():
        warnings.showwarning = _show_as_note
        yield
