"""Faults from outside: signals, killed processes, full disks, FIFOs, closed streams, files
that change while they are read, impossible ARPA values, odd option values, Dask servers
that are not Dask. Signals, FIFOs and closed streams are tried on a child process, as a
user meets them, each with a timeout so that nothing can hang the suite.
"""

import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import NAMES, ROOT

from bigram.errors import ModelFileError
from bigram.formats import arpa_reader
from bigram.text.sources import BLOCK_BYTES

TEMPORARY = ".bigram-"


def environment(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("BIGRAM_MODEL", "BIGRAM_DEBUG")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _default_hangup():
    # As in a terminal session: this suite may run under nohup, which children inherit.
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def start(args, cwd, env=None, **options):
    """`python -m bigram ARGS` as a child process."""
    options.setdefault("preexec_fn", _default_hangup)
    return subprocess.Popen([sys.executable, "-m", "bigram", *map(str, args)], cwd=cwd,
                            env=env or environment(), stderr=subprocess.PIPE, **options)


def run(args, cwd, timeout=120, env=None, **options):
    options.setdefault("stdout", subprocess.PIPE)
    return subprocess.run([sys.executable, "-m", "bigram", *map(str, args)], cwd=cwd,
                          env=env or environment(), stderr=subprocess.PIPE, timeout=timeout,
                          **options)


def one_error_line(stderr):
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "internal error" not in lines[0] and "Traceback" not in lines[0]
    return lines[0]


def wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def temporaries(folder):
    return sorted(p.name for p in Path(folder).iterdir() if TEMPORARY in p.name)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    result = run(["train", NAMES, "--test-size", "0", "-o", folder / "m.npz"], folder)
    assert result.returncode == 0, result.stderr
    return folder / "m.npz"


def open_writer(fifo, seconds=30):
    """Open a FIFO for writing once the child opened it for reading (never blocks)."""
    def attempt():
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:   # ENXIO: no reader yet
            return None
    handle = wait_for(attempt, seconds)
    os.set_blocking(handle, True)
    return handle


# ---------------------------------------------------------------------- writes and signals


def _stopped_mid_write(tmp_path, model, how):
    """`score --file FIFO -o out.tsv` is writing its temporary (it waits for more text on
    the FIFO) when `how` happens to it."""
    fifo = tmp_path / "text.fifo"
    os.mkfifo(fifo)
    child = start(["score", "--file", fifo, "-m", model, "-o", "out.tsv"], tmp_path)
    writer = open_writer(fifo)
    try:
        os.write(writer, ("emma\n" * 50_000).encode())
        wait_for(lambda: temporaries(tmp_path))
        child.send_signal(how)
        child.wait(timeout=30)
    finally:
        os.close(writer)
        if child.poll() is None:
            child.kill()
    return child


@pytest.mark.parametrize("how, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129),
                                       (signal.SIGINT, 130)])
def test_a_stopping_signal_removes_the_temporary(tmp_path, model, how, code):
    child = _stopped_mid_write(tmp_path, model, how)
    assert child.returncode == code
    line = one_error_line(child.stderr.read())
    assert line in (f"error: stopped by {signal.Signals(how).name}", "error: interrupted")
    assert temporaries(tmp_path) == []
    assert not (tmp_path / "out.tsv").exists()


