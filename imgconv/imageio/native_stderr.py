"""What C libraries print on file descriptor 2 during an encode: captured, not shown.

libjpeg's encoder prints its own reason on stderr ("Maximum supported image dimension
is 65500 pixels") before Pillow raises a vaguer error: a second line beside imgconv's
one, which no Python code can catch.  :func:`native_stderr_into` points descriptor 2 at
a temporary file for a block and hands what was written there to the caller, who can
make it the reason of its error.

One capture at a time: a thread that finds another capture running (threads of a Dask
worker) runs its block uncaptured rather than stealing the other's lines.

Examples
--------
>>> said = []
>>> with native_stderr_into(said):
...     _ = os.write(2, b"from C\\n")
>>> said
['from C']
"""
import contextlib
import os
import sys
import tempfile
import threading

#: Characters of captured text kept (the first line is what matters).
_KEEP = 4096

_CAPTURING = threading.Lock()


@contextlib.contextmanager
def native_stderr_into(said):
    """Run a block with descriptor 2 captured; append what was written to the list ``said``."""
    if not _CAPTURING.acquire(blocking=False):
        yield
        return
    try:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:  # no descriptor 2 to capture
            saved = None
        if saved is None:
            yield
            return
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                text = sink.read(_KEEP).decode("utf-8", errors="replace").strip()
                if text:
                    said.append(text)
    finally:
        _CAPTURING.release()
