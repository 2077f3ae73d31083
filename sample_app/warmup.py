"""What ``/_ah/warmup`` does for the noticeboard, besides gae's own warmup.

App Engine sends ``GET /_ah/warmup`` to a new instance before user traffic. gae's warmup
builds the ndb client and compiles the templates; this adds the front page's query, which
connects the gRPC channel to Datastore, imports the query code and fills the front page's
cache (:mod:`sample_app.cache`), so the first visitor does not pay for any of it.
"""

from __future__ import annotations

import logging

from google.api_core.exceptions import GoogleAPIError

from framework import Flask
from gae.ndb import ensure_context

from .posts import latest_page

logger = logging.getLogger(__name__)


def register(app: Flask) -> None:
    """Add the noticeboard's warmup step to ``app`` (already wrapped by gae.wrap)."""

    def warm_front_page() -> None:
        # Within the warmup request's contexts, or new ones (a call to ext.warm()).
        with app.app_context(), ensure_context():
            try:
                latest_page(None)
            except GoogleAPIError as error:
                # Best effort: the instance still serves, and the first page queries.
                logger.warning("Warmup could not read the front page: %s", error)

    app.extensions["appengine"].warmup(warm_front_page)
