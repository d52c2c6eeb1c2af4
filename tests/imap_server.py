"""A real IMAP server for the tests: Debian's Dovecot, run from a generated config in a
temporary folder, listening on a free port of 127.0.0.1 (starts in about 0.1 s).
`Dovecot(tls=True)` also serves STARTTLS on that port and implicit TLS on `tls_port`, with a
certificate for 127.0.0.1 signed by a CA made for the test (`ca_file`, a PEM) by the
openssl command line; plain `Dovecot()` offers no STARTTLS at all.

Run as root (as in CI containers), Dovecot's own unprivileged users hold the mail; run
as anyone else, that user does.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
USER, PASSWORD = "unsubscribe@harborlanedental.example.com", "imap-test-password"

CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
instance_name = chairside-test-{port}
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
"""


SSL_ON = "ssl = yes\nssl_cert = <{root}/server.pem\nssl_key = <{root}/server.key"


def _certificates(root: Path) -> None:
    """ca.pem (a CA made for this test) and server.pem/.key, its certificate for 127.0.0.1."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=root)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Chairside test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (root / "server.ext").write_text("subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "server.ext",
            "-out", "server.pem")  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Dovecot:
    """`start()` it, `append()` mail, `client()` to look inside, `stop()`."""

    def __init__(self, *, tls: bool = False) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="chairside-imap-"))
        self.port = _free_port()
        self.tls = tls
        self.tls_port = _free_port() if tls else 0
        self.ca_file = self.root / "ca.pem"
        self.config = self.root / "dovecot.conf"

    def start(self) -> None:
        if os.geteuid() == 0:
            mail_user = pwd.getpwnam("dovecot")
            internal_user = internal_group = "dovecot"
            login_user = "dovenull"
        else:
            mail_user = pwd.getpwuid(os.geteuid())
            internal_user = login_user = mail_user.pw_name
            internal_group = grp.getgrgid(mail_user.pw_gid).gr_name
        os.chmod(self.root, 0o755)  # the mail user must reach its folders
        for sub in ("mail", "home"):
            (self.root / sub).mkdir()
            os.chown(self.root / sub, mail_user.pw_uid, mail_user.pw_gid)
        (self.root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        if self.tls:
            _certificates(self.root)
        self.config.write_text(
            CONFIG.format(
                root=self.root,
                port=self.port,
                tls_port=self.tls_port,
                ssl=SSL_ON.format(root=self.root) if self.tls else "ssl = no",
                internal_user=internal_user,
                internal_group=internal_group,
                login_user=login_user,
                uid=mail_user.pw_uid,
                gid=mail_user.pw_gid,
            )
        )
        subprocess.run([DOVECOT, "-c", str(self.config)], check=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                client = self.client()
                client.logout()
                return
            except (OSError, imaplib.IMAP4.error):
                if time.monotonic() > deadline:
                    log = (self.root / "dovecot.log").read_text(errors="replace")
                    raise RuntimeError(f"Dovecot did not start:\n{log}") from None
                time.sleep(0.05)

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, folder: str, messages: list[bytes]) -> None:
        client = self.client()
        try:
            for data in messages:
                typ, answer = client.append(folder, None, None, data)
                assert typ == "OK", answer
        finally:
            client.logout()

    def contents(self, folder: str) -> list[tuple[set[str], bytes]]:
        """(flags, message) for every message in `folder`, read without changing anything."""
        client = self.client()
        try:
            typ, exists = client.select(f'"{folder}"', readonly=True)
            if typ != "OK" or exists[0] == b"0":
                return []
            typ, data = client.fetch("1:*", "(FLAGS BODY.PEEK[])")
            found = []
            for item in data:
                if isinstance(item, tuple):
                    flags = imaplib.ParseFlags(item[0])
                    found.append(({f.decode() for f in flags}, item[1]))
            return found
        finally:
            client.logout()

    def stop(self) -> None:
        # Dovecot's own `stop` waits ~2.5 s for clients; the mail is thrown away anyway, so
        # its process group (the master this test started, and its children) is killed.
        try:
            pid = int((self.root / "run" / "master.pid").read_text())
            if os.getpgid(pid) != pid:  # not its own group: never signal a group we are in
                raise OSError("dovecot is not a process group leader")
            os.killpg(pid, signal.SIGKILL)
        except (OSError, ValueError):
            subprocess.run([DOVECOT, "-c", str(self.config), "stop"], check=False)
        shutil.rmtree(self.root, ignore_errors=True)
