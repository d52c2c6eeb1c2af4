"""The one HTTP client every provider uses: timeouts, retries and errors in plain words.

What may be retried depends on whether the provider could have acted:

- A request that never left (connection refused, connect timeout) is retried with backoff.
- A read-only or idempotent request (GET, PUT, DELETE) is retried after a 5xx or a dropped
  connection too: repeating it changes nothing.
- A request that creates or sends something (POST, PATCH) is never repeated once it left:
  a timeout, a dropped connection or a 5xx raises `RequestUnknown`, because the provider
  may have acted on it (a 502 after SendGrid queued the batch is common).
- 429 (nothing was done) waits as the provider asks — `Retry-After`, SendGrid's
  `X-RateLimit-Reset`, Mailgun's `retry-seconds` — within a bounded total wait; past it,
  `RateLimited`, and the batch stays pending.
- 401 names the environment variable holding the key; 403 gives the provider's reason.
"""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

import httpx

from chairside.errors import ChairsideError

TIMEOUT = httpx.Timeout(60.0, connect=10.0)
# Methods whose repetition has no further effect (RFC 9110 §9.2.2).
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


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
    """The request was sent but no usable answer came: the provider may have acted on it."""


class RequestFailed(Exception):
    """The request certainly had no effect (connection refused, retries used up)."""


class RateLimited(RequestFailed):
    """The provider kept asking to wait, longer than the run's bounded total wait."""


def retry_wait(response: httpx.Response, *, now: float | None = None) -> float | None:
    """Seconds a 429 asks to wait, from whichever of the providers' ways it uses."""
    now = time.time() if now is None else now
    retry_after = response.headers.get("Retry-After", "").strip()
    if retry_after:
        return _seconds_or_date(retry_after, now, epoch=False)
    reset = response.headers.get("X-RateLimit-Reset", "").strip()
    if reset:  # SendGrid: the Unix time the limit resets
        return _seconds_or_date(reset, now, epoch=True)
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):  # Mailgun: {"retry-seconds": 60}
        for key in ("retry-seconds", "retry_after", "retry-after"):
            value = body.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return max(0.0, float(value))
    return None


def _seconds_or_date(value: str, now: float, *, epoch: bool) -> float | None:
    try:
        number = float(value)
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError, IndexError):
            return None
    if number > 1e12:  # milliseconds since the epoch
        number /= 1000
    if epoch or number > 1e9:  # an absolute Unix time, not a delay
        return max(0.0, number - now)
    return max(0.0, number)


class Http:
    """An httpx client for one provider, with its auth and its error messages.

    `max_wait` bounds the total time one run spends waiting on 429s."""

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
        max_wait: float = 600.0,
    ) -> None:
        self.provider = provider
        self.key_variable = key_variable
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.waited = 0.0
        self.client = httpx.Client(
            base_url=base.rstrip("/"), auth=auth, headers=headers or {}, timeout=TIMEOUT
        )

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, path: str, *, acts: bool | None = None, **kwargs):
        """The provider's successful response; raises ProviderError, RequestFailed or
        RequestUnknown otherwise. `acts` (default: the method is not idempotent) says the
        request creates or sends something, so it is never repeated once it left."""
        acts = method.upper() not in IDEMPOTENT if acts is None else acts
        attempt = limited = 0
        while True:
            attempt += 1
            try:
                response = self.client.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing left this computer: always safe to try again.
                self._backoff(attempt, f"cannot reach {self.provider}: {exc}")
                continue
            except httpx.TransportError as exc:
                if acts:
                    raise RequestUnknown(
                        f"{self.provider} did not answer {method} {path} ({exc or type(exc)})"
                    ) from None
                self._backoff(attempt, f"{self.provider} did not answer: {exc}")
                continue
            status = response.status_code
            if status < 400:
                return response
            if status == 401:
                raise ProviderError(
                    f"{self.provider} refused the API key (401 {_summary(response)}). Check "
                    f"the key in the environment variable {self.key_variable}.",
                    status=status,
                )
            if status == 403:
                raise ProviderError(
                    f"{self.provider} refused {method} {path} (403): {_summary(response)}. "
                    f"The key in {self.key_variable} may lack the permission this needs.",
                    status=status,
                    detail=_summary(response),
                )
            if status == 429:
                limited += 1
                self._rate_limited(response, limited)
                continue
            if status >= 500:
                if acts:
                    raise RequestUnknown(
                        f"{self.provider} answered {status} {_summary(response)} to "
                        f"{method} {path}, after receiving it"
                    )
                self._backoff(attempt, f"{self.provider} answered {status} {_summary(response)}")
                continue
            raise ProviderError(
                f"{self.provider} refused the request {method} {path} "
                f"({status} {_summary(response)}).",
                status=status,
                payload=_payload(response),
                detail=_summary(response),
            )

    def _backoff(self, attempt: int, failure: str) -> None:
        if attempt > self.retries:
            raise RequestFailed(failure)
        time.sleep(self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))

    def _rate_limited(self, response: httpx.Response, times: int) -> None:
        asked = retry_wait(response)
        wait = asked if asked is not None else self.backoff * 2 ** min(times - 1, 6)
        if self.waited + wait > self.max_wait or times > 50:
            raise RateLimited(
                f"{self.provider} is limiting requests (429) and asks to wait "
                f"{wait:.0f} s more; this run waits at most {self.max_wait:.0f} s in all"
            )
        self.waited += wait
        time.sleep(wait)


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
