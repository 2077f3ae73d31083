"""The demo app's entrypoint (gunicorn main:app, framework --app main ...).

The one line that ports it from Flask: everything below, and every extension, imports
``flask`` and gets framework.
"""

import framework

framework.install_as_flask()

from notes import create_app  # noqa: E402  (after the alias, on purpose)

app = create_app()