def test_what_sigkill_leaves_is_removed_by_the_next_write(tmp_path, model):
    child = _stopped_mid_write(tmp_path, model, signal.SIGKILL)
    assert child.returncode == -signal.SIGKILL
    left = temporaries(tmp_path)
    assert len(left) == 1 and left[0].startswith(".out.tsv.bigram-")
    # A temporary of a live process (this one) and a user's file are not touched.
    live = tmp_path / f".other.npz.bigram-{os.getpid()}-abcdefgh.tmp"
    live.write_bytes(b"being written")
    mine = tmp_path / "notes.bigram-1-abcdefgh.txt"
    mine.write_bytes(b"mine")
    result = run(["train", NAMES, "--test-size", "0", "-o", "again.npz"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert temporaries(tmp_path) == [live.name, mine.name]


def _spooling(tmp_path, how):
    """`train -` copying a stdin that keeps coming into $TMPDIR, when `how` happens."""
    spool = tmp_path / "tmp"
    spool.mkdir()
    child = start(["train", "-", "-o", "m.npz"], tmp_path, env=environment(TMPDIR=str(spool)),
                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        child.stdin.write(b"emma\nolivia\n" * 100_000)
        child.stdin.flush()
        wait_for(lambda: temporaries(spool))
        child.send_signal(how)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdin.close()
    return child, spool


@pytest.mark.parametrize("how, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_stopping_while_stdin_is_spooled_removes_the_spool(tmp_path, how, code):
    child, spool = _spooling(tmp_path, how)
    assert child.returncode == code
    one_error_line(child.stderr.read())
    assert list(spool.iterdir()) == []


def _file_size_limit(limit):
    # The child writes as on a full disk: writes past `limit` bytes fail (EFBIG; Python
    # ignores SIGXFSZ).
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_stdin_spool_on_a_full_disk(tmp_path):
    spool = tmp_path / "tmp"
    spool.mkdir()
    result = run(["train", "-", "-o", "m.npz"], tmp_path, env=environment(TMPDIR=str(spool)),
                 input=b"emma\nolivia\n" * 200_000, preexec_fn=_file_size_limit(1 << 20))
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert line.startswith(f"error: cannot copy <stdin> to the temporary file {spool}/")
    assert "file too large" in line and "it was removed" in line
    assert list(spool.iterdir()) == []
    assert not (tmp_path / "m.npz").exists()


def test_output_on_a_full_disk(tmp_path, model):
    result = run(["score", "--file", NAMES, "-m", model, "-o", "out.tsv"], tmp_path,
                 preexec_fn=_file_size_limit(64 << 10))
    assert result.returncode == 1
    line = one_error_line(result.stderr)
    assert line.startswith("error: cannot write out.tsv: file too large (while writing the "
                           "temporary file")
    assert temporaries(tmp_path) == [] and not (tmp_path / "out.tsv").exists()


# ---------------------------------------------------------------------- streams and FIFOs


def _close_stdin():
    os.close(0)


@pytest.mark.parametrize("args", [["train", "-", "-o", "x.npz"], ["score", "--file", "-"]])
def test_closed_stdin_is_an_input_error(tmp_path, model, args):
    if args[0] == "score":
        args = [*args, "-m", model]
    result = run(args, tmp_path, preexec_fn=_close_stdin, timeout=60)
    assert result.returncode == 1
    assert one_error_line(result.stderr).startswith("error: standard input is closed")


@pytest.mark.parametrize("args, env", [
    (["info", "-m", "model.fifo"], {}),
    (["sample"], {"BIGRAM_MODEL": "model.fifo"}),
    (["score", "emma", "-m", "model.fifo"], {}),
    (["score", "--file", "text.txt", "-m", "model.fifo"], {}),
    (["eval", "-m", "model.fifo"], {}),
])
def test_a_fifo_is_not_a_model_file(tmp_path, args, env):
    os.mkfifo(tmp_path / "model.fifo")   # nobody ever writes to it
    (tmp_path / "text.txt").write_text("emma\n")
    began = time.monotonic()
    result = run(args, tmp_path, env=environment(**env), timeout=30)
    assert time.monotonic() - began < 30
    assert result.returncode == 1
    assert one_error_line(result.stderr) == \
        "error: model.fifo is a FIFO (named pipe), not a model file"


def test_text_inputs_may_be_fifos(tmp_path, model):
    fifo = tmp_path / "text.fifo"
    os.mkfifo(fifo)
    child = start(["eval", fifo, "-m", model, "--json"], tmp_path, stdout=subprocess.PIPE)
    writer = open_writer(fifo)
    os.write(writer, b"emma\nolivia\n")
    os.close(writer)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert b'"items": 2' in out


def test_score_tables_into_a_closed_pipe_end_quietly(tmp_path, model):
    child = start(["score", "-m", model, *["emma"] * 3000], tmp_path, stdout=subprocess.PIPE)
    assert child.stdout.readline()
    child.stdout.close()        # `| head -1`
    child.wait(timeout=120)
    assert child.returncode == 0
    assert child.stderr.read() == b""


def test_output_encoding_that_cannot_hold_the_text_gets_utf8(tmp_path, model):
    result = run(["score", "-m", model, "emma"], tmp_path,
                 env=environment(PYTHONIOENCODING="ascii"))
    assert result.returncode == 0, result.stderr
    assert "'emma'" in result.stdout.decode("utf-8")
    accented = run(["sample", "-m", model, "-n", "1", "--seed", "1", "--prefix", "e"],
                   tmp_path, env=environment(PYTHONIOENCODING="ascii"))
    assert accented.returncode == 0
    names = tmp_path / "accents.txt"
    names.write_text("émile\nzoé\n", encoding="utf-8")
    trained = run(["train", names, "--test-size", "0", "-o", "acc.npz"], tmp_path)
    assert trained.returncode == 0, trained.stderr
    result = run(["score", "-m", "acc.npz", "zoé"], tmp_path,
                 env=environment(PYTHONIOENCODING="ascii"))
    assert result.returncode == 0, result.stderr
    assert "zoé" in result.stdout.decode("utf-8")


# ---------------------------------------------------------------------- ARPA files


@pytest.fixture
def arpa(tmp_path, model):
    result = run(["export", "-m", model, "-o", "m.arpa"], tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path / "m.arpa"


def test_an_arpa_file_that_shrinks_while_read_is_one_error(arpa, monkeypatch):
    """The reader reads (never maps) the file: a truncation is a short read, not SIGBUS."""
    size = arpa.stat().st_size
    read_header = arpa_reader._read_header

    def header_then_truncate(lines):
        found = read_header(lines)
        with open(arpa, "r+b") as stream:
            stream.truncate(len(b"\\data\\\n") + 10)
        return found

    monkeypatch.setattr(arpa_reader, "_read_header", header_then_truncate)
    with pytest.raises(ModelFileError, match=f"{arpa} changed while it was being read "
                       rf"\(it is shorter than the {size:,} bytes it had\)"):
        arpa_reader.read_arpa(arpa)


def test_arpa_truncated_by_another_process_never_kills_the_reader(tmp_path, arpa):
    big = tmp_path / "big.arpa"
    for delay in (0.2, 0.4, 0.6):
        shutil.copy(arpa, big)
        child = start(["eval", "-m", big], tmp_path, stdout=subprocess.DEVNULL)
        time.sleep(delay)
        with open(big, "r+b") as stream:
            stream.truncate(4096)
        child.wait(timeout=60)
        assert child.returncode in (0, 1)    # never a signal (negative): no SIGBUS
        err = child.stderr.read()
        if child.returncode:
            assert big.name in one_error_line(err)


def _edited(arpa, old, new):
    text = arpa.read_text()
    assert old in text
    arpa.write_text(text.replace(old, new, 1))


def _line_of(arpa, fragment):
    return next(i for i, line in enumerate(arpa.read_text().splitlines(), 1) if fragment in line)


@pytest.mark.parametrize("value, accepted", [("0.5", False), ("2.5", False), ("0", True),
                                             ("0.000001", True), ("-0", True)])
def test_probabilities_above_one_are_refused(cli, arpa, value, accepted):
    line = next(x for x in arpa.read_text().splitlines() if x.endswith("\tb") or "\tb\t" in x)
    prob = line.split("\t")[0]
    _edited(arpa, line, line.replace(prob, value, 1))
    result = cli("eval", "-m", arpa)
    if accepted:
        assert result.code == 0, result.err
        return
    assert result.code == 1
    at = _line_of(arpa, line.replace(prob, value, 1))
    assert result.err == (f"error: {arpa}: line {at}: probability '{value}' is above 1 "
                          "(log10 P > 0)\n")


@pytest.mark.parametrize("value, accepted", [("300", False), ("39", False), ("38", True),
                                             ("-300", True)])
def test_back_off_weights_beyond_float32_are_refused(cli, arpa, value, accepted):
    line = next(x for x in arpa.read_text().splitlines() if "\t<s>\t" in x)
    edited = "\t".join(line.split("\t")[:2] + [value])
    _edited(arpa, line, edited)
    result = cli("sample", "-m", arpa, "-n", "3", "--seed", "1")
    if accepted:
        assert result.code == 0, result.err
        assert "Warning" not in result.err
        return
    assert result.code == 1
    assert result.err == (f"error: {arpa}: line {_line_of(arpa, edited)}: back-off "
                          f"'{value}' is beyond 10^38.53, the largest weight float32 holds\n")


def test_bom_and_comments_before_data_are_accepted(cli, arpa, tmp_path):
    plain = cli("eval", "-m", arpa, "--json")
    decorated = tmp_path / "decorated.arpa"
    decorated.write_bytes(b"\xef\xbb\xbf# written by hand\nSRILM-style notes\n\n"
                          + arpa.read_bytes())
    for command in (("eval", "--json"), ("info",), ("score", "emma")):
        result = cli(*command, "-m", decorated)
        assert result.code == 0, result.err
    assert cli("eval", "-m", decorated, "--json").out == plain.out


# ---------------------------------------------------------------------- option values


@pytest.mark.parametrize("args, message", [
    (["sample", "--seed", str(2 ** 64)], "--seed must be a whole number from -2^63 to 2^64-1"),
    (["sample", "--seed", str(-2 ** 63 - 1)], "--seed must be a whole number"),
    (["train", "--split-seed", str(2 ** 64), "-o", "x.npz"], "--split-seed must be a whole"),
    (["train", "--model", "neural", "--seed", str(2 ** 70), "-o", "x.npz"], "--seed must be"),
    (["tune", "--split-seed", str(2 ** 64), "-o", "x.npz"], "--split-seed must be"),
    (["train", "--split", "nan/50/50", "-o", "x.npz"], "--split must be 'makemore' or"),
    (["train", "--split", "inf/-inf/100", "-o", "x.npz"], "--split must be 'makemore' or"),
    (["train", "--smoothing", "1e308", "-o", "x.npz"], "--smoothing must be at most 1e+12"),
    (["train", "--smoothing-method", "witten-bell", "--smoothing", "1e300", "-o", "x.npz"],
     "--smoothing must be at most 1e+12 (beyond, float32 sums overflow), not 1e+300"),
    (["sample", "--temperature", "1e-320"], "--temperature must be from 1e-06 to 1e+06"),
    (["sample", "--temperature", "inf"], "--temperature must be a positive number"),
    (["sample", "--max-len", str(2 ** 70)], "--max-len must be at most 2,147,483,647"),
    (["sample", "--count", str(2 ** 64)], "--count must be at most 2^63-1"),
    (["score", "--file", "-", "--threads", "0"], "--threads must be 1 or more"),
    (["score", "--file", "-", "--threads", "100000"], "pass --oversubscribe"),
    (["train", "--dask", "local", "--dask-workers", "0", "--test-size", "0", "-o", "x.npz"],
     "--dask-workers must be 1 or more, not 0"),
    (["train", "--dask", "local", "--dask-workers", "-3", "--test-size", "0", "-o", "x.npz"],
     "--dask-workers must be 1 or more, not -3"),
    (["train", "--dask", "local", "--dask-workers", "100000", "--test-size", "0", "-o",
      "x.npz"], "pass --oversubscribe"),
    (["train", "--dask", "tcp://127.0.0.1:9", "--dask-timeout", "nan", "--test-size", "0",
      "-o", "x.npz"], "--dask-timeout must be a number of seconds above 0"),
])
def test_numeric_options_are_checked_at_the_edge(cli, model, args, message):
    if args[0] in ("sample", "score"):
        args = [*args, "-m", model]
    result = cli(*args)
    assert result.code == 2, result.err
    assert result.err.startswith("error: ") and message in result.err, result.err
    assert result.err.count("\n") == 1 and "internal error" not in result.err


def test_largest_seed_is_accepted(cli, model):
    assert cli("sample", "-m", model, "-n", "2", "--seed", str(2 ** 64 - 1)).code == 0


def test_score_threads_bounded_and_memory_independent_of_them(cli, model, tmp_path,
                                                             monkeypatch):
    from bigram.models import scoring

    made = []
    original = scoring._thread_pool

    def recording(workers):
        made.append(workers)
        return original(workers)

    monkeypatch.setattr(scoring, "_thread_pool", recording)
    # Two blocks and more (one block is scored without threads: see the next test).
    text = tmp_path / "names.txt"
    names = Path(NAMES).read_bytes()
    text.write_bytes(names * (2 * BLOCK_BYTES // len(names) + 1))
    one = cli("score", "--file", text, "-m", model, "--threads", "1")
    many = cli("score", "--file", text, "-m", model, "--threads", "1000", "--oversubscribe")
    assert many.code == 0 and many.out == one.out
    assert made == [scoring.MAX_THREADS]   # the blocks in flight: at most MAX_THREADS + 1


def test_score_of_less_than_a_block_starts_no_threads(cli, model, tmp_path, monkeypatch):
    """Input of less than a block's bytes (a few lines) is scored in the main thread, with
    --threads 1's results; an unreadable line after readable ones (a last line without
    its line feed is a block of its own) comes out after their results, as one error
    line, as with --threads 1."""
    from bigram.models import scoring

    def refused(workers):
        raise AssertionError("threads started for less than a block")

    monkeypatch.setattr(scoring, "_thread_pool", refused)
    names = Path(NAMES).read_bytes()
    assert len(names) < BLOCK_BYTES and not names.endswith(b"\n")
    for text, code in ((NAMES, 0), (tmp_path / "bad.txt", 1)):
        if code:
            text.write_bytes(names + b"\n\xff")
        one = cli("score", "--file", text, "-m", model, "--threads", "1")
        two = cli("score", "--file", text, "-m", model, "--threads", "2", "--oversubscribe")
        assert one.code == two.code == code and one.out == two.out and one.err == two.err
        assert one.out.count("\n") == names.count(b"\n") + 1
        assert (one.err.startswith("error: ") and one.err.count("\n") == 1) if code else \
            not one.err


# ---------------------------------------------------------------------- lazy score


def _rewritten(model, target, member, data):
    with zipfile.ZipFile(model) as source, zipfile.ZipFile(target, "w") as out:
        assert member in source.namelist()
        for info in source.infolist():
            out.writestr(info, data if info.filename == member else source.read(info))


HOSTILE_HEADERS = [
    # A header that is code, not a dict literal: numpy reads headers with literal_eval.
    b"__import__('os').system('touch PWNED')",
    # A dtype that names code.
    b"{'descr': \"__import__('os').system('touch PWNED')\", 'fortran_order': False, "
    b"'shape': (3,), }",
    # An object array, whose data would need unpickling.
    b"{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
    # A shape of 10^12 elements.
    b"{'descr': '<i8', 'fortran_order': False, 'shape': (1000000000000,), }",
]


def _npy(header, payload):
    header = header + b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload


@pytest.mark.parametrize("header", HOSTILE_HEADERS)
@pytest.mark.parametrize("member", ["model_query_2_adj.npy", "model_counts_2_count.npy"])
def test_a_hostile_member_header_is_never_executed(tmp_path, model, header, member):
    import pickle

    class Alarm:
        def __reduce__(self):
            return (os.system, ("touch PWNED",))

    payload = pickle.dumps(np.array([Alarm()], dtype=object)) if b"|O" in header else \
        b"\x00" * 24
    _rewritten(model, tmp_path / "hostile.npz", member, _npy(header, payload))
    (tmp_path / "text.txt").write_text("emma\n")
    for args in (["score", "emma"], ["score", "--file", "text.txt"], ["info"]):
        result = run([*args, "-m", "hostile.npz"], tmp_path, timeout=60)
        assert not (tmp_path / "PWNED").exists()
        read_by_score = member.startswith("model_query") or "--file" not in args
        if read_by_score:
            assert result.returncode == 1
            assert one_error_line(result.stderr).startswith("error: hostile.npz ")
        else:   # score --file reads only the query tables (docs/troubleshooting-faults.md)
            assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------- Dask


class _Server:
    """A TCP server on localhost that is not Dask: silent, or answering HTTP 400."""

    def __init__(self, http):
        import socket

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.port = self.socket.getsockname()[1]
        self.http, self.connections = http, []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections.append(connection)
            if self.http:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                   b"Connection: close\r\n\r\n")
                connection.close()

    def close(self):
        self.socket.close()
        for connection in self.connections:
            connection.close()


@pytest.mark.parametrize("http, expected, seconds", [
    (True, "no Dask scheduler answered at {}: something that is not a Dask scheduler is "
           "listening there", 30),
    (False, "no Dask scheduler answered at {} within 2 s (--dask-timeout)", 20),
])
def test_a_server_that_is_not_dask(tmp_path, http, expected, seconds):
    pytest.importorskip("distributed")
    server = _Server(http)
    address = f"tcp://127.0.0.1:{server.port}"
    try:
        began = time.monotonic()
        result = run(["train", NAMES, "--test-size", "0", "-o", "x.npz", "--dask", address,
                      "--dask-timeout", "2"], tmp_path, timeout=60)
        assert time.monotonic() - began < seconds
    finally:
        server.close()
    assert result.returncode == 1
    assert one_error_line(result.stderr).startswith("error: " + expected.format(address))


def _descendants(pid):
    table = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True,
                           text=True).stdout
    children = {}
    for row in table.splitlines():
        child, parent = map(int, row.split())
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _running(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="counts processes in /proc")
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_client_takes_its_local_cluster_with_it(tmp_path, how):
    pytest.importorskip("distributed")
    text = tmp_path / "text.txt"
    text.write_text("emma olivia ava\n" * 2_000_000)
    child = start(["train", text, "--unit", "word", "--test-size", "0", "-o", "x.npz",
                   "--dask", "local", "--dask-workers", "2"], tmp_path,
                  stdout=subprocess.DEVNULL)
    try:
        workers = wait_for(lambda: len(_descendants(child.pid)) >= 2 and
                           _descendants(child.pid), 90)
        child.send_signal(how)
        child.wait(timeout=60)
        wait_for(lambda: not any(map(_running, workers)), 60)
    finally:
        if child.poll() is None:
            child.kill()
    assert not [pid for pid in workers if _running(pid)]
    if how == signal.SIGTERM:
        assert child.returncode == 143


def test_worker_failures_are_reported_once_without_tracebacks(tmp_path):
    pytest.importorskip("distributed")
    (tmp_path / "nul.txt").write_bytes(b"emma\nab\x00c\n")
    result = run(["train", "nul.txt", "--test-size", "0", "-o", "x.npz", "--dask", "local",
                  "--dask-workers", "1"], tmp_path, timeout=120)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "Traceback" not in err and "Compute Failed" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors == ["error: nul.txt looks like a binary file (a NUL byte on line 2), not "
                      "text with one item per line"]


# ---------------------------------------------------------------------- long samples


def _count_model(path, **options):
    from bigram.models.language_models import CountModel
    from bigram.ngrams.training_data import load_training_data
    from bigram.settings import Reading

    data = load_training_data([str(path)], Reading(test_size=0, **options))
    return CountModel.fit(data.vocabulary, data.counts["train"], 1.0)


def _one_at_a_time(model, n, seed, prefix, max_steps):
    import bigram.tensor as torch
    from bigram.models.sampling import sample_one_at_a_time

    state = model.start_state()
    for token in model.vocabulary.encode_text(prefix):
        state = int(model.advance(np.array([state]), np.array([token]))[0])
    drawn = sample_one_at_a_time(model, n, torch.Generator().manual_seed(seed), state,
                                 max_steps)
    join = " ".join if model.vocabulary.unit == "word" else "".join
    return [prefix + join(model.vocabulary.token(t) for t in item) for item in drawn]


@pytest.mark.parametrize("text, prefix, options", [
    (None, "", {}), (None, "ma", {}),
    ("the cat sat on the mat\nthe dog ran\na cat ran home to the dog\n", "the ",
     {"unit": "word"}),
])
def test_long_items_are_drawn_in_pieces_as_one_at_a_time(tmp_path, text, prefix, options):
    import json

    import bigram.tensor as torch
    from bigram.models.sampling import stream_items, whole_items

    path = NAMES
    if text is not None:
        path = tmp_path / "train.txt"
        path.write_text(text)
    model = _count_model(path, **options)
    tokens = len(model.vocabulary.encode_text(prefix)) if prefix else 0
    max_len, segment = 14, 3
    expected = _one_at_a_time(model, 400, 11, prefix, max_len - tokens)
    batches = list(stream_items(model, 400, torch.Generator().manual_seed(11), prefix=prefix,
                                max_len=max_len, segment=segment, batch_size=64))
    assert any(b.continues for b in batches)          # long items came in pieces
    assert all(len(b.samples.tokens) <= segment for b in batches if b.continues)
    assert whole_items(batches) == expected
    assert b"".join(b.lines() for b in batches).decode() == "".join(s + "\n" for s in expected)
    joined = b"".join(b.json_lines() for b in batches).decode()
    assert [json.loads(line) for line in joined.splitlines()] == expected
    numbers = [n for b in batches for n in b.cut_items]
    assert numbers == [i for i, s in enumerate(expected, 1)
                       if len(model.vocabulary.encode_text(s)) == max_len]


@pytest.fixture
def never_ending(arpa):
    """The names model with the end of an item made (nearly) impossible."""
    lines = []
    for line in arpa.read_text().split("\n"):
        fields = line.split("\t")
        if len(fields) >= 2 and fields[1].split(" ")[-1] == "</s>":
            fields[0] = "-99"
        lines.append("\t".join(fields))
    arpa.write_text("\n".join(lines))
    return arpa


def test_a_model_that_never_ends_streams_its_item_and_names_it(tmp_path, never_ending):
    result = run(["sample", "-m", never_ending, "-n", "2", "--seed", "3", "--max-len",
                  "20000"], tmp_path)
    assert result.returncode == 0
    assert [len(line) for line in result.stdout.decode().splitlines()] == [20000, 20000]
    assert result.stderr.decode() == ("warning: 2 items reached --max-len 20,000 and were cut "
                                      "short: items 1, 2\n")
