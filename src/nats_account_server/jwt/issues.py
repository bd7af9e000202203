"""What validation finds: issues of three kinds, and the checks every claim kind shares.

An issue is blocking (the claims are invalid), a time check (`exp` / `nbf` say "not now") or a
warning (advisory); nats-server refuses an account on any blocking or time issue and ignores
warnings.
"""

from __future__ import annotations

from nats_account_server.records import record

from .gourl import info_url_issue
from .layouts import Claims

__all__ = ["BLOCKING", "EXPIRED", "MAX_INFO_LENGTH", "TIME", "WARNING", "Crash", "Issue", "Issues"]

BLOCKING, TIME, WARNING = "blocking", "time", "warning"
MAX_INFO_LENGTH = 8192


@record(frozen=True)
class Issue:
    """One validation issue: its text and kind (blocking, time check or warning)."""

    text: str
    kind: str

    @property
    def blocks(self) -> bool:
        """Blocking issues and time checks refuse; warnings never do."""
        return self.kind in (BLOCKING, TIME)


class Issues(list[Issue]):
    """Issues in the order found."""

    def block(self, text: str) -> None:
        self.append(Issue(text, BLOCKING))

    def warn(self, text: str) -> None:
        self.append(Issue(text, WARNING))

    def blocks(self, texts: list[str]) -> None:
        self.extend(Issue(t, BLOCKING) for t in texts)


class Crash(Exception):
    """The library would crash here: no further checks run."""


EXPIRED = "claim is expired"


def time_issues(claims: Claims, now: int, out: Issues) -> None:
    """Expired when now is past `exp`; not yet valid when `nbf` is after now (0 or less: none)."""
    if claims.exp > 0 and now > claims.exp:
        out.append(Issue(EXPIRED, TIME))
    if claims.nbf > 0 and claims.nbf > now:
        out.append(Issue("claim is not yet valid", TIME))


def info_issues(description: str, info_url: str, out: Issues) -> None:
    """Description and info URL at most 8192 UTF-8 bytes; a non-empty URL must parse with a scheme
    and a host name (an overlong URL is also parsed)."""
    if len(description.encode("utf-8", "surrogatepass")) > MAX_INFO_LENGTH:
        out.block("Description is too long")
    if info_url:
        if len(info_url.encode("utf-8", "surrogatepass")) > MAX_INFO_LENGTH:
            out.block("Info URL is too long")
        problem = info_url_issue(info_url)
        if problem is not None:
            out.block(problem)
