"""Files offered for download from a folder outside ``static``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, send_from_directory

bp = Blueprint("downloads", __name__, url_prefix="/downloads")


@bp.route("/<path:filename>")
def download(filename: str) -> Any:
    return send_from_directory(
        current_app.config["DOWNLOAD_FOLDER"], filename, as_attachment=filename.endswith(".csv")
    )
