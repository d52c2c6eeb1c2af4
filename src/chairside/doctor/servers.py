"""The mail server `send` delivers through, and the mailbox `inbox` reads: each is connected
to, encrypted as configured (its certificate verified), and logged in to. No mail is sent."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import smtplib
import ssl
from datetime import UTC, datetime

from chairside.doctor.dns import NAMESERVER_VARIABLE, Dns, DnsFailure, DnsUnreachable
from chairside.doctor.results import Report, ok, problem, warning
from chairside.doctor.routes import smtp_route
from chairside.errors import ChairsideError
from chairside.workspace import Practice, Workspace

SMTP_AREA = "Mail server"
IMAP_AREA = "Mailbox"
TIMEOUT = 15.0
EXPIRES_SOON_DAYS = 14


def _certificate_note(sock: ssl.SSLSocket) -> tuple[str, bool]:
    """'valid until 5 March 2027', and whether that is soon."""
    cert = sock.getpeercert() or {}
    until = cert.get("notAfter")
    if not until:
        return "valid", False
    ends = datetime.fromtimestamp(ssl.cert_time_to_seconds(until), UTC)
    soon = (ends - datetime.now(UTC)).days < EXPIRES_SOON_DAYS
    return f"valid until {ends.day} {ends:%B %Y}", soon


class _Resolved(smtplib.SMTP):
    """An SMTP client that connects to `_address` (looked up by the doctor's DNS) while
    speaking to, and checking the certificate of, the host by its name."""

    _address: str | None = None

    def _get_socket(self, host, port, timeout):
        return super()._get_socket(self._address or host, port, timeout)


class _ResolvedSsl(smtplib.SMTP_SSL, _Resolved):
    pass


def _client(cls: type[smtplib.SMTP], address: str | None, *args, **kwargs) -> smtplib.SMTP:
    client = cls.__new__(cls)
    client._address = address  # before __init__, which connects
    client.__init__(*args, **kwargs)
    return client


def _address(host: str, dns: Dns | None) -> str | None:
    """The address to connect to: looked up through CHAIRSIDE_NAMESERVER when it is set
    (so a test zone names the server too), else None (the computer's own lookup, which
    knows /etc/hosts)."""
    if dns is None or not os.environ.get(NAMESERVER_VARIABLE) or host.lower() == "localhost":
        return None
    try:
        ipaddress.ip_address(host.strip("[]"))
        return None
    except ValueError:
        pass
    found = dns.addresses(host)
    if not found:
        raise DnsFailure(f"{host} has no address in DNS")
    return found[0]


def check_smtp(practice: Practice, report: Report, dns: Dns | None = None) -> None:
    from chairside.providers.smtp import resolve

    route = smtp_route(practice)
    if route is None:
        if not practice.providers:
            report.add(
                warning(
                    SMTP_AREA,
                    "Mail server",
                    "No mail server is set, so send cannot send.",
                    "Set the mail server's name, port and login in the practice settings.",
                )
            )
        return
    try:
        settings = resolve(practice.smtp)
    except ChairsideError as exc:
        report.add(problem(SMTP_AREA, "Login", str(exc)))
        settings = resolve(practice.smtp, user="")  # still check it connects
    where = settings.where
    try:
        address = _address(settings.host, dns)
    except (DnsFailure, DnsUnreachable) as exc:
        report.add(
            problem(
                SMTP_AREA,
                "Connection",
                f"Cannot look up the mail server {where}: {exc}.",
                "Check the mail server's name.",
                stops=True,
            )
        )
        return
    try:
        if settings.security == "ssl":
            client = _client(
                _ResolvedSsl,
                address,
                settings.host,
                settings.port,
                timeout=TIMEOUT,
                context=settings.tls(),
            )
        else:
            client = _client(_Resolved, address, settings.host, settings.port, timeout=TIMEOUT)
    except ssl.SSLCertVerificationError as exc:
        report.add(_bad_certificate(where, exc))
        return
    except (OSError, smtplib.SMTPException) as exc:
        report.add(
            problem(
                SMTP_AREA,
                "Connection",
                f"Cannot connect to the mail server {where} ({exc}).",
                "Check the mail server's name, port and encryption (ssl is usually port "
                "465, starttls 587) and the internet connection.",
                stops=True,
            )
        )
        return
    try:
        _converse(client, settings, route.local, report)
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def _converse(client: smtplib.SMTP, settings, local: bool, report: Report) -> None:
    where = settings.where
    try:
        client.ehlo()
        if settings.security == "starttls":
            if not client.has_extn("starttls"):
                report.add(
                    problem(
                        SMTP_AREA,
                        "Encryption",
                        f"The mail server {where} does not offer "
                        "STARTTLS, so nothing was sent to it.",
                        'Use security "ssl" on port 465, or ask the mail provider for its '
                        "encrypted settings.",
                        stops=True,
                    )
                )
                return
            client.starttls(context=settings.tls())
            client.ehlo()
    except ssl.SSLCertVerificationError as exc:
        report.add(_bad_certificate(where, exc))
        return
    except (OSError, smtplib.SMTPException) as exc:
        report.add(
            problem(SMTP_AREA, "Encryption", f"{where}: encryption failed ({exc}).", stops=True)
        )
        return
    if isinstance(client.sock, ssl.SSLSocket):
        note, soon = _certificate_note(client.sock)
        how = "SSL" if settings.security == "ssl" else "STARTTLS"
        if soon:
            report.add(
                warning(
                    SMTP_AREA,
                    "Encryption",
                    f"{where}: {how}, certificate {note}.",
                    "Tell whoever runs the mail server: it must be renewed.",
                )
            )
        else:
            report.add(ok(SMTP_AREA, "Encryption", f"{where}: {how}, certificate {note}"))
    elif local:
        report.add(
            ok(
                SMTP_AREA,
                "Connection",
                f"{where} connects (a test server on this computer, no encryption)",
            )
        )
    else:
        report.add(
            warning(
                SMTP_AREA,
                "Encryption",
                f"{where} is used without encryption: the "
                "password and every patient's message cross the network readable.",
                'Set the encryption to "starttls" (port 587) or "ssl" (port 465).',
            )
        )
    if not settings.user:
        if not local:
            report.add(ok(SMTP_AREA, "Login", f"{where} connects; no login is set"))
        return
    try:
        client.login(settings.user, settings.password)
    except smtplib.SMTPAuthenticationError as exc:
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        report.add(
            problem(
                SMTP_AREA,
                "Login",
                f"The mail server {where} refused the login of "
                f"{settings.user} ({exc.smtp_code} {text.strip()}).",
                "Check the user name and save the right password again.",
                stops=True,
            )
        )
        return
    except smtplib.SMTPNotSupportedError:
        report.add(
            problem(
                SMTP_AREA,
                "Login",
                f"The mail server {where} offers no login here.",
                "Check the encryption setting: most servers allow login only once encrypted.",
                stops=True,
            )
        )
        return
    except (OSError, smtplib.SMTPException) as exc:
        report.add(problem(SMTP_AREA, "Login", f"{where}: the login failed ({exc}).", stops=True))
        return
    report.add(ok(SMTP_AREA, "Login", f"{where} accepted the login of {settings.user}"))


def _bad_certificate(where: str, exc: ssl.SSLCertVerificationError):
    return problem(
        SMTP_AREA,
        "Encryption",
        f"The mail server {where} showed a certificate this computer does not trust "
        f"({exc.verify_message}), so no password was sent.",
        "Use the server name the certificate is for (ask the mail provider), or have the "
        "server's certificate replaced with one from a trusted authority.",
        stops=True,
    )


def check_imap(workspace: Workspace, practice: Practice, report: Report) -> None:
    from chairside.returnpath.inbox import connect, load_imap
    from chairside.workspace import PRACTICE_FILE

    try:
        config = load_imap(workspace)
    except ChairsideError as exc:
        if "no [imap] section" in str(exc):
            report.add(
                warning(
                    IMAP_AREA,
                    "Mailbox",
                    "No mailbox is set, so emailed unsubscribes and bounces are not read back.",
                    "Set the mailbox that receives them (its server and login).",
                )
            )
        else:
            report.add(problem(IMAP_AREA, "Mailbox", str(exc)))
        return
    try:
        imap = connect(config)  # its own timeout (30 s) on every step
    except ChairsideError as exc:
        report.add(problem(IMAP_AREA, "Login", str(exc).replace(f" in {PRACTICE_FILE}", "")))
        return
    with contextlib.suppress(Exception):  # the check is done; a rude goodbye is no finding
        imap.logout()
    how = {"ssl": "SSL", "starttls": "STARTTLS", "none": "no encryption"}[config.tls]
    report.add(
        ok(
            IMAP_AREA,
            "Login",
            f"{config.host}:{config.port} ({how}) accepted the login of {config.user}",
        )
    )
    mailbox = config.user.lower()
    for label, address in (
        ("Unsubscribe address", practice.unsubscribe_email),
        ("Bounce address", practice.bounce_address or practice.from_email),
    ):
        if address.lower() == mailbox or "@" not in mailbox:
            report.add(ok(IMAP_AREA, label, f"{address} is the mailbox Chairside reads"))
        else:
            report.add(
                warning(
                    IMAP_AREA,
                    label,
                    f"Mail to {address} goes to its own mailbox, but "
                    f"Chairside reads {config.user}.",
                    f"Have {address} forward to {config.user} (or make it an alias of it), "
                    "so what it receives is read back.",
                )
            )
