"""Runs a command on a real pseudo-terminal, as a person at a terminal would.

usage: pty_run.py PROMPT ANSWER -- COMMAND [ARG...]
Waits until the command prints PROMPT, types ANSWER and Enter, then copies everything the
command printed to stdout and exits with the command's exit code (no shell anywhere).
"""
import os
import pty
import select
import sys
import time


def main() -> int:
    prompt, answer, separator, *command = sys.argv[1:]
    assert separator == "--" and command, __doc__
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    transcript = b""
    answered = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the command closed the terminal
                break
            if not chunk:
                break
            transcript += chunk
        if not answered and prompt.encode() in transcript:
            os.write(fd, answer.encode() + b"\r")
            answered = True
    _, status = os.waitpid(pid, 0)
    sys.stdout.buffer.write(transcript)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
