"""The processes sections leave behind, and the Linux switches that keep none alive past their build."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (a `kill -9` of the build leaves no orphans)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def become_subreaper() -> None:
    """Processes that lose their parent are handed to this process (Linux's PR_SET_CHILD_SUBREAPER) instead
    of to init: what finished sections left running is found among its children and ended."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def all_processes() -> list[tuple[int, int, int]]:
    """(pid, parent pid, process group) of every process this user can see."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path("/proc", entry, "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            found.append((int(entry), int(fields[1]), int(fields[2])))  # after the state: parent, group
    return found


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`: from Linux's per-thread list where it has one (cheap), else /proc."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        return [int(c) for task in tasks for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except (OSError, ValueError):
        return [child for child, parent, _ in all_processes() if parent == pid]


def kill_children(pid: int, keep: set[int] = frozenset()) -> list[int]:
    """Kill and reap the processes whose parent is `pid` (this process), except `keep`; the ones killed."""
    killed = [child for child in children(pid) if child not in keep]
    for child in killed:
        try:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    return killed


def end_leftovers(keep: set[int]) -> bool:
    """End the processes a section started and left running, as a section's end always did; whether there
    were any (then this process is not reused: a replay would have had them running)."""
    me = os.getpid()
    if not kill_children(me, keep):
        return False
    for pid, _, group in all_processes():  # what they started in the section's process group
        if group == me and pid != me and pid not in keep:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return True


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
