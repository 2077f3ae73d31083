"""Class-based views: :class:`View` and :class:`MethodView`.

A class is turned into a view function with :meth:`View.as_view` and registered with
``app.add_url_rule(rule, view_func=MyView.as_view("name"))``. Results (and async handlers)
go through ``current_app.ensure_sync`` exactly as function views do.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Collection

from .globals import current_app, request

if t.TYPE_CHECKING:
    from .typing import ResponseReturnValue, RouteCallable

http_method_funcs = frozenset(["get", "post", "head", "options", "delete", "put", "trace", "patch"])


class _ViewFunction(t.Protocol):
    # What ``as_view`` attaches to the function it returns; routing reads ``methods`` and
    # ``provide_automatic_options``, tests and extensions read ``view_class``.
    view_class: type[View]
    methods: Collection[str] | None
    provide_automatic_options: bool | None
    __name__: str
    __doc__: str | None
    __module__: str

    def __call__(self, **kwargs: t.Any) -> ResponseReturnValue: ...


class View:
    """Subclass and implement :meth:`dispatch_request` to build a view from a class.

    Class attributes configure the resulting view function:

    ``methods``
        HTTP methods the route accepts (``None`` means the route's default, ``GET``).
    ``provide_automatic_options``
        Whether routing adds ``OPTIONS`` automatically (``None`` leaves it to the app).
    ``decorators``
        Applied to the generated view function in list order, so the first one ends up
        innermost. Decorating the class itself would not affect the view function.
    ``init_every_request``
        ``True`` (default) builds a fresh instance per request, so ``self`` is safe to use
        for request state. ``False`` builds a single instance in :meth:`as_view` that is
        shared by every request and thread; store nothing request-specific on it.
    """

    methods: t.ClassVar[Collection[str] | None] = None
    provide_automatic_options: t.ClassVar[bool | None] = None
    decorators: t.ClassVar[list[Callable[..., t.Any]]] = []
    init_every_request: t.ClassVar[bool] = True

    def dispatch_request(self) -> ResponseReturnValue:
        """Handle a request; URL variables arrive as keyword arguments."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement dispatch_request() to be used as a view."
        )

    @classmethod
    def as_view(cls, name: str, *class_args: t.Any, **class_kwargs: t.Any) -> RouteCallable:
        """Return a view function for this class, registered under endpoint ``name``.

        ``class_args`` and ``class_kwargs`` are passed to the constructor, once per request
        or once in total depending on :attr:`init_every_request`.
        """
        view: Callable[..., t.Any]
        if cls.init_every_request:

            def view(**kwargs: t.Any) -> ResponseReturnValue:
                # ``view.view_class`` rather than ``cls``: decorators or users may swap it.
                instance = view_function.view_class(*class_args, **class_kwargs)
                rv: ResponseReturnValue = current_app.ensure_sync(instance.dispatch_request)(
                    **kwargs
                )
                return rv

        else:
            shared = cls(*class_args, **class_kwargs)

            def view(**kwargs: t.Any) -> ResponseReturnValue:
                rv: ResponseReturnValue = current_app.ensure_sync(shared.dispatch_request)(**kwargs)
                return rv

        if cls.decorators:
            # Decorators built with functools.wraps copy these onto their wrapper: set them first.
            view.__name__ = name
            view.__module__ = cls.__module__
            for decorator in cls.decorators:
                view = decorator(view)

        view_function = t.cast(_ViewFunction, view)
        view_function.view_class = cls
        view_function.__name__ = name
        view_function.__doc__ = cls.__doc__
        view_function.__module__ = cls.__module__
        view_function.methods = cls.methods
        view_function.provide_automatic_options = cls.provide_automatic_options
        return view_function


class MethodView(View):
    """Dispatch each request to the method named after its HTTP verb (``get``, ``post``...).

    ``methods`` is filled in automatically from the verbs a subclass (or its bases)
    implements, unless the subclass sets it explicitly. ``HEAD`` falls back to ``get``.
    """

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        if "methods" in cls.__dict__:
            return
        methods: set[str] = set()
        for base in cls.__bases__:
            base_methods = getattr(base, "methods", None)
            if base_methods:
                methods.update(base_methods)
        methods.update(verb.upper() for verb in http_method_funcs if hasattr(cls, verb))
        if methods:
            cls.methods = methods

    def dispatch_request(self, **kwargs: t.Any) -> ResponseReturnValue:
        handler = getattr(self, request.method.lower(), None)
        if handler is None and request.method == "HEAD":
            handler = getattr(self, "get", None)
        if handler is None:
            # Only reachable if ``methods`` was set to include a verb with no handler.
            raise NotImplementedError(
                f"{type(self).__name__} accepts {request.method!r} but defines no"
                f" {request.method.lower()}() method; add one or remove the verb from methods."
            )
        rv: ResponseReturnValue = current_app.ensure_sync(handler)(**kwargs)
        return rv
