"""``flask.debughelpers``: the errors and helpers Flask uses to explain mistakes in debug mode.

Imported by extensions and tools written for Flask (under :func:`framework.install_as_flask`
as ``flask.debughelpers``).
"""

from __future__ import annotations

import typing as t

from .dispatch import FormDataRoutingRedirect
from .jinja_env import explain_template_loading_attempts

if t.TYPE_CHECKING:
    from .wrappers import Request

__all__ = [
    "DebugFilesKeyError",
    "FormDataRoutingRedirect",
    "UnexpectedUnicodeError",
    "attach_enctype_error_multidict",
    "explain_template_loading_attempts",
]


class UnexpectedUnicodeError(AssertionError, UnicodeError):
    """Text was found where bytes were expected, or the other way round."""


class DebugFilesKeyError(KeyError, AssertionError):
    """A key missing from ``request.files`` that the form sent as a field: the form was
    submitted without ``enctype="multipart/form-data"``, so the file never arrived."""

    def __init__(self, request: Request, key: str) -> None:
        form_matches = request.form.getlist(key)
        message = (
            f"You tried to access the file {key!r} in the request.files dictionary but it "
            f"does not exist. The mimetype for the request is {request.mimetype!r} instead "
            "of 'multipart/form-data', which means that no file contents were transmitted. "
            'Add enctype="multipart/form-data" to the form.'
        )
        if form_matches:
            names = ", ".join(repr(x) for x in form_matches)
            message += f"\n\nThe browser instead transmitted some file names: {names}"
        self.msg = message

    def __str__(self) -> str:
        return self.msg


def attach_enctype_error_multidict(request: Request) -> None:
    """Make a missing key of ``request.files`` that the form has raise
    :exc:`DebugFilesKeyError`, explaining the missing ``enctype``."""
    files = request.files
    base = type(files)

    class DebugFiles(base):  # type: ignore[valid-type, misc]
        def __getitem__(self, key: str) -> t.Any:
            try:
                return super().__getitem__(key)
            except KeyError as error:
                if key not in request.form:
                    raise
                raise DebugFilesKeyError(request, key).with_traceback(error.__traceback__) from None

    DebugFiles.__name__ = base.__name__
    DebugFiles.__module__ = base.__module__
    files.__class__ = DebugFiles
