"""Run lock files: how processes of one host tell a run that is being
executed from one whose process died.

A process executing a run of an operation holds an exclusive ``flock`` on
``<lock dir>/<run>.lock`` (the lock dir sits beside a SQLite database, or
under the temp dir per database: ``runners.Host.lock_dir``); the kernel
drops it when the process dies, however it dies.  So a file that exists
and can be locked belonged to a run nobody executes any more.
"""

import fcntl
import os


def abandoned(lock_dir, run):
    """Is ``run`` known to have been executed here by a process that is
    gone?  (Its lock file exists and nobody holds it.)  False when it
    cannot be told: no lock dir, no file (a run not started yet, or one a
    conductor executes), or held.  Creates nothing: a reader may ask."""
    if not lock_dir or not run:
        return False
    try:
        fd = os.open(os.path.join(lock_dir, run + ".lock"), os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False            # held: its process is alive
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


class RunLock:
    """An exclusive lock held while this process executes a run (flock):
    the kernel drops it when the process dies."""

    def __init__(self, directory, name):
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, name + ".lock")
        self._fd = None

    def acquire(self, blocking=True):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else
                                             fcntl.LOCK_NB))
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def intact(self):
        """Held, and still the file named by the path (not deleted or
        replaced under us, when another process could lock a new one)."""
        if self._fd is None:
            return False
        try:
            named = os.stat(self.path)
        except OSError:
            return False
        held = os.fstat(self._fd)
        return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)

    def release(self):
        if self._fd is not None:
            # The traversal is over here; its lock file is not needed again
            # (whoever still waits on it then finds the operation settled).
            try:
                os.unlink(self.path)
            except OSError:
                pass
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
