"""`chairside schedule --install`: run `chairside due` every 15 minutes with the
computer's own scheduler — a systemd user timer or cron on Linux, launchd on macOS, Task
Scheduler on Windows. One entry per practice folder (named from its path), so two
practices on one computer each get their own; `--uninstall` removes only this folder's.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from chairside.errors import ChairsideError
from chairside.fsutil import write_text_atomic
from chairside.workspace import Workspace

EVERY_MINUTES = 15
SCHEDULER_VARIABLE = "CHAIRSIDE_SCHEDULER"
"""systemd, cron, launchd or schtasks: which scheduler to use instead of the usual one."""


@dataclass(frozen=True)
class Plan:
    scheduler: str
    what: str
    """What will be added, as a person reads it (the file and its text, or the line)."""
    files: dict[Path, str]
    commands: list[list[str]]


def _id(workspace: Workspace) -> str:
    return hashlib.sha256(str(workspace.root.resolve()).encode()).hexdigest()[:10]


def due_command(workspace: Workspace) -> list[str]:
    return [sys.executable, "-m", "chairside", "-C", str(workspace.root.resolve()), "due"]


def _log(workspace: Workspace) -> Path:
    return workspace.root.resolve() / ".chairside" / "due.log"


def choose() -> str:
    chosen = os.environ.get(SCHEDULER_VARIABLE, "").strip()
    if chosen:
        if chosen not in ("systemd", "cron", "launchd", "schtasks"):
            raise ChairsideError(
                f"{SCHEDULER_VARIABLE}={chosen!r}: choose systemd, cron, launchd or schtasks."
            )
        return chosen
    if sys.platform == "darwin":
        return "launchd"
    if sys.platform == "win32":
        return "schtasks"
    if shutil.which("systemctl") and Path("/run/systemd/system").is_dir():
        return "systemd"
    return "cron"


def plan(workspace: Workspace, scheduler: str | None = None) -> Plan:
    scheduler = scheduler or choose()
    return {"systemd": _systemd, "cron": _cron, "launchd": _launchd, "schtasks": _schtasks}[
        scheduler
    ](workspace)


def _systemd(workspace: Workspace) -> Plan:
    unit = f"chairside-due-{_id(workspace)}"
    folder = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd/user"
    command = f"{shlex.join(due_command(workspace))} >> {shlex.quote(str(_log(workspace)))} 2>&1"
    service = (
        "[Unit]\n"
        f"Description=Chairside: send the scheduled newsletters of {workspace.root.resolve()}\n\n"
        "[Service]\nType=oneshot\n"
        f"ExecStart=/bin/sh -c {shlex.quote(command)}\n"
    )
    timer = (
        "[Unit]\nDescription=Chairside: every 15 minutes, send what is due\n\n"
        f"[Timer]\nOnCalendar=*:0/{EVERY_MINUTES}\nPersistent=true\n\n"
        "[Install]\nWantedBy=timers.target\n"
    )
    files = {folder / f"{unit}.service": service, folder / f"{unit}.timer": timer}
    what = "\n".join(f"{path}:\n{text}" for path, text in files.items())
    commands = [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "--now", f"{unit}.timer"],
    ]
    return Plan("systemd", what, files, commands)


def _cron_line(workspace: Workspace) -> str:
    return (
        f"*/{EVERY_MINUTES} * * * * {shlex.join(due_command(workspace))} "
        f">> {shlex.quote(str(_log(workspace)))} 2>&1  # chairside-due-{_id(workspace)}"
    )


def _cron(workspace: Workspace) -> Plan:
    line = _cron_line(workspace)
    return Plan("cron", f"this line in your crontab:\n{line}", {}, [])


def _launchd(workspace: Workspace) -> Plan:
    label = f"com.chairside.due.{_id(workspace)}"
    path = Path.home() / "Library/LaunchAgents" / f"{label}.plist"
    arguments = "".join(f"<string>{_xml(a)}</string>" for a in due_command(workspace))
    plist = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
        '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
        '<plist version="1.0"><dict>\n'
        f"<key>Label</key><string>{label}</string>\n"
        f"<key>ProgramArguments</key><array>{arguments}</array>\n"
        f"<key>StartInterval</key><integer>{EVERY_MINUTES * 60}</integer>\n"
        f"<key>StandardOutPath</key><string>{_xml(str(_log(workspace)))}</string>\n"
        f"<key>StandardErrorPath</key><string>{_xml(str(_log(workspace)))}</string>\n"
        "</dict></plist>\n"
    )
    return Plan("launchd", f"{path}:\n{plist}", {path: plist}, [["launchctl", "load", str(path)]])


def _schtasks(workspace: Workspace) -> Plan:
    name = f"Chairside due {_id(workspace)}"
    command = subprocess.list2cmdline(due_command(workspace))
    create = ["schtasks", "/Create", "/SC", "MINUTE", "/MO", str(EVERY_MINUTES)]
    create += ["/TN", name, "/TR", command, "/F"]
    return Plan("schtasks", f"a task {name!r} in Task Scheduler running:\n{command}", {}, [create])


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def install(workspace: Workspace) -> Plan:
    chosen = plan(workspace)
    _log(workspace).parent.mkdir(parents=True, exist_ok=True)
    if chosen.scheduler == "cron":
        lines = [line for line in _crontab() if f"chairside-due-{_id(workspace)}" not in line]
        _set_crontab([*lines, _cron_line(workspace)])
    for path, text in chosen.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    for command in chosen.commands:
        _run(command)
    return chosen


def installed(workspace: Workspace) -> bool:
    """Whether this folder's entry is in the computer's scheduler."""
    chosen = plan(workspace)
    if chosen.scheduler == "cron":
        try:
            return any(f"chairside-due-{_id(workspace)}" in line for line in _crontab())
        except ChairsideError:
            return False
    if chosen.scheduler == "schtasks":
        name = f"Chairside due {_id(workspace)}"
        try:
            return _capture(["schtasks", "/Query", "/TN", name]).returncode == 0
        except ChairsideError:
            return False
    return all(path.exists() for path in chosen.files)


def uninstall(workspace: Workspace) -> bool:
    """Remove this folder's entry; False when there was none."""
    chosen = plan(workspace)
    if chosen.scheduler == "cron":
        lines = _crontab()
        kept = [line for line in lines if f"chairside-due-{_id(workspace)}" not in line]
        if kept == lines:
            return False
        _set_crontab(kept)
        return True
    if chosen.scheduler == "schtasks":
        return _run(["schtasks", "/Delete", "/TN", f"Chairside due {_id(workspace)}", "/F"], ok=1)
    present = [path for path in chosen.files if path.exists()]
    if not present:
        return False
    if chosen.scheduler == "systemd":
        unit = f"chairside-due-{_id(workspace)}.timer"
        _run(["systemctl", "--user", "disable", "--now", unit], ok=1)
    else:
        _run(["launchctl", "unload", str(present[0])], ok=1)
    for path in present:
        path.unlink()
    return True


def _crontab() -> list[str]:
    result = _capture(["crontab", "-l"])
    # `crontab -l` exits 1 with "no crontab for USER" when there is none yet.
    return result.stdout.splitlines() if result.returncode == 0 else []


def _set_crontab(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n" if lines else ""
    result = _capture(["crontab", "-"], text)
    if result.returncode != 0:
        raise ChairsideError(f"crontab refused the change: {result.stderr.strip()}")


def _capture(command: list[str], text: str | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, input=text, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise ChairsideError(
            f"This computer has no `{command[0]}` command, so Chairside cannot add itself "
            "to its scheduler. Run `chairside schedule --print` and add that by hand, or "
            "run `chairside due` every 15 minutes some other way."
        ) from None


def _run(command: list[str], ok: int = 0) -> bool:
    result = _capture(command)
    if result.returncode not in (0, ok):
        raise ChairsideError(
            f"`{' '.join(command)}` failed: {result.stderr.strip() or result.stdout.strip()}"
        )
    return result.returncode == 0
