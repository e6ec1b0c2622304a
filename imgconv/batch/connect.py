"""Reaching a Dask scheduler (``--scheduler``): the address checked first, the connection bounded.

:func:`check_scheduler_address` refuses what cannot be a scheduler's address before
anything starts (no port, an unknown protocol, ``inproc://``, which exists only inside
one Python process).  :func:`open_client` connects within the timeout and, when that
fails, discards the half-made client itself: left to the garbage collector, Dask's
client spends twice the timeout closing and prints a traceback on the way.

Examples
--------
>>> check_scheduler_address("tcp://head:8786")
'tcp://head:8786'
>>> check_scheduler_address("head:8786")
'tcp://head:8786'
"""
import contextlib

from imgconv.errors import ImgconvError

#: Protocols of Dask's communication layer that reach another process.
SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def check_scheduler_address(address):
    """``address`` as ``protocol://host:port`` (``tcp://`` when none is given), or ImgconvError."""
    text = str(address).strip()
    example = "e.g. tcp://head:8786"
    if not text:
        raise ImgconvError(f"an empty scheduler address ({example})")
    scheme, sep, rest = text.partition("://")
    scheme, rest = (scheme.lower(), rest) if sep else ("tcp", text)
    if scheme == "inproc":
        raise ImgconvError(f"{text!r}: inproc:// addresses exist only inside one Python process; give the "
                           f"scheduler's network address ({example})")
    if scheme not in SCHEMES:
        raise ImgconvError(f"{text!r}: unknown protocol {scheme!r} (use one of {', '.join(SCHEMES)}; {example})")
    host, colon, port = rest.rpartition(":")
    if not colon or not host.strip("[]") or any(c.isspace() or c == "/" for c in host):
        raise ImgconvError(f"{text!r} is not protocol://host:port ({example})")
    if not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ImgconvError(f"{text!r}: the port must be a number from 1 to 65535 ({example})")
    return f"{scheme}://{host}:{int(port)}"


def open_client(address, timeout):
    """A ``distributed.Client`` connected to ``address`` within about ``timeout`` seconds.

    Raises
    ------
    ImgconvError
        The address is invalid, nothing answers in time, or what answers is not a Dask scheduler.
    """
    from distributed import Client

    address = check_scheduler_address(address)
    client = Client.__new__(Client)
    try:
        client.__init__(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - whatever the far end did, one clear line
        _discard(client)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, (MemoryError, ValueError, TypeError, KeyError)):
            reason = f"what answers there is not a Dask scheduler ({type(exc).__name__})"
        raise ImgconvError(f"cannot reach the Dask scheduler at {address}: {reason}") from None
    return client


def _discard(client):
    """Stop a client whose start failed, so that its ``__del__`` has nothing left to close."""
    with contextlib.suppress(Exception):
        client.status = "closed"
    with contextlib.suppress(Exception):
        client._loop_runner.stop()
