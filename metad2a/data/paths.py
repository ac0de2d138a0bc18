"""What a user-given path really is, said plainly before anything tries to read it.

A named pipe would block a reader forever and a device can be endless, so only folders and
regular files are ever opened; broken links are named as links, not as missing files.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from metad2a.errors import DataError

_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def special_kind(mode: int) -> str | None:
    """``"a named pipe (FIFO)"``, ``"a socket"``, ... for an ``st_mode`` that is neither file nor folder."""
    return next((name for test, name in _SPECIAL_KINDS if test(mode)), None)


def _link_chain(p: Path, limit: int = 4) -> str:
    """``p -> a -> b ...``: the first hops of a symbolic link, for messages about broken ones."""
    hops, cur = [str(p)], p
    for _ in range(limit):
        try:
            target = os.readlink(cur)
        except OSError:
            break
        cur = cur.parent / target
        hops.append(target)
    return " -> ".join(hops) + (" -> ..." if len(hops) > limit else "")


def check_data_path(path: str | os.PathLike, expect: str = "an image folder, an idx file or folder, or a .npz file"
                    ) -> Path:
    """``path`` (``~`` expanded) if it is, or links to, a folder or a regular file; else a one-line DataError.

    The error says what the path is instead: missing, a dangling or looping symbolic link, a
    named pipe, socket or device, or unreadable.
    """
    p = Path(path).expanduser()
    try:
        st = os.stat(p)
    except OSError as e:
        if not os.path.lexists(p):
            raise DataError(f"{p} does not exist: pass {expect}") from None
        if e.errno == errno.ELOOP:
            raise DataError(f"{p} is a symbolic link that loops ({_link_chain(p)}): fix the link, "
                            f"or pass {expect} by its real path") from None
        if e.errno == errno.ENOENT and os.path.islink(p):
            raise DataError(f"{p} is a dangling symbolic link ({_link_chain(p)}, which does not exist): "
                            f"fix the link, or pass {expect} by its real path") from None
        raise DataError(f"cannot read {p} ({e.strerror or e}): check its permissions") from None
    kind = special_kind(st.st_mode)
    if kind:
        raise DataError(f"{p} is {kind}, not a file or folder: pass {expect}")
    return p
