"""The practice's own details: nothing left as TODO, and (`--online`) the website and
booking links answer."""

from __future__ import annotations

import httpx

from chairside.doctor.results import Report, ok, problem

AREA = "Practice details"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def check_details(practice, report: Report, *, online: bool) -> None:
    if practice.todo:
        report.add(
            problem(
                AREA,
                "Details",
                "Still a placeholder (TODO): " + ", ".join(practice.todo) + ".",
                "Fill in the practice's real details in the practice settings.",
            )
        )
    else:
        report.add(ok(AREA, "Details", "no placeholder (TODO) left"))
    links = {"Website": practice.website, "Booking link": practice.booking_url}
    if not online:
        return
    seen: set[str] = set()
    for label, url in links.items():
        if not url or url in seen:
            continue
        seen.add(url)
        try:
            with httpx.Client(timeout=TIMEOUT, follow_redirects=True) as client:
                response = client.get(url, headers={"User-Agent": "chairside-doctor"})
        except httpx.HTTPError as exc:
            report.add(
                problem(
                    AREA,
                    label,
                    f"{url} does not answer ({exc or type(exc).__name__}).",
                    "Check the address in the practice settings.",
                )
            )
            continue
        if response.status_code >= 400:
            report.add(
                problem(
                    AREA,
                    label,
                    f"{url} answers {response.status_code}.",
                    "Check the address in the practice settings.",
                )
            )
        else:
            report.add(ok(AREA, label, f"{url} answers"))
