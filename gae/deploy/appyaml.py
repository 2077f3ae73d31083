"""Offline checks of an App Engine ``app.yaml`` (standard environment, Python 3).

gcloud's own parser (see :mod:`gae.deploy.gcloud`) knows the file's structure but not which
runtimes exist, which instance classes a scaling type accepts, or whether the app will
actually start. These rules cover that: each returns :class:`~gae.deploy.yamlnodes.Finding` s
naming the line and the fix. :func:`gae.deploy.checks.check_project` runs them together
with the checks that span several files.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .entrypoint import Requirement
from .requirements import uses_gae_wrap
from .runtimes import (
    B_CLASSES,
    DEFAULT_INSTANCE_CLASS,
    F_CLASSES,
    FRAMEWORK_RUNTIMES,
    INSTANCE_CLASSES,
    RETIRED_RUNTIMES,
    RUNTIMES,
)
from .runtimes import runtime as runtime_info
from .servers import entrypoint_rules
from .yamlnodes import Finding, Severity, YamlFile, get, items, line_of, number, pairs, text

#: Top-level keys of a standard-environment app.yaml (used when gcloud is not installed).
KNOWN_KEYS = frozenset(
    {
        "runtime", "service", "instance_class", "entrypoint", "env", "env_variables",
        "build_env_variables", "handlers", "inbound_services", "automatic_scaling",
        "basic_scaling", "manual_scaling", "default_expiration", "error_handlers", "includes",
        "app_engine_apis", "service_account", "vpc_access_connector", "runtime_config",
        "main", "threadsafe", "api_version", "libraries", "skip_files", "beta_settings",
        "derived_file_type", "module", "version", "application", "runtime_channel",
    }
)  # fmt: skip
_RESERVED_ENV = re.compile(r"^(GAE_.*|GOOGLE_CLOUD_PROJECT|PORT|CLOUD_RUN_.*|K_.*)$")
_SECRET_KEY_NAME = re.compile(
    r"(SECRET|PASSWORD|PASSWD|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY|"
    r"CLIENT_?SECRET|SIGNING_?KEY|AUTH_?KEY|DSN)",
    re.IGNORECASE,
)
_NOT_A_SECRET_NAME = re.compile(r"_(NAME|ID|PATH|RESOURCE|VERSION)$", re.IGNORECASE)
_SECRET_VALUES = (
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a PEM private key"),
    (re.compile(r"AIza[0-9A-Za-z_-]{35}"), "a Google API key"),
    (re.compile(r"\"private_key\"\s*:"), "a service-account key"),
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "an AWS access key"),
    (re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{30,}|sk_live_[A-Za-z0-9]{16,}|xox[abpr]-)"), "a token"),
    (re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"), "a URL with a password"),
)
_SECRET_REFERENCE = re.compile(r"^projects/[^/]+/secrets/[^/]+(/versions/[^/]+)?$")


@dataclass
class AppYamlContext:
    """What the app.yaml rules look at."""

    root: Path
    app: YamlFile
    requirements: list[Requirement] | None

    def finding(
        self, node: yaml.Node | int | None, severity: Severity, message: str, fix: str, rule: str
    ) -> Finding:
        """A finding in app.yaml at ``node`` (or a line number)."""
        line = node if isinstance(node, int) or node is None else line_of(node)
        return Finding(self.app.name, line, severity, message, fix, rule)

    @property
    def scaling(self) -> tuple[str, yaml.Node | None]:
        """The scaling type and its settings node (automatic when none is given)."""
        for kind in ("automatic", "basic", "manual"):
            node = self.app.get(f"{kind}_scaling")
            if node is not None:
                return kind, node
        return "automatic", None

    @property
    def instance_class(self) -> str:
        """The instance class in effect."""
        return self.app.text("instance_class") or DEFAULT_INSTANCE_CLASS[self.scaling[0]]

    @functools.cached_property
    def uses_gae_wrap(self) -> bool:
        """Whether the app is wrapped with ``gae.wrap`` (see :func:`uses_gae_wrap`)."""
        return uses_gae_wrap(self.root)

    def requirement(self, name: str) -> Requirement | None:
        """The requirements.txt line for a distribution, if listed."""
        for requirement in self.requirements or ():
            if requirement.name == name:
                return requirement
        return None


def check_app_yaml(ctx: AppYamlContext, *, known_keys: bool = True) -> list[Finding]:
    """Every app.yaml rule; ``known_keys`` also flags unknown top-level keys."""
    findings: list[Finding] = []
    if not isinstance(ctx.app.root, yaml.MappingNode):
        return [
            ctx.finding(
                ctx.app.root,
                "error",
                "app.yaml is empty or not a mapping of settings.",
                "Start it with 'runtime: python312' (see 'framework gae init' for a template).",
                "structure",
            )
        ]
    if known_keys:
        findings += _unknown_keys(ctx)
    findings += _runtime(ctx)
    findings += _scaling(ctx)
    findings += entrypoint_rules(ctx)
    findings += _handlers(ctx)
    findings += _env_variables(ctx)
    findings += _inbound_services(ctx)
    return findings


def _close(value: str, choices: tuple[str, ...] | list[str]) -> str:
    match = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _unknown_keys(ctx: AppYamlContext) -> list[Finding]:
    found = []
    for name, key_node, _ in pairs(ctx.app.root):
        if name not in KNOWN_KEYS:
            found.append(
                ctx.finding(
                    key_node,
                    "error",
                    f"{name!r} is not an app.yaml setting{_close(name, sorted(KNOWN_KEYS))}; "
                    "gcloud app deploy rejects the file.",
                    f"Remove {name!r} or correct its spelling.",
                    "unknown-key",
                )
            )
    return found


def _use_runtime() -> str:
    ga = [name for name in FRAMEWORK_RUNTIMES if getattr(runtime_info(name), "stage", "") == "ga"]
    others = [name for name in FRAMEWORK_RUNTIMES if name != ga[-1]]
    return f"Use 'runtime: {ga[-1]}' (or {', '.join(others)})."


def _runtime(ctx: AppYamlContext) -> list[Finding]:
    node = ctx.app.get("runtime")
    runtime = text(node)
    env = ctx.app.text("env")
    found = []
    if env in {"flex", "flexible"}:
        found.append(
            ctx.finding(
                ctx.app.get("env"),
                "error",
                "env: flex selects the flexible environment, but this project is set up "
                "for the standard environment (instance classes, warmup, static handlers).",
                "Remove the 'env' line.",
                "runtime",
            )
        )
    if runtime is None:
        found.append(
            ctx.finding(node or 1, "error", "app.yaml has no 'runtime'.", _use_runtime(), "runtime")
        )
    elif runtime in RETIRED_RUNTIMES:
        found.append(
            ctx.finding(
                node,
                "error",
                f"runtime {runtime!r} has reached end of support on App Engine and this "
                "framework needs Python 3.11 or newer.",
                _use_runtime(),
                "runtime",
            )
        )
    elif runtime not in RUNTIMES:
        found.append(
            ctx.finding(
                node,
                "error",
                f"runtime {runtime!r} is not a Python runtime of the App Engine standard "
                f"environment{_close(runtime, FRAMEWORK_RUNTIMES)}.",
                f"Use one of {', '.join(FRAMEWORK_RUNTIMES)}.",
                "runtime",
            )
        )
    elif runtime not in FRAMEWORK_RUNTIMES:
        found.append(
            ctx.finding(
                node,
                "error",
                f"runtime {runtime!r} runs Python {runtime[6]}.{runtime[7:]}, but this "
                "framework needs Python 3.11 or newer.",
                _use_runtime(),
                "runtime",
            )
        )
    return found


def _scaling(ctx: AppYamlContext) -> list[Finding]:
    found = []
    kinds = [k for k in ("automatic", "basic", "manual") if ctx.app.get(f"{k}_scaling")]
    if len(kinds) > 1:
        found.append(
            ctx.finding(
                ctx.app.key_line(f"{kinds[1]}_scaling"),
                "error",
                f"app.yaml sets more than one scaling type ({', '.join(kinds)}); a service "
                "has exactly one.",
                f"Keep one of {', '.join(k + '_scaling' for k in kinds)} and remove the others.",
                "scaling",
            )
        )
    kind, settings = ctx.scaling
    node = ctx.app.get("instance_class")
    instance_class = text(node)
    valid = INSTANCE_CLASSES[kind]
    if instance_class is not None and instance_class not in valid:
        other = "basic_scaling or manual_scaling" if kind == "automatic" else "automatic_scaling"
        also_valid = instance_class in F_CLASSES or instance_class in B_CLASSES
        hint = f"; {instance_class} needs {other}" if also_valid else ""
        found.append(
            ctx.finding(
                node,
                "error",
                f"instance_class {instance_class!r} is not valid with {kind} scaling{hint}"
                f"{_close(instance_class, list(valid))}.",
                f"Use one of {', '.join(valid)} for {kind} scaling.",
                "instance-class",
            )
        )
    if kind == "automatic":
        found += _automatic_scaling(ctx, settings)
    return found


def _automatic_scaling(ctx: AppYamlContext, settings: yaml.Node | None) -> list[Finding]:
    found = []
    if settings is None or get(settings, "max_instances") is None:
        found.append(
            ctx.finding(
                ctx.app.key_line("automatic_scaling") or ctx.app.key_line("runtime"),
                "warning",
                "automatic scaling has no max_instances, so App Engine may start up to 20 "
                "instances and bill for them.",
                "Add 'automatic_scaling: {max_instances: N}' with the ceiling you can afford.",
                "scaling-limit",
            )
        )
    low, high = get(settings, "min_instances"), get(settings, "max_instances")
    n_low, n_high = number(low), number(high)
    if n_low is not None and n_high and n_low > n_high:
        found.append(
            ctx.finding(
                low,
                "error",
                f"min_instances ({n_low:g}) is larger than max_instances ({n_high:g}).",
                "Make min_instances at most max_instances.",
                "scaling",
            )
        )
    cpu = get(settings, "target_cpu_utilization")
    if (value := number(cpu)) is not None and not 0.5 <= value <= 0.95:
        found.append(
            ctx.finding(
                cpu,
                "error",
                f"target_cpu_utilization {value:g} is outside App Engine's range 0.5-0.95.",
                "Use a value between 0.5 and 0.95 (0.65 is a good start).",
                "scaling",
            )
        )
    concurrency = get(settings, "max_concurrent_requests")
    if (value := number(concurrency)) is not None and not 1 <= value <= 1000:
        found.append(
            ctx.finding(
                concurrency,
                "error",
                f"max_concurrent_requests {value:g} is outside App Engine's range 1-1000.",
                "Use a value between 1 and 1000: the requests one instance serves at once.",
                "scaling",
            )
        )
    return found


def _handlers(ctx: AppYamlContext) -> list[Finding]:
    found = []
    for handler in items(ctx.app.get("handlers")):
        url = text(get(handler, "url")) or "?"
        static_dir = get(handler, "static_dir")
        if text(static_dir) is not None:
            folder = ctx.root / str(text(static_dir))
            if not folder.is_dir():
                found.append(
                    ctx.finding(
                        static_dir,
                        "error",
                        f"The static_dir {text(static_dir)!r} of handler {url!r} does not "
                        "exist, so every request to it is a 404.",
                        "Create the folder or correct the path (relative to app.yaml).",
                        "static-path",
                    )
                )
        upload = get(handler, "upload")
        if text(get(handler, "static_files")) is not None and upload is not None:
            found += _static_files(ctx, upload, url)
        script = get(handler, "script")
        if text(script) not in {None, "auto"}:
            found.append(
                ctx.finding(
                    script,
                    "error",
                    f"Handler {url!r} names script {text(script)!r}; Python 3 runtimes only "
                    "accept 'script: auto' (the entrypoint serves every dynamic request).",
                    "Use 'script: auto'.",
                    "handler-script",
                )
            )
        login = get(handler, "login")
        if login is not None:
            found.append(
                ctx.finding(
                    login,
                    "error",
                    f"Handler {url!r} uses 'login', which Python 3 runtimes do not support.",
                    "Remove 'login' and check access in the app (or use Identity-Aware Proxy).",
                    "handler-login",
                )
            )
        if text(get(handler, "secure")) != "always":
            found.append(
                ctx.finding(
                    handler,
                    "warning",
                    f"Handler {url!r} also answers plain HTTP.",
                    "Add 'secure: always' so App Engine redirects HTTP to HTTPS.",
                    "handler-secure",
                )
            )
    return found


def _static_files(ctx: AppYamlContext, upload: yaml.Node, url: str) -> list[Finding]:
    pattern = str(text(upload))
    try:
        regex = re.compile(pattern)
    except re.error as error:
        return [
            ctx.finding(
                upload,
                "error",
                f"The upload pattern {pattern!r} of handler {url!r} is not a valid regular "
                f"expression ({error}).",
                "Correct the pattern, e.g. 'static/.*'.",
                "static-path",
            )
        ]
    prefix = re.split(r"[\\(.*+?\[]", pattern, maxsplit=1)[0].rsplit("/", 1)[0]
    start = ctx.root / prefix if prefix else ctx.root
    if start.is_dir():
        for path in start.rglob("*"):
            if path.is_file() and regex.fullmatch(path.relative_to(ctx.root).as_posix()):
                return []
    return [
        ctx.finding(
            upload,
            "error",
            f"The upload pattern {pattern!r} of handler {url!r} matches no file in the "
            "project, so its static files are missing after deploy.",
            "Correct the pattern or add the files (paths are relative to app.yaml).",
            "static-path",
        )
    ]


def _env_variables(ctx: AppYamlContext) -> list[Finding]:
    found = []
    for name, key_node, value_node in pairs(ctx.app.get("env_variables")):
        value = text(value_node) or ""
        if _RESERVED_ENV.match(name):
            found.append(
                ctx.finding(
                    key_node,
                    "error",
                    f"env_variables sets {name}, which App Engine sets itself.",
                    f"Remove {name} from env_variables.",
                    "env-reserved",
                )
            )
            continue
        reason = _secret_reason(name, value)
        if reason == _BY_NAME and looks_like_placeholder(value):
            # A placeholder is no leaked secret, but it is not harmless either: the
            # variable wins over Secret Manager (load_secret_key reads it first), so the
            # app runs with this value. gae.wrap refuses a placeholder SECRET_KEY and the
            # app does not start: that stays an error.
            refused = name in {"SECRET_KEY", "SECRET_KEY_FALLBACKS"} and ctx.uses_gae_wrap
            found.append(
                ctx.finding(
                    value_node,
                    "error" if refused else "warning",
                    f"env_variables.{name} holds a placeholder ({value!r}); the app runs "
                    "with it on App Engine"
                    + (
                        ", and gae.wrap refuses to start with a placeholder SECRET_KEY."
                        if refused
                        else " instead of the real value."
                    ),
                    f"Remove {name} from app.yaml and load the real value from Secret "
                    "Manager (gae.secret_manager.load_secret_key).",
                    "env-secret",
                )
            )
            continue
        if reason:
            found.append(
                ctx.finding(
                    value_node,
                    "error",
                    f"env_variables.{name} looks like a secret ({reason}); app.yaml is "
                    "committed and uploaded in clear text.",
                    f"Remove the value and keep {name} in Secret Manager (or another "
                    "uncommitted source); rotate it if it was ever committed.",
                    "env-secret",
                )
            )
    return found


_BY_NAME = "its name says so"
_PLACEHOLDER = re.compile(
    r"(<[^>]*>|\$\{?[A-Za-z_]\w*\}?|x{3,}|\*{3,}|\.{3}|_+|-+|"
    r"(change|replace|fill|set|put)[-_ ]?(me|this|it|in|later)?\b.*|"
    r"(your|my)[-_ ].*|"
    r"todo|tbd|fixme|placeholder|dummy|example|sample|none|null|empty|unset|redacted|"
    r"secret|password|passwd|token|key|dev|development|test|testing|fake|insecure)",
    re.IGNORECASE,
)


def looks_like_placeholder(value: str) -> bool:
    """Whether ``value`` is a stand-in for a secret (``changeme``, ``<token>``, ``xxx``,
    ``${DB_PASSWORD}``), not a real one."""
    from gae.wsgi import PLACEHOLDER_SECRETS

    stripped = value.strip()
    return stripped.lower() in PLACEHOLDER_SECRETS or bool(_PLACEHOLDER.fullmatch(stripped))


def _secret_reason(name: str, value: str) -> str | None:
    if not value or _SECRET_REFERENCE.match(value):
        return None
    for pattern, what in _SECRET_VALUES:
        if pattern.search(value):
            return f"the value contains {what}"
    if _SECRET_KEY_NAME.search(name) and not _NOT_A_SECRET_NAME.search(name):
        return _BY_NAME
    if _looks_random(value):
        return "the value is a long random string"
    return None


def _looks_random(value: str) -> bool:
    if len(value) < 32 or not re.fullmatch(r"[A-Za-z0-9+/=_-]+", value):
        return False
    if not (re.search(r"[0-9]", value) and re.search(r"[A-Za-z]", value)):
        return False
    counts = {char: value.count(char) for char in set(value)}
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy > 3.5


def _inbound_services(ctx: AppYamlContext) -> list[Finding]:
    services = {text(node) for node in items(ctx.app.get("inbound_services"))}
    # Only gae.wrap answers /_ah/warmup; for another app, warmup requests would be 404s.
    if ctx.scaling[0] == "automatic" and "warmup" not in services and ctx.uses_gae_wrap:
        return [
            ctx.finding(
                ctx.app.key_line("inbound_services") or ctx.app.key_line("runtime"),
                "warning",
                "Warmup requests are off, so a new instance loads the app while a user waits.",
                "Add 'inbound_services: [warmup]' (gae.wrap answers /_ah/warmup).",
                "warmup",
            )
        ]
    return []
