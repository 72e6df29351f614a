#!/usr/bin/env python3
"""check-lessons: runs the examples of a lesson and checks their output.

    check-lessons.py [--path DIR]... README.md...

A lesson marks the examples it promises in fenced blocks whose info string
starts with "console".  In a block, a line starting with "$ " is a command;
the lines after it, up to the next command, are what it prints.  Each
command runs with bash on a pseudo-terminal of its own (so stdout is a
terminal, as for the reader), in one private folder per lesson, with every
--path DIR in front of PATH; a command whose line ends with a backslash goes
on on the next line, as in a shell, and so does one with a here-document
(<<'EOF') up to the line that ends it.  Words after "console" change how a block runs:

  console                  run the commands one after another; compare
  console terminal=N       a second terminal: start the block's one command in
                           the background, wait until it has printed the lines
                           shown, then go on with the lesson
  console later=N          no commands: what terminal N shows later.  Wait for
                           its command to end, then compare all it printed with
                           the lines of both blocks.  A line "^C" in it is where the reader types Ctrl-C:
                           it is typed once the lines before it have appeared
  ctrl-c-after=MS          type Ctrl-C MS milliseconds after starting (a
                           command that runs until interrupted)
  any-order                the lines may come in any order (several processes
                           print at once); with a line "...", other lines may
                           come too
  skip="REASON"            not run (an interactive example, say)

Output is compared after normalising what legitimately varies: times ("12
ms", "0.50 s", dd's rates), process ids ("pid 123"), TCP ports ("port 41105",
"127.0.0.1 41105"), colours (SGR escapes), ls -l's owner, group and
date, temporary names (/tmp/name-XXXXXX) and a "^C" echoed by the terminal.
A line "..." in a block stands for any number of lines.

It prints TAP: one test point per block, "not ok" with the difference.
"""
import collections
import os
import pty
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
import fcntl
import struct

COMMAND_TIMEOUT = 20.0  # seconds a command or a terminal may take


def normalise(text):
    text = text.replace("\r\n", "\n")
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # colours: the reader sees the text
    text = "\n".join(line for line in text.split("\n") if line != "^C").replace("^C", "")
    lines = []
    for line in text.split("\n"):
        line = re.sub(r" *\d+(\.\d+)? ?(ms|s)\b", r" N \2", line)
        line = re.sub(r" *\d+(\.\d+)? ?[kMG]?B/s\b", r" N B/s", line)
        line = re.sub(r"\bpid \d+", "pid N", line)
        line = re.sub(r"\b(port|127\.0\.0\.1) \d+\b", r"\1 N", line)
        line = re.sub(r"^([-pdl][-rwxsStT]{9}) +\d+ +\S+ +\S+ +(\d+) +\w+ +\d+ +[\d:]+ ",
                      r"\1 1 USER GROUP \2 DATE ", line)
        line = re.sub(r"(/tmp/[A-Za-z.-]+-)[A-Za-z0-9]{6}\b", r"\1XXXXXX", line)
        lines.append(line.rstrip())
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def pattern_of(expected):
    parts = []
    for line in expected:
        parts.append(r"(?:[^\n]*\n)*?" if line == "..." else re.escape(line) + r"\n")
    return re.compile("".join(parts))


def matches(expected, actual, prefix=False, any_order=False):
    expected = normalise("\n".join(expected))
    actual = normalise(actual)
    if any_order and not prefix:
        if "..." in expected:  # these lines among others, in any order
            wanted = collections.Counter(line for line in expected if line != "...")
            return not wanted - collections.Counter(actual)
        return sorted(expected) == sorted(actual)
    text = "".join(line + "\n" for line in actual)
    pattern = pattern_of(expected)
    found = pattern.match(text) if prefix else pattern.fullmatch(text)
    return found is not None


