"""Run by the Google Cloud CLI's bundled Python (not imported by ``gae``).

``python3 _gcloud_probe.py SDK_LIB PROJECT_DIR FILE...`` parses each App Engine file with
gcloud's own parsers (``app.yaml`` as a service, ``cron.yaml``/``index.yaml``/... as
configs), lists the files ``gcloud app deploy`` would upload (its ``.gcloudignore``
logic), and prints one JSON object on stdout. It must run on the SDK's Python alone.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
import typing as t


def main(argv: list[str]) -> int:
    """Parse the files named in ``argv`` and print the results as JSON."""
    sdk_lib, project, names = argv[1], argv[2], argv[3:]
    sys.path[:0] = [sdk_lib, os.path.join(sdk_lib, "third_party")]
    from googlecloudsdk.api_lib.app import yaml_parsing
    from googlecloudsdk.core import log

    warnings: list[str] = []

    def capture(message: str, *args: t.Any, **kwargs: t.Any) -> None:
        warnings.append(message % args if args else message)

    log.warning = capture
    result: dict[str, t.Any] = {"files": {}, "uploaded": None, "uploaded_error": None}
    service: t.Any = None
    for name in names:
        path = os.path.join(project, name)
        del warnings[:]
        entry: dict[str, t.Any] = {"error": None, "line": None, "suggestion": None}
        try:
            if os.path.basename(name) in {"app.yaml", "app.yml"}:
                service = yaml_parsing.ServiceYamlInfo.FromFile(path)
            else:
                yaml_parsing.ConfigYamlInfo.FromFile(path)
        except Exception as error:  # gcloud raises its own error tree; report them all
            message = str(error)
            entry["error"] = _clean(message, path)
            match = re.search(r"line (\d+), column \d+", message)
            entry["line"] = int(match.group(1)) if match else None
            try:
                entry["suggestion"] = _suggest(message)
            except Exception:  # a suggestion is a nicety; never fail the parse over it
                entry["suggestion"] = None
        entry["warnings"] = [_clean(w, path) for w in warnings]
        result["files"][name] = entry
    try:
        result["uploaded"] = _uploaded(project, service)
    except Exception as error:
        result["uploaded_error"] = str(error)
    json.dump(result, sys.stdout)
    return 0


def _clean(message: str, path: str) -> str:
    message = message.replace(f"An error occurred while parsing file: [{path}]", "").strip()
    message = re.sub(r'\s*in "[^"]*", line \d+, column \d+', "", message)
    return message.replace(f"In file [{path}]: ", "").strip()


def _suggest(message: str) -> str | None:
    """For an unexpected attribute, the closest attribute the object accepts."""
    match = re.search(r"Unexpected attribute '([^']+)' for object of type (\w+)", message)
    if match is None:
        return None
    from googlecloudsdk.appengine.api import appinfo, croninfo, dispatchinfo, queueinfo
    from googlecloudsdk.appengine.datastore import datastore_index

    for module in (appinfo, croninfo, datastore_index, dispatchinfo, queueinfo):
        cls = getattr(module, match.group(2), None)
        attributes = getattr(cls, "ATTRIBUTES", None)
        if attributes:
            close = difflib.get_close_matches(match.group(1), list(attributes), n=1)
            return close[0] if close else None
    return None


def _uploaded(project: str, service: t.Any) -> list[str] | None:
    """The files gcloud app deploy uploads, following its .gcloudignore rules."""
    if service is None:
        return None
    from googlecloudsdk.command_lib.app import source_files_util
    from googlecloudsdk.command_lib.util import gcloudignore

    if os.path.exists(os.path.join(project, gcloudignore.IGNORE_FILE_NAME)):
        chooser = gcloudignore.GetFileChooserForDir(project, write_on_disk=False)
    else:
        # What gcloud would generate (without writing it): its Python default.
        chooser = gcloudignore.GetFileChooserForDir(
            project,
            default_ignore_file=source_files_util._PYTHON_GCLOUDIGNORE,
            write_on_disk=False,
            gcloud_ignore_creation_predicate=lambda unused_dir: True,
            include_gitignore=False,
        )
    return sorted(chooser.GetIncludedFiles(project, include_dirs=False))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
