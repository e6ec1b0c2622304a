"""Whether numba's on-disk cache holds the compiled loops, and filling it in the background.

numba compiles :mod:`imgconv.engine._loops` and :mod:`imgconv.engine._loops3d` (volumes)
into its cache once per installation (a few seconds, ``benchmarks/bench_startup.py``); later
processes load that machine code in :data:`imgconv.settings.LOAD_MS`. A one-off command must
not pay the compilation for one image, so the command line asks :func:`loop_cost_ms` at
start-up (the planner then charges the compilation and picks NumPy or SciPy) and
:func:`warm_in_background` starts one detached process, ``python -m imgconv.loopcache``, that
compiles the loops while NumPy and SciPy serve this command.

The check uses the standard library only (``imgconv --help`` stays light): numba's cache
folder is found as numba finds it (``NUMBA_CACHE_DIR``, else a writable ``__pycache__``
beside ``_loops.py``, else the user-wide cache), and the loops count as cached when the
marker that :mod:`imgconv.engine._loops3d` writes there after loading them all names these
sources of the loops, this numba and this Python.

Examples
--------
>>> marker_name().startswith("imgconv-loops-") and marker_name().endswith(".ok")
True
>>> loop_cost_ms() in (LOAD_MS, COMPILE_MS)
True
"""
import hashlib
import os
import sys
import time
from pathlib import Path

from imgconv.settings import COMPILE_MS, LOAD_MS

LOOPS_SOURCE = Path(__file__).with_name("engine") / "_loops.py"
#: every source of compiled loops (one folder: one numba cache folder)
LOOPS_SOURCES = (LOOPS_SOURCE, LOOPS_SOURCE.with_name("_loops3d.py"))
#: a lock older than this is left over from a warming process that died: replaced
STALE_LOCK_SECONDS = 600


def _numba_origin():
    import importlib.util

    spec = importlib.util.find_spec("numba")
    return None if spec is None or spec.origin is None else Path(spec.origin)


def marker_name():
    """The marker's file name: a digest of the loops' sources, numba's install and Python."""
    digest = hashlib.sha256()
    for source in LOOPS_SOURCES:
        digest.update(source.read_bytes())
    numba = _numba_origin()
    if numba is not None:
        st = numba.stat()
        digest.update(f"{numba}:{st.st_mtime_ns}:{st.st_size}".encode())
    digest.update(f"{sys.version_info[:2]}{getattr(sys, 'abiflags', '')}{sys.platform}".encode())
    return f"imgconv-loops-{digest.hexdigest()[:16]}.ok"


def _writable(folder):
    """Whether ``folder`` (or, when missing, its nearest existing parent) accepts new files."""
    folder = Path(folder)
    while not folder.exists():
        if folder.parent == folder:
            return False
        folder = folder.parent
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def _subpath(source):
    """numba's folder name for a source file's directory inside a cache root."""
    directory = os.path.dirname(os.path.abspath(source))
    return f"{os.path.split(directory)[-1]}_{hashlib.sha1(directory.encode()).hexdigest()}"


def _user_cache_root():
    """numba's user-wide cache root (its ``appdirs.user_cache_dir('numba')``)."""
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local")) / "numba" / "Cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "numba"
    return Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "numba"


def cache_dir():
    """The folder numba caches the loops in, as numba chooses it; None where it cannot cache."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        root = Path(os.environ["NUMBA_CACHE_DIR"]) / _subpath(LOOPS_SOURCE)
        return root if _writable(root) else None
    in_tree = LOOPS_SOURCE.parent / "__pycache__"
    if _writable(in_tree):
        return in_tree
    user = _user_cache_root() / _subpath(LOOPS_SOURCE)
    return user if _writable(user) else None


def loops_cached():
    """True when numba's cache holds the compiled loops of this source (their marker is there)."""
    folder = cache_dir()
    return folder is not None and (folder / marker_name()).is_file()


def loop_cost_ms():
    """What a process pays on its first use of the compiled loops: :data:`LOAD_MS` when they
    are cached, else :data:`COMPILE_MS` (compiling them)."""
    return LOAD_MS if loops_cached() else COMPILE_MS


def mark_cached(folder):
    """Write the marker into ``folder`` (numba's cache folder of the loops, just filled)."""
    marker = Path(folder) / marker_name()
    if not marker.exists():
        try:
            marker.write_text("the compiled loops of imgconv are in this numba cache\n")
        except OSError:
            pass  # a read-only cache: the next command checks again


def warm_in_background():
    """Start one detached process compiling the loops into numba's cache, when they are not
    cached, numba may be used and can cache, and no other such process runs. Never waits for
    it; returns True when it started one."""
    from imgconv.settings import current

    folder = cache_dir()
    if not current().compiled or folder is None or (folder / marker_name()).is_file():
        return False
    lock = folder / (marker_name()[:-3] + ".lock")
    if not _take_lock(lock):
        return False
    try:
        _spawn_detached([sys.executable, "-m", "imgconv.loopcache", str(lock)])
    except OSError:
        lock.unlink(missing_ok=True)
        return False
    return True


def _take_lock(lock):
    """Create ``lock`` exclusively; a stale one (its process died) is replaced once."""
    for _ in range(2):
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return True
        except FileExistsError:
            try:
                if time.time() - lock.stat().st_mtime < STALE_LOCK_SECONDS:
                    return False
                lock.unlink()
            except OSError:
                return False
        except OSError:
            return False
    return False


def _spawn_detached(argv):
    """Run ``argv`` in a new session with no terminal and nothing inherited; never wait."""
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parent.parent)  # the same imgconv as this one
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    if hasattr(os, "posix_spawn"):  # no Popen object: nothing left to wait for or warn about
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
            os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)
            return
        except NotImplementedError:  # no POSIX_SPAWN_SETSID here
            pass
        finally:
            os.close(devnull)
    import subprocess

    options = ({"start_new_session": True} if os.name == "posix" else {"creationflags": subprocess.DETACHED_PROCESS
               | subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW})
    process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, close_fds=True, **options)
    process.returncode = 0  # detached on purpose: nothing to wait for, no ResourceWarning


def main(argv=None):
    """``python -m imgconv.loopcache LOCK``: compile the loops into numba's cache (at low
    priority), which marks them cached, then remove LOCK."""
    argv = sys.argv[1:] if argv is None else argv
    lock = Path(argv[0]) if argv else None
    try:
        if hasattr(os, "nice"):
            os.nice(10)  # the command that started this one comes first
        from imgconv.engine import _compiled

        _compiled.loops3d()  # the 2-D loops, then the volume loops, then the marker
    finally:
        if lock is not None:
            lock.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
