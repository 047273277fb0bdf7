"""One frozen Config, built once from flags > environment > .env file > defaults (CONTRACT §2)."""

from __future__ import annotations

import base64
import importlib.util
import ipaddress
import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dalleserver.costs.budget import ACCEPTED_FORM as BUDGET_FORM
from dalleserver.costs.budget import BudgetSpec, parse_budget
from dalleserver.costs.catalog import ImageOptions, OptionError, resolve_image_options
from dalleserver.costs.prices import PriceError, PriceTable, load_price_table, missing_price
from dalleserver.durations import ACCEPTED_FORM as DURATION_FORM
from dalleserver.durations import parse_duration

IMAGE_BACKENDS = ("auto", "openai", "local", "none")
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
# Never printed: describe() says set/unset, and a bad value is not repeated in the error.
SECRET_SETTINGS = ("openai_api_key", "admin_token", "rpc_url", "webhook_secret", "redis_url")


class ConfigError(Exception):
    """An invalid configuration value; the message names the flag or variable and the form."""


@dataclass(frozen=True)
class Setting:
    attr: str
    env: str | None
    flag: str | None
    default: Any
    parse: Callable[[str], Any]
    form: str
    help: str = ""  # the flag's one-line help (settings with a flag)


def _parse_int(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text.strip(), 10)
        if not low <= value <= high:
            raise ValueError(text)
        return value

    return parse


def _parse_positive_duration(text: str) -> float:
    value = parse_duration(text)
    if value <= 0:
        raise ValueError(text)
    return value


# The spellings of yes and no, for settings and for query flags alike.
TRUE_WORDS = frozenset(("1", "true", "yes", "on"))
FALSE_WORDS = frozenset(("0", "false", "no", "off"))


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ValueError(text)


def _parse_choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(text)
        return value

    return parse


def _parse_url(text: str) -> str:
    value = text.strip()
    if not (value.startswith("http://") or value.startswith("https://")) or len(value) < 10:
        raise ValueError(text)
    return value.rstrip("/")


def _parse_rpc_url(text: str) -> str:
    """An http(s) URL with a host, kept whole: node providers put the API key in the path."""
    value = text.strip()
    if not value.isascii() or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError("spaces, control or non-ASCII characters")
    parts = urllib.parse.urlsplit(value)
    # .port raises ValueError for a port that is not a number from 0 to 65535
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.port == 0:
        raise ValueError("not an http:// or https:// URL")
    return value


REDIS_SCHEMES = ("redis", "rediss", "unix")


def _parse_redis_url(text: str) -> str:
    """A Redis or Valkey URL (redis://, rediss:// or unix://), kept whole: it may hold a
    password."""
    value = text.strip()
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in REDIS_SCHEMES or not (parts.hostname or parts.path):
        raise ValueError("not a redis://, rediss:// or unix:// URL")
    if parts.scheme != "unix" and parts.port == 0:
        raise ValueError("port 0")
    return value


def _parse_instance(text: str) -> str:
    """A name for this instance: printable, no spaces (it is a metric label and a Redis
    consumer name)."""
    value = text.strip()
    if not 1 <= len(value) <= 100 or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ValueError(text)
    return value


def _parse_text(text: str) -> str:
    return text.strip()


def _parse_float(text: str) -> float:
    return float(text.strip())


def _parse_host(text: str) -> str:
    value = text.strip()
    if not value or any(ch.isspace() for ch in value) or "/" in value:
        raise ValueError(text)
    return value


def _parse_proxies(text: str) -> tuple[str, ...]:
    items = [part.strip() for part in text.split(",") if part.strip()]
    for item in items:
        ipaddress.ip_network(item, strict=False)
    return tuple(items)


def _parse_origins(text: str) -> tuple[str, ...]:
    """Web origins (scheme://host[:port], no path) or ``*``."""
    origins = []
    for item in (part.strip().rstrip("/") for part in text.split(",")):
        if not item:
            continue
        if item != "*":
            scheme, sep, rest = item.partition("://")
            if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
                raise ValueError(item)
        origins.append(item)
    return tuple(origins)


def _parse_hosts(text: str) -> tuple[str, ...]:
    """Host names or IP addresses, each with an optional port (``[::1]:9000`` for IPv6),
    lower-cased: the hosts webhooks may be sent to."""
    hosts = []
    for item in (part.strip().lower() for part in text.split(",")):
        if not item:
            continue
        parts = urllib.parse.urlsplit(f"//{item}")
        # .port raises ValueError for a port that is not a number from 0 to 65535
        if (not parts.hostname or parts.username is not None or parts.path or parts.port == 0
                or any(ch.isspace() for ch in item)):
            raise ValueError(item)
        hosts.append(item)
    return tuple(hosts)