class Terminal:
    """A command running on a pseudo-terminal of its own."""

    def __init__(self, command, cwd, env):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        self.proc = subprocess.Popen(
            ["bash", "-c", command], cwd=cwd, env=env,
            stdin=slave, stdout=slave, stderr=slave,
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.output = b""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:  # EIO: every slave descriptor is closed
                return
            if not data:
                return
            with self.lock:
                self.output += data

    def text(self):
        with self.lock:
            return self.output.decode("utf-8", "replace")

    def type_ctrl_c(self):
        os.write(self.master, b"\x03")

    def finish(self, timeout=COMMAND_TIMEOUT):
        """Waits for the command to end; False if it had to be killed."""
        try:
            self.proc.wait(timeout)
            ended = True
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            ended = False
        # What the command left running in its session goes too.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.reader.join(2.0)
        os.close(self.master)
        return ended


class Block:
    def __init__(self, path, line, info, body):
        self.where = "%s:%d" % (path, line)
        words = shlex.split(info)
        self.options = {}
        for word in words:
            key, _, value = word.partition("=")
            self.options[key] = value
        self.steps = []  # [command or None, [expected lines]]
        heredoc = None  # the word that ends the here-document being read
        for text in body:
            if heredoc is not None or (self.steps and self.steps[-1][0] is not None
                                       and not self.steps[-1][1]
                                       and self.steps[-1][0].endswith("\\")):
                self.steps[-1][0] += "\n" + text  # the command goes on
                if text == heredoc:
                    heredoc = None
            elif text.startswith("$ "):
                self.steps.append([text[2:], []])
                m = re.search(r"<<-?\s*'?(\w+)'?", text)
                heredoc = m.group(1) if m else None
            elif not self.steps:
                self.steps.append([None, [text]])
            else:
                self.steps[-1][1].append(text)


def blocks_of(path):
    blocks = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^```console\b(.*)$", lines[i])
        if m:
            start = i + 1
            j = start
            while lines[j] != "```":
                j += 1
            blocks.append(Block(path, i + 1, m.group(1), lines[start:j]))
            i = j
        i += 1
    return blocks


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class Lesson:
    def __init__(self, env):
        self.env = env
        self.dir = tempfile.mkdtemp(prefix="lesson-")
        self.terminals = {}  # name -> (Terminal, lines shown so far)

    def run_block(self, b):
        """None when it matched, or a text saying what differed."""
        o = b.options
        if "later" in o:
            name = o["later"]
            if name not in self.terminals:
                return "no terminal %s is running" % name
            term, shown = self.terminals.pop(name)
            # A line "^C" is where the reader types Ctrl-C: once the lines
            # before it have appeared.
            later = [line for _, lines in b.steps for line in lines]
            for i, line in enumerate(later):
                if line == "^C":
                    before = shown + [x for x in later[:i] if x != "^C"]
                    if not wait_until(lambda: matches(before, term.text(), prefix=True),
                                      COMMAND_TIMEOUT):
                        break  # the comparison below says what differs
                    term.type_ctrl_c()
            if not term.finish():
                return "terminal %s did not end; it showed:\n%s" % (name, term.text())
            expected = shown + [line for line in later if line != "^C"]
            if not matches(expected, term.text(), any_order="any-order" in o):
                return difference(expected, term.text())
            return None
        for command, expected in b.steps:
            if command is None:
                return "output before any command"
            term = Terminal(command, self.dir, self.env)
            if "terminal" in o:
                name = o["terminal"]
                if name in self.terminals:
                    return "terminal %s is still running" % name
                self.terminals[name] = (term, expected)
                if not wait_until(lambda: matches(expected, term.text(), prefix=True), COMMAND_TIMEOUT):
                    return "terminal %s never showed what the lesson says:\n%s" % (
                        name, difference(expected, term.text()))
                continue
            if "ctrl-c-after" in o:
                time.sleep(int(o["ctrl-c-after"]) / 1000)
                term.type_ctrl_c()
            if not term.finish():
                return "$ %s\ndid not end within %d s; it showed:\n%s" % (
                    command, COMMAND_TIMEOUT, term.text())
            if not matches(expected, term.text(), any_order="any-order" in o):
                return "$ %s\n%s" % (command, difference(expected, term.text()))
        return None

    def close(self):
        left = []
        for name, (term, _) in self.terminals.items():
            term.finish(0.5)
            left.append(name)
        subprocess.run(["rm", "-rf", self.dir])
        return left


def difference(expected, actual):
    return "expected:\n%s\ngot:\n%s" % (
        "\n".join("  | " + line for line in normalise("\n".join(expected))),
        "\n".join("  | " + line for line in normalise(actual)))


def main():
    args = sys.argv[1:]
    paths = []
    while args and args[0] == "--path":
        paths.append(os.path.abspath(args[1]))
        args = args[2:]
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(paths + [env.get("PATH", "/usr/bin:/bin")])
    env["LC_ALL"] = "C.UTF-8"
    env["TERM"] = "dumb"
    # What would change the programs' output or buffering from outside.
    for name in ["G_MESSAGES_DEBUG", "PYTHONUNBUFFERED", "LD_PRELOAD", "_STDBUF_O"]:
        env.pop(name, None)
    # In a sanitized build, stdbuf's preloaded library must be allowed in
    # front of AddressSanitizer's runtime.
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"),
                                                 "verify_asan_link_order=0"]))

    work = [(readme, b) for readme in args for b in blocks_of(readme)]
    print("1..%d" % (len(work) + len(args)))
    number = 0
    failed = False
    for readme in args:
        lesson = Lesson(env)
        for _, b in [(r, b) for r, b in work if r == readme]:
            number += 1
            if "skip" in b.options:
                print("ok %d %s # SKIP %s" % (number, b.where, b.options["skip"]))
                continue
            started = time.monotonic()
            problem = lesson.run_block(b)
            took = time.monotonic() - started
            if problem is None:
                print("ok %d %s (%.1f s)" % (number, b.where, took))
            else:
                failed = True
                print("not ok %d %s" % (number, b.where))
                print("\n".join("# " + line for line in problem.split("\n")))
            sys.stdout.flush()
        number += 1
        left = lesson.close()
        if left:
            failed = True
            print("not ok %d %s: terminal %s still running at the end" % (
                number, readme, ", ".join(left)))
        else:
            print("ok %d %s: every terminal ended" % (number, readme))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
