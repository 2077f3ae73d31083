"""Flask 3's ``flask.sansio`` modules, for code that imports names from them.

Flask splits its application, blueprint and scaffold classes into an I/O-free base
(``flask.sansio``) and the WSGI classes. ``framework`` has one class of each; these
modules give the names Flask extensions import (``App``, ``Scaffold``, ``setupmethod``,
``Blueprint``, ...) so ``from flask.sansio.app import App`` works under
:func:`framework.install_as_flask`, and ``isinstance(app, App)`` is true for every app.
"""
