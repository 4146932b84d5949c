"""Settings: one object, built once at the edge (CLI / app factory) and passed down. Never a global."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from huoli.crypto import generate_key
from huoli.fileperms import create_private
from huoli.schedules import cron
from huoli.timeutil import check_timezone


class Settings(BaseSettings):
    """Read from `HUOLI_*` environment variables, then `huoli.toml` in the working directory, then defaults."""

    model_config = SettingsConfigDict(env_prefix="HUOLI_", toml_file="huoli.toml", extra="forbid")

    data_dir: Path = Field(
        Path("var"),
        description="Where the embedded stores, backups and generated secrets live; relative: to the working "
        "directory (each checkout has its own).",
    )
    database_url: str = Field(
        "",
        description="Operational DB. Default sqlite:///<data_dir>/huoli.db; postgresql+psycopg://… supported.",
    )
    event_store_url: str = Field(
        "",
        description="Event store. Default duckdb:///<data_dir>/events.duckdb; read like SQLAlchemy's sqlite:// "
        "URLs: duckdb:///relative/path (three slashes), duckdb:////absolute/path (four), duckdb:///:memory: for "
        "tests; clickhouse://user:password@host:8123/database?secure=0 for ClickHouse (docs/events.md).",
    )
    timezone: str = Field("Asia/Shanghai", description="Default app timezone for local days.")
    duckdb_threads: int | None = Field(
        None, ge=1, le=256, description="DuckDB worker threads (default: all cores; 1 leaves a core to HTTP)."
    )
    secret_key: str = Field(
        "", description="Signs session tokens. Generated into <data_dir>/secret_key if empty."
    )
    encryption_keys: str = Field(
        "",
        description="Comma-separated AES-256 keys (base64url, `huoli secrets generate-key`), newest first: secrets "
        "at rest are encrypted with the first and decrypted with any. Generated into <data_dir>/encryption_key "
        "(one key a line) if empty. Rotation: docs/reliability.md#secrets.",
    )
    revocation_cache_ttl_s: float = Field(
        2.0,
        gt=0,
        le=60,
        description="How stale a process's copy of the revoked session tokens may be: a logout or an operator's "
        "revocation reaches every process within this many seconds, at one database read per process per TTL.",
    )
    wechat_api_base: str = Field("https://api.weixin.qq.com", description="WeChat API base URL.")
    host: str = "127.0.0.1"
    port: int = 8000
    database_pool_size: int = Field(
        20,
        ge=2,
        le=500,
        description="PostgreSQL connections each process keeps open; its request threads are capped to the same "
        "number, so a burst waits for a pooled connection instead of opening and closing extra ones.",
    )
    hot_routes_on_loop: bool | None = Field(
        None,
        description="Run the hot routes' short units of work (check-in, points earn, coupon lock, flash-sale "
        "attempt) on the event loop instead of a request thread: no thread hop or GIL contention, one at a time "
        "per process, so serve with several processes (--workers). Default: on with PostgreSQL, off with SQLite "
        "(whose file lock can make a write wait up to the busy timeout, which would stall the whole process).",
    )
    db_lock_timeout_ms: int = Field(
        10_000,
        ge=1,
        le=600_000,
        description="Longest wait for a row or table lock before the statement fails (PostgreSQL lock_timeout; "
        "SQLite busy timeout): the request answers 503 busy instead of waiting without a bound.",
    )
    db_statement_timeout_ms: int = Field(
        60_000,
        ge=1,
        description="PostgreSQL statement_timeout for request and job statements (migrations: none).",
    )
    db_idle_in_transaction_timeout_ms: int = Field(
        60_000,
        ge=1,
        description="PostgreSQL idle_in_transaction_session_timeout: a transaction left open this long is ended "
        "by the server, so a stuck caller can't hold its locks for good.",
    )
    hot_loop_lock_timeout_ms: int = Field(
        50,
        ge=1,
        le=5_000,
        description="On the event loop (hot_routes_on_loop) a hot unit of work waits at most this long for a "
        "lock; then it is rolled back and run again on a request thread, so a lock never stalls the loop.",
    )
    hot_loop_statement_timeout_ms: int = Field(
        1_000,
        ge=1,
        le=60_000,
        description="statement_timeout of the hot units of work run on the event loop.",
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="`huoli serve` processes: 1 primary (event store, analytics) + N-1 workers answering /v1/ "
        "(docs/architecture.md#processes). More than 1 is meant for PostgreSQL.",
    )
    max_batch_events: int = Field(500, ge=1, le=10_000)
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Largest event batch (/v1/events).")
    max_request_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest request body of every other route (413 above it)."
    )
    rate_limit_admin_per_key: float = Field(
        30, ge=0, description="Requests a second per operator API key on /admin (0: no limit); 429 above it."
    )
    rate_limit_admin_per_ip: float = Field(60, ge=0, description="Requests a second per client IP on /admin.")
    rate_limit_v1_per_ip: float = Field(
        200, ge=0, description="Requests a second per client IP on /v1 (mini-program and merchant calls)."
    )
    rate_limit_login_per_ip: float = Field(
        10,
        ge=0,
        description="Logins (POST /v1/auth/wechat) a second per client IP: public, with an app id only.",
    )
    rate_limit_burst_s: float = Field(
        10, gt=0, le=3600, description="A caller may spend this many seconds of its rate at once (a burst)."
    )
    rate_limit_redis_url: str | None = Field(
        None,
        description="Redis for rate-limit buckets shared by every process and machine "
        "(redis://127.0.0.1:6379/0); unset: each process counts alone.",
    )
    rate_limit_redis_prefix: str = Field(
        "huoli:rl:", description="Prefix of the bucket keys: give deployments that share a Redis their own."
    )
    rate_limit_exempt_ips: list[str] = Field(
        ["127.0.0.1", "::1"],
        description="Client addresses with no per-IP limit (this machine: health checks, benches). Behind a "
        "reverse proxy on this machine, uvicorn's proxy headers give the real client address instead.",
    )
    event_max_age: timedelta = Field(
        timedelta(days=7), description="Oldest accepted event ts (offline queues)."
    )
    event_max_future: timedelta = Field(
        timedelta(minutes=10), description="Client clock skew tolerated ahead."
    )
    session_ttl: timedelta = Field(timedelta(days=7), description="Lifetime of a mini-program session token.")
    signature_skew: timedelta = Field(timedelta(minutes=5), description="Server-to-server timestamp window.")
    event_retention_days: int = Field(
        0,
        ge=0,
        le=36_500,
        description="Keep events this many whole local days (the app's timezone) before today, then delete them "
        "and their analytics rollup rows (`huoli privacy retention`, daily). 0: keep forever (the default, so an "
        "upgrade never deletes history; set it to what your analyses need, e.g. 400). docs/reliability.md.",
    )
    wx_session_key_retention_days: int = Field(
        30,
        ge=0,
        le=36_500,
        description="Delete a user's WeChat session_key this many days after their last login refreshed it "
        "(`huoli privacy retention`): it only decrypts wx data shortly after a login. 0: keep until erasure.",
    )
    group_commit_max_events: int = Field(20_000, ge=1)
    group_commit_linger_ms: float = Field(2.0, ge=0, le=1000, description="Wait for more batches per commit.")
    outbox_relay_interval_s: float = Field(1.0, gt=0)
    console_dist: Path | None = Field(
        None,
        description="The built console (Vite's output; default: console/dist, which `make install` builds).",
    )
    wechatpay_api_v3_key: str = Field(
        "", description="WeChat Pay APIv3 key (32 bytes): decrypts refund notifications (docs/promotions.md)."
    )
    wechatpay_platform_key_file: Path | None = Field(
        None,
        description="WeChat Pay public key (微信支付公钥, PEM) or platform certificate: checks notifications.",
    )
    wechatpay_platform_serial: str = Field(
        "", description="Its id as sent in Wechatpay-Serial (PUB_KEY_ID_…)."
    )
    redis_url: str | None = Field(
        None, description="Optional Redis (redis://127.0.0.1:6379/0): flash-sale gate."
    )
    jobs_url: str = Field(
        "",
        description="Job queue storage (docs/architecture.md#jobs). Default sqlite:///<data_dir>/jobs.db: "
        "embedded, one machine; redis://host:6379/0 for `huoli worker` processes on several machines.",
    )
    jobs_embedded: bool = Field(
        True,
        description="`huoli serve` runs a job consumer (threads) itself; turn off when `huoli worker` processes "
        "run the jobs. Jobs that read the event store always run in `huoli serve`, which owns it.",
    )
    jobs_workers: int = Field(2, ge=1, le=64, description="Job threads per consumer (serve or worker).")
    jobs_lease_s: float = Field(
        60.0,
        ge=1,
        le=86_400,
        description="A running job renews its lease every third of this; a run whose worker died is taken "
        "over by another once its lease is this old.",
    )
    jobs_retry_backoff_s: float = Field(
        10.0, ge=0, le=3600, description="First retry delay of a failed job run; doubles per attempt (≤ 1 h)."
    )
    jobs_run_retention_days: int = Field(
        14, ge=1, le=3650, description="Job run records kept this many days (the jobs.prune-runs job)."
    )
    backup_schedule: str | None = Field(
        None,
        description="Crontab line (HUOLI_TIMEZONE) of the backup.create job, e.g. '0 3 * * *': an online backup "
        "of the embedded stores into <data_dir>/backups. Unset: no scheduled backups.",
    )
    backup_keep: int | None = Field(
        None, ge=1, le=10000, description="After each backup.create run keep only this many newest backups."
    )
    wechatpay_base_url: str = Field(
        "https://api.mch.weixin.qq.com",
        description="WeChat Pay API base URL for the scheduled refund payment (promotions.refunds job).",
    )
    wechatpay_notify_base_url: str = Field(
        "",
        description="e.g. https://huoli.example.com: refunds paid by the job name "
        "<this>/v1/promotions/wechatpay/refund-notify/<app> as notify_url (empty: the merchant's setting).",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("backup_schedule")
    @classmethod
    def _crontab(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return cron(value.strip()).expr

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls), file_secret_settings)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'huoli.db'}"

    def resolved_jobs_url(self) -> str:
        return self.jobs_url or f"sqlite:///{self.data_dir / 'jobs.db'}"

    def resolved_event_store_url(self) -> str:
        # Three slashes then the path: relative stays relative (duckdb:///var/…), absolute gets its fourth.
        return self.event_store_url or f"duckdb:///{self.data_dir / 'events.duckdb'}"

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the data dir so restarts keep sessions valid.

        Reads a file when generated: call once at startup (Runtime.secret_key), not per request.
        """
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            create_private(path, secrets.token_urlsafe(48).encode())  # 0600; a concurrent creator's file wins
        return path.read_text().strip()

    def resolved_encryption_keys(self) -> list[str]:
        """The configured keys, or the ones in <data_dir>/encryption_key (generated once): newest first.

        Reads a file when generated: call once at startup (runtime.build_runtime), not per request.
        """
        if self.encryption_keys.strip():
            return [k.strip() for k in self.encryption_keys.split(",") if k.strip()]
        path = self.encryption_key_file
        if not path.exists():
            create_private(path, (generate_key() + "\n").encode())  # 0600; a concurrent creator's file wins
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]

    @property
    def encryption_key_file(self) -> Path:
        return self.data_dir / "encryption_key"


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
