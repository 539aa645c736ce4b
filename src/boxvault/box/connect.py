"""Connections to Box (or the sandbox) through the official SDK, with our network layer.

One `BoxConnection` holds one authentication (the enterprise's service account for CCG/JWT, or a
user's OAuth grant), one network client (pooled HTTP, rate limiter, counters) and hands out clients
acting as a given user through the `As-User` header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from box_sdk_gen.box.ccg_auth import BoxCCGAuth, CCGConfig
from box_sdk_gen.box.jwt_auth import BoxJWTAuth, JWTConfig
from box_sdk_gen.box.oauth import BoxOAuth, OAuthConfig
from box_sdk_gen.box.token_storage import InMemoryTokenStorage, TokenStorage
from box_sdk_gen.client import BoxClient
from box_sdk_gen.networking.auth import Authentication
from box_sdk_gen.networking.base_urls import BaseUrls
from box_sdk_gen.networking.network import NetworkSession
from box_sdk_gen.networking.timeout_config import TimeoutConfig

from boxvault.box.http import BackupNetworkClient, BackupRetryStrategy
from boxvault.box.ratelimit import RateLimiter
from boxvault.box.stats import RequestStats
from boxvault.box.tokens import RefreshLock, SerializedAuth

BOX_API_URL = "https://api.box.com"


def base_urls(api_url: str | None) -> BaseUrls:
    """Real Box by default; anything else is laid out like the sandbox (and like Box's own paths)."""
    if api_url is None or api_url.rstrip("/") == BOX_API_URL:
        return BaseUrls()
    u = api_url.rstrip("/")
    if not u.startswith(("http://", "https://")):
        raise ValueError(f"API URL must start with http:// or https://, not {api_url!r}")
    return BaseUrls(base_url=u, upload_url=u + "/api", oauth_2_url=u + "/api/oauth2")


@dataclass
class Limits:
    per_user_rps: float = 16.0  # Box: about 1,000 API calls a minute per user
    per_enterprise_rps: float = 0.0  # 0 = unlimited
    max_attempts: int = 10
    # connection errors and timeouts are retried apart from max_attempts (the SDK counts them separately)
    exception_retries: int = 6
    retry_base_interval: float = 1.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    pool_size: int = 32


@dataclass
class CCGCredentials:
    client_id: str
    client_secret: str
    enterprise_id: str
    kind: Literal["ccg"] = "ccg"


@dataclass
class JWTCredentials:
    config_json: str  # the app's JSON config file as Box's developer console gives it
    kind: Literal["jwt"] = "jwt"


@dataclass
class OAuthCredentials:
    client_id: str
    client_secret: str
    token_storage: TokenStorage  # holds the user's access + refresh token; rotated refresh tokens land here
    kind: Literal["oauth"] = "oauth"


Credentials = CCGCredentials | JWTCredentials | OAuthCredentials


@dataclass
class BoxConnection:
    auth: SerializedAuth
    session: NetworkSession
    network: BackupNetworkClient
    stats: RequestStats
    limiter: RateLimiter
    enterprise_id: str | None = None
    # True for the enterprise's service account (CCG/JWT): it acts as each user through As-User. An
    # OAuth grant is one user's own: it sees that user's files and impersonates no one.
    impersonate: bool = True
    _clients: dict[str, BoxClient] = field(default_factory=dict)

    @property
    def client(self) -> BoxClient:
        """The authenticated identity itself (the service account for CCG/JWT)."""
        return BoxClient(auth=self.auth, network_session=self.session)

    def as_user(self, user_id: str | None) -> BoxClient:
        if user_id is None or not self.impersonate:
            return self.client
        client = self._clients.get(user_id)
        if client is None:
            client = self._clients[user_id] = self.client.with_as_user_header(user_id)
        return client


def connect(
    credentials: Credentials,
    *,
    api_url: str | None = None,
    limits: Limits | None = None,
    lock: RefreshLock | None = None,
    stats: RequestStats | None = None,
) -> BoxConnection:
    limits = limits or Limits()
    stats = stats or RequestStats()
    limiter = RateLimiter(per_user=limits.per_user_rps, per_enterprise=limits.per_enterprise_rps)
    network = BackupNetworkClient(
        stats, limiter, base_interval=limits.retry_base_interval, pool_size=limits.pool_size
    )
    session = NetworkSession(
        network_client=network,
        retry_strategy=BackupRetryStrategy(
            stats,
            max_attempts=limits.max_attempts,
            base_interval=limits.retry_base_interval,
            max_retries_on_exception=limits.exception_retries,
        ),
        base_urls=base_urls(api_url),
        timeout_config=TimeoutConfig(
            connection_timeout_ms=int(limits.connect_timeout_s * 1000),
            read_timeout_ms=int(limits.read_timeout_s * 1000),
        ),
    )
    inner: Authentication
    storage: TokenStorage
    enterprise_id: str | None = None
    if isinstance(credentials, CCGCredentials):
        storage = InMemoryTokenStorage()
        inner = BoxCCGAuth(
            CCGConfig(
                client_id=credentials.client_id,
                client_secret=credentials.client_secret,
                enterprise_id=credentials.enterprise_id,
                token_storage=storage,
            )
        )
        enterprise_id = credentials.enterprise_id
    elif isinstance(credentials, JWTCredentials):
        storage = InMemoryTokenStorage()
        jwt_config = JWTConfig.from_config_json_string(credentials.config_json, token_storage=storage)
        inner = BoxJWTAuth(config=jwt_config)
        enterprise_id = jwt_config.enterprise_id
    else:
        storage = credentials.token_storage
        inner = BoxOAuth(
            OAuthConfig(
                client_id=credentials.client_id,
                client_secret=credentials.client_secret,
                token_storage=storage,
            )
        )
    auth = SerializedAuth(inner, storage, lock)
    return BoxConnection(
        impersonate=not isinstance(credentials, OAuthCredentials),
        auth=auth,
        session=session,
        network=network,
        stats=stats,
        limiter=limiter,
        enterprise_id=enterprise_id,
    )


class NotBox(Exception):
    """The server answered, but not as Box does (plain text, no token, no user): not a Box API."""


def verify(conn: BoxConnection) -> dict[str, Any]:
    """Check a connection for real before anything is saved: the token endpoint must answer a Box-shaped token
    (a JSON object with an access_token), and `/users/me` must answer a user. The SDK alone would take a
    plain-text answer as a token of `None` and send `Bearer None` on; this refuses it."""
    from boxvault.box.api import get_json

    token = conn.auth.retrieve_token(network_session=conn.session)
    access = getattr(token, "access_token", None)
    if not isinstance(access, str) or not access.strip() or access == "None":
        raise NotBox("the token endpoint did not answer a Box access token")
    me = get_json(conn.client, "/2.0/users/me", {"fields": "id,type,login,role,enterprise"})
    user_id = me.get("id")
    if me.get("type") != "user" or not isinstance(user_id, str | int) or not str(user_id).strip():
        raise NotBox("the server did not answer /users/me with a Box user")
    return me
