"""The library's exception types.

Every error a user can cause derives from :class:`ImgconvError`; the CLI catches
that one base and prints ``imgconv: error: <message>`` with exit code 2.

Examples
--------
>>> try:
...     raise KernelError("kernel rows have different lengths", path="k.txt")
... except ImgconvError as e:
...     print(e)
k.txt: kernel rows have different lengths
"""


class ImgconvError(Exception):
    """Base of all user-facing errors; ``path`` names the offending file, if any."""

    exit_code = 2

    def __init__(self, message, path=None):
        self.message = str(message)
        self.path = None if path is None else str(path)
        super().__init__(f"{self.path}: {self.message}" if self.path else self.message)


class KernelError(ImgconvError):
    """A kernel spec, preset parameter or kernel file is invalid."""


class ImageReadError(ImgconvError):
    """An image cannot be read or decoded (missing, corrupt, unsupported, too large)."""


class ImageWriteError(ImgconvError):
    """An output cannot be written (bad extension, unwritable folder, disk full, exists)."""


class MatchError(ImgconvError):
    """Template matching cannot run (template larger than image, flat template, ...).

    ``subject`` says which input is at fault: ``"image"``, ``"template"``, ``"mask"`` or None,
    so that a caller holding file names can name the right one.
    """

    def __init__(self, message, path=None, subject=None):
        super().__init__(message, path)
        self.subject = subject


class EngineError(ImgconvError):
    """Invalid arguments to the convolution engine (unknown mode or method, bad shapes)."""
