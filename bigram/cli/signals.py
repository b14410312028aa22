"""SIGTERM and SIGHUP handled as Ctrl-C is: the command stops, its temporary files are
removed (every writer cleans up on any exception), and the process exits with 128 + the
signal's number (143 for SIGTERM), as a shell reports a process the signal ended.

`timeout`, job schedulers, `kill` and a closed terminal stop a process this way; without
a handler Python dies at once and leaves half-written temporaries behind.
"""

import signal

HANDLED = ("SIGTERM", "SIGHUP")


class Terminated(BaseException):
    """Raised in the main thread when a SIGTERM or SIGHUP arrives.

    A BaseException, like KeyboardInterrupt, so that no `except Exception` swallows it,
    but not a KeyboardInterrupt, so that click does not turn it into an Abort.
    """

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self):
        """The signal's name, such as SIGTERM."""
        return signal.Signals(self.signum).name

    @property
    def exit_code(self):
        """128 + the signal's number, as shells report it."""
        return 128 + self.signum


def _raise(signum, frame):
    raise Terminated(signum)


def install():
    """Handle SIGTERM and SIGHUP by raising Terminated; returns the previous handlers for
    `restore` (main() runs in tests in-process, which must get theirs back)."""
    previous = {}
    for name in HANDLED:
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            old = signal.getsignal(number)
            if old == signal.SIG_IGN:   # nohup: the user asked to ignore it; keep that
                continue
            signal.signal(number, _raise)
            previous[number] = old
        except ValueError:   # not the main thread: leave signals alone
            return {}
    return previous


def restore(previous):
    """Put back the handlers `install` replaced."""
    for number, handler in previous.items():
        signal.signal(number, handler)