WEBHOOK_SECRET_FORM = "whsec_ followed by the base64 of 24 to 64 random bytes"


def _parse_webhook_secret(text: str) -> bytes:
    """The signing key of a Standard Webhooks secret (``whsec_`` + base64, the prefix
    optional, as the Standard Webhooks libraries read it)."""
    value = text.strip().removeprefix("whsec_")
    key = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    if not 24 <= len(key) <= 64:
        raise ValueError("length")
    return key


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/trueblocks/dalle``, else ``~/.local/share/trueblocks/dalle``."""
    xdg = environ.get("XDG_DATA_HOME", "").strip()
    if xdg:
        return Path(xdg).expanduser() / "trueblocks" / "dalle"
    home = environ.get("HOME", "").strip() or os.path.expanduser("~")
    # without HOME and without a passwd entry expanduser gives "~" back: the data would land
    # in a literal ./~ under the working directory (a service with no home, a bare container)
    if not os.path.isabs(home):
        raise ConfigError("no data dir: HOME is not set and this user has no home directory; "
                          "pass --data-dir or set TB_DALLE_DATA_DIR")
    return Path(home) / ".local" / "share" / "trueblocks" / "dalle"


def _parse_path(text: str) -> Path:
    value = text.strip()
    if not value or "\x00" in value:
        raise ValueError(text)
    return Path(os.path.abspath(os.path.expanduser(value)))


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "TB_DALLE_HOST", "--host", "127.0.0.1", _parse_host,
            "a host name or IP address such as 127.0.0.1 or 0.0.0.0", "listen address"),
    Setting("port", "TB_DALLE_PORT", "--port", 8080, _parse_int(0, 65535),
            "an integer port between 0 and 65535", "listen port, 0 picks a free one"),
    Setting("data_dir", "TB_DALLE_DATA_DIR", "--data-dir", None, _parse_path, "a directory path",
            "data directory"),
    Setting("lock_ttl", "TB_DALLE_LOCK_TTL", "--lock-ttl", 300.0, _parse_positive_duration,
            "a positive " + DURATION_FORM, "lock lifetime of a crashed generation"),
    Setting("workers", "TB_DALLE_WORKERS", "--workers", 2, _parse_int(1, 64),
            "an integer between 1 and 64", "generations running at once"),
    Setting("queue_size", "TB_DALLE_QUEUE_SIZE", "--queue-size", 64, _parse_int(1, 100_000),
            "an integer between 1 and 100000", "generations waiting"),
    Setting("image_backend", "TB_DALLE_IMAGE_BACKEND", "--image-backend", "auto",
            _parse_choice(IMAGE_BACKENDS), "one of " + ", ".join(IMAGE_BACKENDS),
            "auto, openai, local or none"),
    Setting("skip_image", "TB_DALLE_SKIP_IMAGE", None, False, _parse_bool, "1 or 0"),
    Setting("no_enhance", "TB_DALLE_NO_ENHANCE", None, False, _parse_bool, "1 or 0"),
    Setting("openai_api_key", "OPENAI_API_KEY", None, "", _parse_text, "an API key"),
    Setting("openai_base_url", "OPENAI_BASE_URL", None, "https://api.openai.com/v1", _parse_url,
            "an http:// or https:// URL"),
    Setting("enhancement_url", "TB_DALLE_ENHANCEMENT_URL", None, "", _parse_url,
            "an http:// or https:// URL"),
    Setting("image_url", "TB_DALLE_IMAGE_URL", None, "", _parse_url,
            "an http:// or https:// URL"),
    Setting("rpc_url", "TB_DALLE_RPC_URL", "--rpc-url", "", _parse_rpc_url,
            "the http:// or https:// URL of an Ethereum JSON-RPC node",
            "Ethereum JSON-RPC URL, for ENS names"),
    Setting("enhancement_model", "TB_DALLE_ENHANCEMENT_MODEL", None, "gpt-5.5", _parse_text,
            "a model name"),
    Setting("enhancement_timeout", "TB_DALLE_ENHANCEMENT_TIMEOUT", None, 60.0,
            _parse_positive_duration, "a positive " + DURATION_FORM),
    Setting("enhancement_seed", "TB_DALLE_ENHANCEMENT_SEED", None, 1337,
            _parse_int(-(2**63), 2**63 - 1), "an integer"),
    Setting("enhancement_temperature", "TB_DALLE_ENHANCEMENT_TEMPERATURE", None, 0.2,
            _parse_float, "a number such as 0.2"),
    Setting("image_model", "TB_DALLE_IMAGE_MODEL", None, "gpt-image-2", _parse_text,
            "a model name"),
    # "": what the original sends for the model (high for gpt-image-2, hd for dall-e-3)
    Setting("image_quality", "TB_DALLE_IMAGE_QUALITY", None, "", _parse_text,
            "a quality the image model takes, such as low, medium, high or hd"),
    Setting("image_style", "TB_DALLE_IMAGE_STYLE", None, "", _parse_text,
            "a style such as vivid or natural"),
    Setting("image_size", "TB_DALLE_IMAGE_SIZE", None, "", _parse_text,
            "a size the image model takes, such as 1024x1024 or auto"),
    Setting("image_format", "TB_DALLE_IMAGE_FORMAT", None, "", _parse_text,
            "an output format the image model takes: png, jpeg or webp"),
    Setting("price_table", "TB_DALLE_PRICE_TABLE", None, None, _parse_path,
            "the path of a JSON price table"),
    Setting("budget", "TB_DALLE_BUDGET", None, None, parse_budget, BUDGET_FORM),
    Setting("budget_fallback", "TB_DALLE_BUDGET_FALLBACK", None, "none",
            _parse_choice(("none", "local")), "none or local"),
    Setting("image_timeout", "TB_DALLE_IMAGE_TIMEOUT", None, 300.0, _parse_positive_duration,
            "a positive " + DURATION_FORM),
    Setting("breaker_failures", "TB_DALLE_BREAKER_FAILURES", None, 5, _parse_int(1, 1000),
            "consecutive failures that open a breaker, an integer from 1 to 1000"),
    Setting("breaker_reset", "TB_DALLE_BREAKER_RESET", None, 30.0, _parse_positive_duration,
            "how long an open breaker fails fast, a positive " + DURATION_FORM),
    Setting("breaker_successes", "TB_DALLE_BREAKER_SUCCESSES", None, 2, _parse_int(1, 100),
            "half-open successes that close a breaker, an integer from 1 to 100"),
    Setting("admin_token", "TB_DALLE_ADMIN_TOKEN", "--admin-token", "", _parse_text, "a token",
            "bearer token for destructive requests"),
    Setting("trusted_proxies", "TB_DALLE_TRUSTED_PROXIES", None, (), _parse_proxies,
            "a comma-separated list of IP addresses or CIDR networks"),
    Setting("rate_limit", "TB_DALLE_RATE_LIMIT", None, 30, _parse_int(0, 1_000_000),
            "generation triggers per client per minute, an integer (0 disables)"),
    Setting("max_connections", "TB_DALLE_MAX_CONNECTIONS", None, 512, _parse_int(1, 100_000),
            "an integer between 1 and 100000"),
    Setting("max_connections_per_client", "TB_DALLE_MAX_CONNECTIONS_PER_CLIENT", None, 128,
            _parse_int(0, 100_000), "connections one client address may hold, an integer "
            "from 0 to 100000 (0: no limit; trusted proxies are not limited)"),
    Setting("rate_limit_exempt_admin", "TB_DALLE_RATE_LIMIT_EXEMPT_ADMIN", None, False,
            _parse_bool, "1 or 0: triggers with the admin token skip the rate limit"),
    Setting("cors_origins", "TB_DALLE_CORS_ORIGINS", None, (), _parse_origins,
            "a comma-separated list of origins such as https://app.example (or * for reads "
            "from any page)"),
    Setting("progress_retention", "TB_DALLE_PROGRESS_RETENTION", None, 600.0,
            _parse_positive_duration, "how long a finished run's progress stays readable, "
            "a positive " + DURATION_FORM),
    Setting("progress_memory_mb", "TB_DALLE_PROGRESS_MEMORY_MB", None, 64,
            _parse_int(1, 65536), "megabytes that finished runs' progress may take before "
            "the oldest go early, an integer from 1 to 65536"),
    Setting("http_threads", "TB_DALLE_HTTP_THREADS", None, 8, _parse_int(1, 256),
            "most threads answering HTTP requests (one runs, more join while it is "
            "blocked), an integer from 1 to 256"),
    Setting("variant_cache_mb", "TB_DALLE_VARIANT_CACHE_MB", None, 512,
            _parse_int(1, 1_048_576), "megabytes the cache of image variants and thumbnails "
            "may keep, an integer from 1 to 1048576"),
    Setting("webhook_hosts", "TB_DALLE_WEBHOOK_HOSTS", None, (), _parse_hosts,
            "a comma-separated list of host names or IP addresses, each with an optional "
            ":port"),
    Setting("webhook_secret", "TB_DALLE_WEBHOOK_SECRET", None, b"", _parse_webhook_secret,
            WEBHOOK_SECRET_FORM),
    Setting("webhook_deadline", "TB_DALLE_WEBHOOK_DEADLINE", None, 900.0,
            _parse_positive_duration, "how long a webhook is retried, a positive "
            + DURATION_FORM),
    Setting("redis_url", "TB_DALLE_REDIS_URL", "--redis-url", "", _parse_redis_url,
            "a redis://, rediss:// or unix:// URL of Redis or Valkey",
            "cluster mode: coordinate instances through this Redis or Valkey"),
    Setting("redis_prefix", "TB_DALLE_REDIS_PREFIX", None, "dalle", _parse_instance,
            "a name without spaces that prefixes every Redis key of this deployment"),
    Setting("instance", "TB_DALLE_INSTANCE", "--instance", "", _parse_instance,
            "a name without spaces, 1 to 100 characters",
            "this instance's name in cluster mode (default host:port)"),
    Setting("reclaim_after", "TB_DALLE_RECLAIM_AFTER", None, 30.0, _parse_positive_duration,
            "how long a stopped instance's generations wait before another takes them "
            "over, a positive " + DURATION_FORM),
    Setting("batch_max", "TB_DALLE_BATCH_MAX", None, 10_000, _parse_int(1, 1_000_000),
            "the most items one batch (POST /v1/batches) may have, an integer from 1 to "
            "1000000"),
    Setting("log_level", "TB_DALLE_LOG_LEVEL", "--log-level", "info", _parse_choice(LOG_LEVELS),
            "one of " + ", ".join(LOG_LEVELS), "debug, info, warning or error"),
    Setting("log_format", "TB_DALLE_LOG_FORMAT", "--log-format", "text",
            _parse_choice(LOG_FORMATS), "one of " + ", ".join(LOG_FORMATS), "text or json"),
)


@dataclass(frozen=True)
class Config:
    host: str
    port: int
    data_dir: Path
    lock_ttl: float
    workers: int
    queue_size: int
    image_backend: str  # resolved: openai, local or none
    image_backend_setting: str  # as configured: auto, openai, local or none
    skip_image: bool
    no_enhance: bool
    openai_api_key: str = field(repr=False)
    openai_base_url: str
    enhancement_url: str
    image_url: str
    rpc_url: str = field(repr=False)  # may hold a node provider's API key
    enhancement_model: str
    enhancement_timeout: float
    enhancement_seed: int
    enhancement_temperature: float
    image_model: str
    image_quality: str
    image_style: str
    image_size: str
    image_format: str
    price_table: Path | None
    budget: BudgetSpec | None
    budget_fallback: str
    image_timeout: float
    breaker_failures: int
    breaker_reset: float
    breaker_successes: int
    admin_token: str = field(repr=False)
    trusted_proxies: tuple[str, ...]
    rate_limit: int
    max_connections: int
    max_connections_per_client: int
    rate_limit_exempt_admin: bool
    cors_origins: tuple[str, ...]
    progress_retention: float
    progress_memory_mb: int
    http_threads: int
    variant_cache_mb: int
    webhook_hosts: tuple[str, ...]
    webhook_secret: bytes = field(repr=False)
    webhook_deadline: float
    redis_url: str = field(repr=False)  # may hold a password
    redis_prefix: str
    instance: str
    reclaim_after: float
    batch_max: int
    log_level: str
    log_format: str
    env_file: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    prices: PriceTable = field(default_factory=PriceTable, repr=False, compare=False)

    @property
    def has_api_key(self) -> bool:
        return bool(self.openai_api_key)

    @property
    def enhance_enabled(self) -> bool:
        return self.has_api_key and not self.no_enhance

    @property
    def chat_completions_url(self) -> str:
        return self.enhancement_url or f"{self.openai_base_url}/chat/completions"

    @property
    def image_options(self) -> ImageOptions:
        """The image request's model, quality, size, output format and style."""
        return ImageOptions(self.image_model, self.image_quality, self.image_size,
                            self.image_format, self.image_style)

    @property
    def image_generations_url(self) -> str:
        return self.image_url or f"{self.openai_base_url}/images/generations"

    def describe(self) -> dict[str, Any]:
        """A printable view with secrets masked."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("sources", "prices"):
                continue
            value = getattr(self, f.name)
            if f.name in SECRET_SETTINGS:
                value = "set" if value else "unset"
            elif isinstance(value, Path):
                value = str(value)
            out[f.name] = value
        return out


def read_env_file(path: Path | None, *, required: bool) -> dict[str, str]:
    """Values from a .env file (python-dotenv), without touching ``os.environ``."""
    if path is None:
        return {}
    if not path.is_file():
        if required:
            raise ConfigError(f"--env-file: {path} is not a readable file")
        return {}
    from dotenv import dotenv_values

    try:
        values = dotenv_values(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--env-file: cannot read {path}: {exc}") from exc
    return {k: v for k, v in values.items() if v is not None}


def _cost_settings(values: dict[str, Any], sources: Mapping[str, str],
                   paid_images: bool) -> dict[str, Any]:
    """The image options checked against the model (the original's default quality
    filled in) and the price table; a budget in dollars needs a price for what it pays."""
    try:
        options = resolve_image_options(values["image_model"], values["image_quality"],
                                        values["image_size"], values["image_format"],
                                        values["image_style"])
    except OptionError as exc:
        raise ConfigError(f"{sources[exc.setting]}: {exc}") from None
    prices = PriceTable()
    if values["price_table"] is not None:
        try:
            prices = load_price_table(values["price_table"])
        except PriceError as exc:
            raise ConfigError(f"{sources['price_table']}: {exc}") from None
    budget = values["budget"]
    if budget is not None and budget.unit == "dollars" and values["openai_api_key"]:
        enhance = not values["no_enhance"]
        missing = missing_price(prices, options if paid_images else None,
                                values["enhancement_model"] if enhance else None)
        if missing:
            raise ConfigError(f"{sources['budget']}: a budget in dollars needs the price of "
                              f"{missing}; add it with TB_DALLE_PRICE_TABLE")
    return {"image_quality": options.quality, "image_size": options.size,
            "image_format": options.output_format, "image_style": options.style,
            "prices": prices}


def load_config(
    flags: Mapping[str, str | None] | None = None,
    environ: Mapping[str, str] | None = None,
    env_file: str | None = None,
    cwd: Path | None = None,
) -> Config:
    """Build the Config. ``flags`` maps attribute names to raw flag strings (None = not given)."""
    flags = dict(flags or {})
    environ = dict(os.environ if environ is None else environ)
    if env_file:
        env_path: Path | None = Path(env_file).expanduser()
        file_values = read_env_file(env_path, required=True)
    else:
        env_path = (cwd or Path.cwd()) / ".env"
        if not env_path.is_file():
            env_path = None
        file_values = read_env_file(env_path, required=False)

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        raw: str | None = None
        where = "default"
        given = flags.get(setting.attr)
        if setting.flag and given is not None:
            raw, where = given, setting.flag
        elif setting.env and environ.get(setting.env, "").strip() != "":
            raw, where = environ[setting.env], setting.env
        elif setting.env and file_values.get(setting.env, "").strip() != "":
            raw, where = file_values[setting.env], f"{setting.env} (from {env_path})"
        if raw is None:
            values[setting.attr] = setting.default
        else:
            try:
                values[setting.attr] = setting.parse(raw)
            except (ValueError, TypeError):
                shown = "(not shown)" if setting.attr in SECRET_SETTINGS else repr(raw)
                raise ConfigError(
                    f"{where}: invalid value {shown}; expected {setting.form}"
                ) from None
        sources[setting.attr] = where

    if values["data_dir"] is None:
        merged = {**file_values, **environ}
        values["data_dir"] = Path(os.path.abspath(default_data_dir(merged)))

    configured = values["image_backend"]
    if values["skip_image"] and sources["image_backend"] != "--image-backend":
        configured = "none"
    if configured == "openai" and not values["openai_api_key"]:
        raise ConfigError(
            f"{sources['image_backend']}: the openai image backend needs OPENAI_API_KEY; "
            "set it or use --image-backend local"
        )
    if configured == "auto":
        resolved = "openai" if values["openai_api_key"] else "local"
    else:
        resolved = configured

    values.update(_cost_settings(values, sources, paid_images=resolved == "openai"))
    if values["redis_url"] and importlib.util.find_spec("redis") is None:
        raise ConfigError(f"{sources['redis_url']}: cluster mode needs the redis client "
                          "library: pip install 'dalleserver[cluster]'")
    if values["webhook_hosts"] and not values["webhook_secret"]:
        raise ConfigError(f"{sources['webhook_hosts']}: webhooks are signed: set "
                          f"TB_DALLE_WEBHOOK_SECRET too ({WEBHOOK_SECRET_FORM})")
    return Config(
        image_backend=resolved,
        image_backend_setting=configured,
        env_file=env_path,
        sources=sources,
        **{k: v for k, v in values.items() if k != "image_backend"},
    )
