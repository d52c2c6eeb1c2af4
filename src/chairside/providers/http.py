"""The one HTTP client every provider uses: timeouts, retries and errors in plain words.

429 waits as long as `Retry-After` says; 5xx and connection failures before the request
left are retried with backoff; 401/403 stop the run naming the environment variable that
holds the key. A failure after the request left (a read timeout) is `Unknown`: the
provider may have acted on it, so the batch is not resent unless the user asks.
"""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

import httpx

from chairside.errors import ChairsideError

TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class ProviderError(ChairsideError):
    """The provider refused a request for a reason retrying will not fix.

    `status`, `payload` (the parsed JSON, or the text) and `detail` (the provider's own
    message) let a provider find which recipient a 400 names, drop it and resend the rest.
    """

    def __init__(
        self, message: str, *, status: int | None = None, payload: object = None, detail: str = ""
    ):
        super().__init__(message)
        self.status = status
        self.payload = payload
        self.detail = detail


class RequestUnknown(Exception):
    """The request was sent but no answer came: the provider may have acted on it."""


class RequestFailed(Exception):
    """The request certainly had no effect (connection refused, retries used up)."""


def _retry_after(response: httpx.Response, fallback: float) -> float:
    value = response.headers.get("Retry-After", "")
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return fallback


class Http:
    """An httpx client for one provider, with its auth and its error messages."""

    def __init__(
        self,
        *,
        base: str,
        provider: str,
        key_variable: str,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
        retries: int = 4,
        backoff: float = 1.0,
        max_wait: float = 120.0,
    ) -> None:
        self.provider = provider
        self.key_variable = key_variable
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.client = httpx.Client(
            base_url=base.rstrip("/"), auth=auth, headers=headers or {}, timeout=TIMEOUT
        )

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        """The provider's successful response; raises ProviderError, RequestFailed or
        RequestUnknown otherwise."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.client.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt > self.retries:
                    raise RequestFailed(f"cannot reach {self.provider}: {exc}") from None
                self._sleep(self.backoff * 2 ** (attempt - 1))
                continue
            except httpx.TransportError as exc:
                raise RequestUnknown(f"{self.provider} did not answer: {exc}") from None
            status = response.status_code
            if status < 400:
                return response
            if status in (401, 403):
                raise ProviderError(
                    f"{self.provider} refused the API key ({status} {_summary(response)}). "
                    f"Check the key in the environment variable {self.key_variable}."
                )
            if status == 429 or status >= 500:
                if attempt > self.retries:
                    raise RequestFailed(f"{self.provider} answered {status} {_summary(response)}")
                wait = self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
                self._sleep(_retry_after(response, wait) if status == 429 else wait)
                continue
            raise ProviderError(
                f"{self.provider} refused the request {method} {path} "
                f"({status} {_summary(response)}).",
                status=status,
                payload=_payload(response),
                detail=_summary(response),
            )

    def _sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, self.max_wait))


def _payload(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text


def _summary(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return " ".join(response.text.split())[:200]
    if isinstance(data, dict):
        for key in ("detail", "message", "title", "error"):
            if isinstance(data.get(key), str):
                return data[key][:200]
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message", errors[0]))[:200]
    return str(data)[:200]
