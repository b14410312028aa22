"""SIGTERM and SIGHUP handled as Ctrl-C is: the command stops, its temporary files are
removed (every writer cleans up on any exception), and the process exits with 128 + the
signal's number (143 for SIGTERM), as a shell reports a process the signal ended.

`timeout`, job schedulers, `kill` and a closed terminal stop a process this way; without
a handler Python dies at once and leaves half-written temporaries behind.

Python runs signal handlers in the main thread only, between bytecodes. The kernel may
deliver a process's signal to any of its threads (numpy's, a thread pool's); the main
thread, blocked in a read from a pipe that stays silent, would then never notice. So a
relay thread hears of every signal through Python's wakeup file descriptor and, if the
main thread has not handled it, sends it on to the main thread itself, which interrupts
the read.
"""

import signal
import socket
import threading
import time

HANDLED = ("SIGTERM", "SIGHUP", "SIGINT")
RELAY_DELAY = 0.05   # seconds the main thread has to handle a signal before it is sent on


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


class _Installed:
    """The handlers in place for one run of main(), and the relay thread."""

    def __init__(self):
        self.previous, self.numbers = {}, set()
        self.stopping = False
        self.wakeup = self.relay = None

    def handle(self, signum, frame):
        if self.stopping:   # a copy the relay sent on, or a repeat while stopping
            return
        self.stopping = True
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)

    def start_relay(self):
        reader, writer = socket.socketpair()
        writer.setblocking(False)
        try:
            old = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        except ValueError:   # not the main thread
            reader.close()
            writer.close()
            return
        self.wakeup = (reader, writer, old)
        main = threading.main_thread().ident
        self.relay = threading.Thread(target=self._relay, args=(reader, main), daemon=True,
                                      name="bigram-signal-relay")
        self.relay.start()

    def _relay(self, reader, main):
        while True:
            try:
                received = reader.recv(64)
            except OSError:
                return
            if not received:
                return
            for number in set(received) & self.numbers:
                time.sleep(RELAY_DELAY)
                if not self.stopping:
                    signal.pthread_kill(main, number)

    def restore(self):
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        if self.wakeup is not None:
            reader, writer, old = self.wakeup
            signal.set_wakeup_fd(old)
            writer.close()
            reader.close()


def install():
    """Handle SIGTERM and SIGHUP by raising Terminated, and SIGINT by KeyboardInterrupt,
    once each run; returns what `restore` needs (main() runs in tests in-process, which
    must get their handlers back)."""
    installed = _Installed()
    for name in HANDLED:
        number = getattr(signal, name, None)
        if number is None:
            continue
        try:
            old = signal.getsignal(number)
            if old == signal.SIG_IGN:   # nohup, or a background job: the user asked to ignore it
                continue
            signal.signal(number, installed.handle)
        except ValueError:   # not the main thread: leave signals alone
            return installed
        installed.previous[number] = old
        installed.numbers.add(int(number))
    if installed.numbers:
        installed.start_relay()
    return installed


def restore(installed):
    """Put back the handlers `install` replaced, and stop the relay."""
    installed.restore()
