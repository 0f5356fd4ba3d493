"""Who may read the page and who may change the corpus.

Reading and changing are separate permissions. ``IPBOT_AUTH`` lists the users who may log in
and read; ``IPBOT_ADMINS`` names those among them who may add documents. Without a login nobody
has a name, so uploads are then open only to requests from this machine, on a page bound to
loopback, and not arriving through a reverse proxy.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .config import Settings

PROXY_HEADERS = ("x-forwarded-for", "x-real-ip", "forwarded")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def credentials(settings: Settings) -> list[tuple[str, str]]:
    """``(user, password)`` pairs from ``settings.auth`` (``user:password[,user2:password2]``)."""
    pairs = []
    for item in settings.auth.split(","):
        if not item.strip():
            continue
        user, sep, password = item.partition(":")
        if not sep or not user.strip() or not password:
            raise ValueError("IPBOT_AUTH must be user:password, or several separated by commas")
        pairs.append((user.strip(), password))
    return pairs


@dataclass(frozen=True)
class Access:
    """The permissions of one running page."""

    users: tuple[tuple[str, str], ...]  # who may log in (empty: no login)
    admins: frozenset[str]  # who may change the corpus
    open_locally: bool  # no login and no admins: anyone on this machine may change the corpus

    @classmethod
    def from_settings(cls, settings: Settings, host: str = "127.0.0.1") -> "Access":
        """Raises ``ValueError`` when the settings contradict each other."""
        users = tuple(credentials(settings))
        admins = frozenset(a.strip() for a in settings.admins.split(",") if a.strip())
        unknown = admins - {u for u, _ in users}
        if unknown:
            raise ValueError(f"IPBOT_ADMINS names users without a login in IPBOT_AUTH: {', '.join(sorted(unknown))}")
        if settings.uploads == "off":
            admins = frozenset()
        open_locally = settings.uploads == "auto" and not users and is_loopback(host)
        return cls(users, admins, open_locally)

    @property
    def uploads_enabled(self) -> bool:
        return bool(self.admins) or self.open_locally

    def may_change(self, user: str | None, client_host: str | None = None, headers: dict | None = None) -> bool:
        """Whether this request may add documents: an admin, or (without any login) a request
        made on this machine and not forwarded by a proxy."""
        if user:
            return user in self.admins
        if not self.open_locally:
            return False
        forwarded = any(h in {k.lower() for k in (headers or {})} for h in PROXY_HEADERS)
        return not forwarded and client_host is not None and is_loopback(client_host)

    def refusal(self, user: str | None) -> str:
        """Why a request may not change the corpus, in the user's words."""
        if not self.uploads_enabled:
            return "此页面未开放上传：只有管理员可以添加文档（请联系管理员设置 IPBOT_ADMINS）。"
        if user:
            return f"用户 {user} 只有查阅权限，不能添加文档；请联系管理员。"
        return "只有管理员可以添加文档；请登录管理员账号，或在本机访问。"
