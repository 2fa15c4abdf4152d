"""Platform settings. The only module that reads the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite://./ebid.sqlite3"
    # Uploaded files, audit keys and audit checkpoints live here, outside the database, so a
    # database administrator cannot rewrite the audit trail and recompute its hashes.
    data_dir: Path = field(default_factory=lambda: Path("var"))
    secret_key: str = ""
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh-CN"
    max_upload_bytes: int = 200 * 1024 * 1024
    # Seconds; a login form locked after this many failures inside the window.
    login_window_seconds: int = 900
    login_max_failures: int = 5
    session_max_age_seconds: int = 8 * 3600
    secure_cookies: bool = False
    # "inprocess" runs jobs inside the web process (SQLite default); "procrastinate" uses the
    # PostgreSQL-backed queue whose workers may run on other machines.
    job_backend: str = "inprocess"
    scheduler_interval_seconds: int = 30
    audit_checkpoint_every: int = 100
    # Extra holiday data (next year's State Council schedule) merged over the bundled one.
    holidays_file: Path | None = None
    # The opening starts this long after the deadline, so a bid whose last byte arrived just
    # before it is never refused because the opening began while it was being checked.
    intake_grace_seconds: int = 60
    # The largest sealed package accepted (bytes); the resumable upload has the same limit.
    max_bid_bytes: int = 2 * 1024 * 1024 * 1024
    # A signed head of the receipts log is published this often (if the log grew).
    log_head_interval_seconds: int = 600
    # The CRL fetch job: each CA's address at most this often, each download capped.
    crl_fetch_interval_seconds: int = 3600
    crl_fetch_timeout_seconds: float = 20.0
    crl_max_bytes: int = 20 * 1024 * 1024
    # Resumable uploads: the chunk size offered, and how long an unfinished one is kept.
    upload_chunk_bytes: int = 8 * 1024 * 1024
    upload_max_age_seconds: int = 24 * 3600

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def key_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def checkpoint_dir(self) -> Path:
        return self.data_dir / "audit-checkpoints"

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://", "asyncpg://"))

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def from_env(environ: dict[str, str] | None = None) -> Settings:
    """Read EBID_* variables; anything unset keeps its default."""
    env = os.environ if environ is None else environ
    base = Settings()
    data_dir = Path(env.get("EBID_DATA_DIR", str(base.data_dir)))
    return Settings(
        database_url=env.get("EBID_DATABASE_URL", base.database_url),
        data_dir=data_dir,
        secret_key=env.get("EBID_SECRET_KEY", ""),
        timezone=env.get("EBID_TIMEZONE", base.timezone),
        default_locale=env.get("EBID_LOCALE", base.default_locale),
        max_upload_bytes=int(env.get("EBID_MAX_UPLOAD_BYTES", base.max_upload_bytes)),
        secure_cookies=env.get("EBID_SECURE_COOKIES", "") == "1",
        job_backend=env.get("EBID_JOB_BACKEND", base.job_backend),
        scheduler_interval_seconds=int(
            env.get("EBID_SCHEDULER_INTERVAL", base.scheduler_interval_seconds)
        ),
        holidays_file=Path(env["EBID_HOLIDAYS_FILE"]) if env.get("EBID_HOLIDAYS_FILE") else None,
        intake_grace_seconds=int(
            env.get("EBID_INTAKE_GRACE_SECONDS", base.intake_grace_seconds)
        ),
        max_bid_bytes=int(env.get("EBID_MAX_BID_BYTES", base.max_bid_bytes)),
        log_head_interval_seconds=int(
            env.get("EBID_LOG_HEAD_INTERVAL", base.log_head_interval_seconds)
        ),
        crl_fetch_interval_seconds=int(
            env.get("EBID_CRL_FETCH_INTERVAL", base.crl_fetch_interval_seconds)
        ),
    )


def demo_from_env(environ: dict[str, str] | None = None) -> Settings:
    """Like from_env, but the demo's own database and data directory unless they are set."""
    env = dict(os.environ if environ is None else environ)
    env.setdefault("EBID_DATABASE_URL", "sqlite://./ebid-demo.sqlite3")
    env.setdefault("EBID_DATA_DIR", "ebid-demo-data")
    return from_env(env)
