"""Run as a child: report this process's own view of itself as JSON.

Usage: python -I -S child_view.py REPORT_PATH. Reads everything before
opening the report, so the report's own fd is not in the fd list.
"""

import json
import os
import sys


def fds() -> dict:
    found = {}
    # Every open fd, however high (listdir's own fd is closed by the time it
    # is checked: fstat skips it).
    for fd in sorted(int(name) for name in os.listdir("/proc/self/fd")):
        try:
            os.fstat(fd)
        except OSError:
            continue
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            target = "?"
        found[str(fd)] = {"target": target, "inheritable": os.get_inheritable(fd)}
    return found


def status() -> dict:
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def main() -> None:
    fd_view = fds()
    view = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "pgid": os.getpgid(0),
        "sid": os.getsid(0),
        "cwd": os.getcwd(),
        "environ": {os.fsdecode(k): os.fsdecode(v) for k, v in os.environb.items()},
        "fds": fd_view,
        "status": status(),
        "argv": sys.argv,
    }
    with open(sys.argv[1], "w") as f:
        json.dump(view, f)


main()
