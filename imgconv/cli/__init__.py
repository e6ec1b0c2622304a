"""The ``imgconv`` command line: a Click group over the library.

Each command lives in its own module (``filter_cmd``, ``kernels_cmd``,
``match_cmd``, ``deconvolve_cmd``) and exposes ``command``. Modules here import
only Click at load time; the library (NumPy, SciPy, Pillow) is imported inside
the command functions so that ``imgconv --help`` answers fast.

Exit codes: 0 success, 1 ``match`` found nothing, 2 bad usage or
invalid input, 3 some inputs of a multi-input run failed.
"""
import sys

import click

from imgconv import __version__


class LazyGroup(click.Group):
    """A group whose commands are imported only when listed or invoked."""

    _commands = {
        "filter": "imgconv.cli.filter_cmd",
        "kernels": "imgconv.cli.kernels_cmd",
        "match": "imgconv.cli.match_cmd",
        "deconvolve": "imgconv.cli.deconvolve_cmd",
        "estimate-kernel": "imgconv.cli.estimate_cmd",
    }

    def list_commands(self, ctx):
        import importlib.util

        return [n for n, m in self._commands.items() if importlib.util.find_spec(m)]

    def get_command(self, ctx, name):
        import importlib

        module = self._commands.get(name)
        if module is None:
            return None
        try:
            return importlib.import_module(module).command
        except ModuleNotFoundError as exc:
            if exc.name == module:
                return None
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="imgconv")
def main():
    """Filter images with kernels, find templates in them, undo known blurs.

    \b
    Examples:
      imgconv filter photo.png -k sobel
      imgconv filter photos/ -r -k gaussian:sigma=2 -o blurred/
      imgconv kernels gaussian:sigma=1.5
      imgconv match scene.png logo.png --json
    """


def fail(message, code=2):
    """Print one ``imgconv: error:`` line on stderr and exit with ``code``."""
    from imgconv.cli.messages import error

    error(message)
    sys.exit(code)


def run(argv=None):
    """Console-script entry: run ``main`` and turn every outcome into its exit code and at most
    one line on stderr (user errors 2, interrupts 130, bugs 70)."""
    import os
    import signal
    import threading

    from imgconv.cli.messages import say, warnings_as_notes
    from imgconv.errors import ImgconvError
    from imgconv.loopcache import loop_cost_ms
    from imgconv.settings import current, use

    if threading.current_thread() is threading.main_thread():  # SIGTERM stops like Ctrl-C
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        # a one-off command pays for loading the compiled loops, or for compiling them while
        # numba's cache is still empty (the computing commands then fill it in the background)
        with use(load_ms=loop_cost_ms() if current().compiled else 0.0), warnings_as_notes():
            rv = _invoke(argv)
    except ImgconvError as exc:
        fail(exc, exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        say("interrupted")
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:  # a bare command: its help, as Click shows it
        click.echo(exc.ctx.get_help(), err=True)
        sys.exit(2)
    except click.UsageError as exc:  # one line, as for every other user error
        command = exc.ctx.command_path if exc.ctx is not None else "imgconv"
        fail(f"{exc.format_message()} (see '{command} --help')", 2)
    except click.ClickException as exc:
        fail(exc.format_message(), 2 if exc.exit_code == 1 else exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug: one line, the traceback only on request
        if os.environ.get("IMGCONV_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        say(f"internal error: {type(exc).__name__}: {first} (please report this; IMGCONV_DEBUG=1 shows the "
            "traceback)")
        sys.exit(70)
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)
    sys.exit(rv if isinstance(rv, int) else 0)


def console():
    """The ``imgconv`` command: :func:`run`, then the process ends at once.

    The interpreter's own shutdown (freeing every module, numba's and LLVM's objects among
    them) costs up to a third of a second after the work is done; the exit handlers still
    run, the standard streams are flushed, and nothing is left half-written (every output was
    published before :func:`run` returned).
    """
    import atexit
    import os

    if "filter" in sys.argv[1:2]:
        # its BLAS products are small (imgconv.engine.plain): OpenBLAS's threads would only spin
        # between them, taking a third of a second of the core the encoder needs
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        run()
        code = None
    except SystemExit as exc:
        code = exc.code
    if not isinstance(code, int):  # as Python exits: None is 0, anything else printed, then 1
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: what it lost was reported, or is moot
            pass
    os._exit(code)


def _invoke(argv):
    """Run ``main`` on ``argv`` (default ``sys.argv[1:]``) and return its exit code or value.

    What ``main.main(standalone_mode=False)`` does, except that an interrupt arrives here
    as it is: Click would first print an empty line on stderr.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        with main.make_context("imgconv", args) as ctx:
            return main.invoke(ctx)
    except click.exceptions.Exit as exc:
        return exc.exit_code


def _interrupt(signum, frame):
    raise KeyboardInterrupt
