"""The threads of the strip pipeline: code loaded while the image decodes, strips computed ahead.

Examples
--------
>>> with ahead(iter(range(5))) as items:
...     list(items)
[0, 1, 2, 3, 4]
"""
import contextlib
import contextvars
import queue
import threading

#: strips computed ahead of the encoder
AHEAD = 2


@contextlib.contextmanager
def preloading(chain):
    """Import the code ``chain``'s plans run (scipy.fft, the compiled loops: a quarter to half a
    second each) in a thread while this one decodes the image (Pillow and zlib release the GIL)."""
    plans = [p.plan for plans in chain.plans for p in plans]

    def load():
        with contextlib.suppress(Exception):  # a failure shows again where the code is used
            if any(plan.method == "fft" for plan in plans):
                import scipy.fft  # noqa: F401
            if any(plan.compiled for plan in plans):
                from imgconv.engine import warm_up

                warm_up()

    worker = threading.Thread(target=contextvars.copy_context().run, args=(load,), daemon=True)
    worker.start()
    try:
        yield
    finally:
        worker.join()


@contextlib.contextmanager
def ahead(items):
    """Compute ``items`` in a thread, :data:`AHEAD` ahead of the consumer (bounded memory); the
    thread runs in this context (its Settings), and stops when the consumer does."""
    ready, stop, done = queue.Queue(AHEAD), threading.Event(), object()

    def put(item):
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                ready.put(item, timeout=0.05)
                return

    def produce():
        try:
            for item in items:
                if stop.is_set():
                    return
                put(item)
            put(done)
        except BaseException as exc:  # noqa: BLE001 -- handed to the consumer, raised there
            put(exc)

    def consume():
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item

    worker = threading.Thread(target=contextvars.copy_context().run, args=(produce,), daemon=True)
    worker.start()
    try:
        yield consume()
    finally:
        stop.set()
        worker.join()
