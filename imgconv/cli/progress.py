"""Progress bars on stderr, drawn by the command line from the library's callbacks.

Examples
--------
>>> with batch_bar(3, "filtering", show=False) as progress:
...     progress is None
True
"""
import contextlib
import sys
import time


@contextlib.contextmanager
def batch_bar(total, label, *, show):
    """A ``progress(finished, total)`` callback drawing Click's bar (position, percent, time
    left, images per second), or None when ``show`` is False."""
    if not show:
        yield None
        return
    import click

    start = time.perf_counter()

    def rate(_item):
        elapsed = time.perf_counter() - start
        return f"{bar.pos / elapsed:.1f} images/s" if bar.pos and elapsed > 0 else None

    bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True, show_percent=True,
                            show_eta=True, item_show_func=rate)
    with bar:
        yield lambda finished, _total: bar.update(finished - bar.pos)


class LazyBar:
    """A ``progress(done, total)`` callback that shows a bar on stderr once work has taken over
    ``delay`` seconds; :meth:`close` ends it."""

    def __init__(self, label, delay=1.0):
        self.label = label
        self.delay = delay
        self.start = time.perf_counter()
        self.bar = None
        self.shown = 0

    def __call__(self, done, total):
        if self.bar is None:
            if time.perf_counter() - self.start < self.delay or done >= total:
                return
            import click

            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr, show_eta=True)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
