"""The ``framework`` command line (the ``flask`` command's equivalent), built on click.

``framework --app hello run`` serves an application; ``routes`` lists its URL rules and
``shell`` opens an interactive Python shell in its app context. The package re-exports
the public names of its modules: the command groups (:mod:`framework.cli.groups`), app
discovery (:mod:`framework.cli.discovery`) and the built-in commands
(:mod:`framework.cli.commands`).
"""

from __future__ import annotations

from framework.serving import show_server_banner as show_server_banner

from .commands import CertParamType as CertParamType
from .commands import SeparatedPathType as SeparatedPathType
from .commands import routes_command as routes_command
from .commands import run_command as run_command
from .commands import shell_command as shell_command
from .discovery import NoAppException as NoAppException
from .discovery import ScriptInfo as ScriptInfo
from .discovery import find_app_by_string as find_app_by_string
from .discovery import find_best_app as find_best_app
from .discovery import locate_app as locate_app
from .discovery import pass_script_info as pass_script_info
from .discovery import prepare_import as prepare_import
from .discovery import with_appcontext as with_appcontext
from .groups import AppGroup as AppGroup
from .groups import FlaskGroup as FlaskGroup
from .groups import cli as cli
from .groups import get_version as get_version
from .groups import load_dotenv as load_dotenv
from .groups import main as main
from .groups import version_option as version_option

__all__ = [
    "AppGroup",
    "CertParamType",
    "FlaskGroup",
    "NoAppException",
    "ScriptInfo",
    "SeparatedPathType",
    "cli",
    "find_app_by_string",
    "find_best_app",
    "get_version",
    "load_dotenv",
    "locate_app",
    "main",
    "pass_script_info",
    "prepare_import",
    "routes_command",
    "run_command",
    "shell_command",
    "show_server_banner",
    "version_option",
    "with_appcontext",
]
