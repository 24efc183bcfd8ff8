#!/usr/bin/env python3
"""Runs every command of README.md exactly as written (the project rule).

Every fenced ```sh / ```bash block runs, in README order, with `bash -euo pipefail` in a
temporary copy of the repository (tracked files plus untracked, not ignored ones) with a fresh
./data, CARGO_TARGET_DIR pointing at this checkout's target/ so the dependency build is shared.
Shell variables and exports carry from block to block, as in one terminal. Every ```python
block runs with python3. A block fails on a non-zero exit, a timeout, or output containing
"errors" (a GraphQL error) unless it is annotated to expect one. The first failure stops the run.

Annotations are HTML comments right above a block (GitHub does not show them):

    <!-- readme: background, ready=http://localhost:8000/readyz -->
        a server: started in the background, ready when the URL answers 200; stopped with
        SIGINT (Ctrl-C) where a later block says server-stopped, or at the end, and it must
        then exit 0
    <!-- readme: server-stopped -->
        the running server is stopped first (the block needs its database)
    <!-- readme: expect-error CODE -->
        the output must hold a GraphQL error with CODE
    <!-- readme: fixture=NAME -->
        the harness prepares the state the text assumes (FIXTURES below), then runs the block
    <!-- readme: check=NAME -->
        after the block, the harness checks that it did what the text says (CHECKS below)
    <!-- readme: skip (reason) -->
        not run here; the reason is printed (for instance another platform's install command:
        the harness runs on Debian 12, as root in CI)
    <!-- readme: timeout=SECONDS -->
        instead of 120 s (1800 s for a block running cargo, which may wait for a build)

Items combine with commas. Logs of every block and server: test-output/readme/.
Usage: python3 tests/readme/run.py [FILE.md]   (README.md by default)
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
OUT = ROOT / "test-output" / "readme"
SOURCE = "README.md"  # the file being run, in messages
PORT = 8000
DEFAULT_TIMEOUT = 120
CARGO_TIMEOUT = 1800  # a first build of the copy, possibly behind another build's lock
READY_TIMEOUT = 1800
STOP_TIMEOUT = 90

# State the README's text assumes but no command of it creates, prepared before the block
# that names it: (what it stands for, bash commands run in the block's shell state).
FIXTURES = {
    "invitation-token": (
        "the token of the invitation link, as a person copies it from the mail (here from the"
        " server log's MAIL NOT SENT entry: the README runs without SMTP_URL)",
        "for __i in $(seq 300); do\n"
        "  INVITE_TOKEN=$(grep -o 'accept-invitation?token=[A-Za-z0-9_-]*' \"$README_SERVER_LOG\""
        " | tail -n 1 | cut -d= -f2 || true)\n"
        "  [ -n \"$INVITE_TOKEN\" ] && break\n"
        "  sleep 0.1\n"
        "done\n"
        "test -n \"$INVITE_TOKEN\"\n",
    ),
    "surrealkv-store": (
        "an existing user's store: the data so far, moved into surrealkv://./data/latchkey.db",
        "mv data/latchkey.db data/before-upgrade.rocksdb\n"
        "cargo run -q -- store copy --from rocksdb://./data/before-upgrade.rocksdb"
        " --to surrealkv://./data/latchkey.db\n"
        "rm -rf data/before-upgrade.rocksdb\n",
    ),
}

# What a block's text promises that its own output does not show, checked right after it:
# (what it proves, bash commands run in the block's shell state; a non-zero exit fails).
CHECKS = {
    # The Debian install command before the first build: surrealdb-librocksdb-sys (RocksDB,
    # the default engine) builds C++20 with the cc crate, which calls `c++`, and runs bindgen,
    # which dlopens libclang where clang-sys looks for it (/usr/lib/llvm-*/lib on Debian).
    "build-tools": (
        "libclang.so loads from /usr/lib/llvm-*/lib; c++ and clang++ build and run C++20",
        r"""
ls /usr/lib/llvm-*/lib/libclang.so
python3 -c 'import ctypes, glob; ctypes.CDLL(sorted(glob.glob("/usr/lib/llvm-*/lib/libclang.so"))[-1]).clang_createIndex'
c++ --version
# The README says clang++ is the c++ command when g++ is absent: Debian's clang registers it.
update-alternatives --list c++ | grep -xF /usr/bin/clang++
__probe=$(mktemp -d)
printf '#include <cstdint>\n#include <span>\nint main() { std::span<const std::uint8_t> s; return int(s.size()); }\n' > "$__probe/probe.cc"
for __cxx in c++ clang++; do
  "$__cxx" -std=c++20 "$__probe/probe.cc" -o "$__probe/probe"
  "$__probe/probe"
done
rm -rf "$__probe"
""",
    ),
}


@dataclasses.dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    skip: str | None = None
    background: bool = False
    ready: str | None = None
    server_stopped: bool = False
    expect_error: str | None = None
    fixture: str | None = None
    check: str | None = None
    timeout: float | None = None

    def first_line(self) -> str:
        for l in self.text.splitlines():
            if l.strip():
                return l.strip()
        return "(empty)"


class Failure(Exception):
    pass


def parse_annotation(block: Block, body: str, line: int) -> None:
    """Applies the items of one `<!-- readme: ... -->` comment to `block`."""
    m = re.search(r"\bskip\s*\(([^)]*)\)", body)
    if m:
        block.skip = m.group(1).strip()
        body = body[: m.start()] + body[m.end() :]
        if not block.skip:
            raise Failure(f"{SOURCE}:{line}: skip needs a reason: skip (why)")
    for item in (i.strip() for i in body.split(",")):
        if not item:
            continue
        if item == "background":
            block.background = True
        elif item.startswith("ready="):
            block.ready = item[len("ready=") :]
        elif item == "server-stopped":
            block.server_stopped = True
        elif item.startswith("expect-error"):
            code = item[len("expect-error") :].strip()
            if not code:
                raise Failure(f"{SOURCE}:{line}: expect-error needs a code")
            block.expect_error = code
        elif item.startswith("fixture="):
            block.fixture = item[len("fixture=") :]
            if block.fixture not in FIXTURES:
                raise Failure(f"{SOURCE}:{line}: unknown fixture {block.fixture!r}")
        elif item.startswith("check="):
            block.check = item[len("check=") :]
            if block.check not in CHECKS:
                raise Failure(f"{SOURCE}:{line}: unknown check {block.check!r}")
        elif item.startswith("timeout="):
            block.timeout = float(item[len("timeout=") :])
        elif item == "skip":
            raise Failure(f"{SOURCE}:{line}: skip needs a reason: skip (why)")
        else:
            raise Failure(f"{SOURCE}:{line}: unknown readme annotation {item!r}")
    if block.background and not block.ready:
        raise Failure(f"{SOURCE}:{line}: background needs ready=URL")


def parse_readme(text: str) -> list[Block]:
    """The runnable blocks of the README, with their annotations."""
    blocks: list[Block] = []
    lines = text.splitlines()
    pending: list[tuple[int, str]] = []  # annotations waiting for their block
    i = 0
    while i < len(lines):
        line = lines[i]
        ann = re.fullmatch(r"\s*<!--\s*readme:(.*?)-->\s*", line)
        fence = re.fullmatch(r"(`{3,})\s*([\w+-]*)\s*", line)
        if ann:
            pending.append((i + 1, ann.group(1)))
        elif fence:
            ticks, lang = fence.group(1), fence.group(2).lower()
            start = i
            body = []
            i += 1
            while i < len(lines) and not re.fullmatch(re.escape(ticks) + r"\s*", lines[i]):
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise Failure(f"{SOURCE}:{start + 1}: unclosed code fence")
            if lang in ("sh", "bash", "python"):
                block = Block(line=start + 1, lang=lang, text="\n".join(body) + "\n")
                for n, a in pending:
                    parse_annotation(block, a, n)
                blocks.append(block)
            elif pending:
                raise Failure(f"{SOURCE}:{pending[0][0]}: annotation on a ```{lang} block")
            pending = []
        elif line.strip() and pending:
            raise Failure(f"{SOURCE}:{pending[0][0]}: annotation not followed by a code block")
        i += 1
    if pending:
        raise Failure(f"{SOURCE}:{pending[0][0]}: annotation not followed by a code block")
    return blocks


def config_variables() -> list[str]:
    """The environment variables latchkey reads (src/config.rs VARIABLES): the run starts
    with none of them set, as a reader's fresh shell would."""
    src = (ROOT / "src" / "config.rs").read_text()
    m = re.search(r"VARIABLES\s*:\s*&\[&str\]\s*=\s*&\[(.*?)\];", src, re.S)
    if not m:
        raise Failure("src/config.rs: VARIABLES not found")
    return re.findall(r'"([A-Z0-9_]+)"', m.group(1))


def copy_repo(dest: Path) -> None:
    """Tracked and untracked-but-not-ignored files of the working tree, as they are now."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout
    for rel in sorted(set(p for p in out.decode().split("\0") if p)):
        src = ROOT / rel
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree
        dst = dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        elif src.is_file():
            shutil.copy2(src, dst)


def port_in_use(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port (SO_REUSEADDR, as tokio binds: a
    TIME_WAIT left by the previous server does not count)."""
    with socket.socket() as s:
        s.settimeout(1)
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return True
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


class Runner:
    def __init__(self, work: Path, env: dict[str, str]):
        self.work = work
        self.env = env
        self.state = work.parent / "readme-state.sh"  # outside the copy: not the README's
        self.state.write_text("")
        self.baseline = work.parent / "readme-baseline"
        names = subprocess.run(
            ["bash", "-c", "compgen -v"], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        # Variables bash itself sets or changes are never carried.
        own = {"BASH_COMMAND", "BASH_REMATCH", "FUNCNAME", "PIPESTATUS", "BASH_ARGC",
               "BASH_ARGV", "BASH_LINENO", "BASH_SOURCE", "LINENO", "OPTARG", "OPTIND",
               "REPLY", "MAPFILE", "_",
               # The harness's own: the current server's log, set anew for each server.
               "README_SERVER_LOG"}
        self.baseline.write_text("\n".join(sorted(set(names) | own)) + "\n")
        self.server: subprocess.Popen | None = None
        self.server_block: Block | None = None
        self.server_log = None
        self.n = 0

    def script(self, body: str, save: bool = True) -> str:
        """`body` after the state of earlier blocks, saving the state again on exit (not for
        a server, which exits long after later blocks have changed the state)."""
        load = f"source {shlex.quote(str(self.state))}\n"
        if not save:
            return load + body
        return (
            load +
            "__readme_save() {\n"
            "  local __n\n"
            "  for __n in $(compgen -v); do\n"
            f"    grep -qxF \"$__n\" {shlex.quote(str(self.baseline))} && continue\n"
            "    case $__n in __*) continue;; esac\n"
            "    declare -p \"$__n\" 2>/dev/null\n"
            f"  done > {shlex.quote(str(self.state))}.new\n"
            f"  mv {shlex.quote(str(self.state))}.new {shlex.quote(str(self.state))}\n"
            "}\n"
            "trap __readme_save EXIT\n"
            f"{body}"
        )

    def write_script(self, name: str, body: str, save: bool = True) -> Path:
        path = OUT / name
        path.write_text(self.script(body, save))
        return path

    def run_shell(self, name: str, body: str, timeout: float) -> tuple[int, str]:
        path = self.write_script(name + ".sh", body)
        log = OUT / (name + ".log")
        with open(log, "w") as out:
            p = subprocess.Popen(
                ["bash", "-euo", "pipefail", str(path)], cwd=self.work, env=self.env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                raise Failure(f"timed out after {timeout:.0f} s:\n{log.read_text()}")
        return rc, log.read_text()

    def start_server(self, block: Block, name: str, timeout: float) -> None:
        if port_in_use(PORT):
            raise Failure(
                f"port {PORT} is in use: the README's server needs localhost:{PORT}; "
                "stop whatever listens there and run again"
            )
        path = self.write_script(name + ".sh", block.text, save=False)
        log_path = OUT / (name + ".log")
        self.server_log = log_path
        # Fixtures that read what the server printed (a mail's link) find its log here.
        self.env["README_SERVER_LOG"] = str(log_path)
        out = open(log_path, "w")
        self.server = subprocess.Popen(
            ["bash", "-euo", "pipefail", str(path)], cwd=self.work, env=self.env,
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        self.server_block = block
        deadline = time.monotonic() + timeout
        while True:
            rc = self.server.poll()
            if rc is not None:
                self.server = None
                raise Failure(f"the server exited ({rc}) before {block.ready} answered\n"
                              + tail(log_path))
            try:
                with urllib.request.urlopen(block.ready, timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                raise Failure(f"{block.ready} did not answer 200 within {timeout:.0f} s\n"
                              + tail(log_path))
            time.sleep(0.5)

    def stop_server(self) -> None:
        """Ctrl-C: SIGINT to the server's process group, then it must exit 0."""
        if self.server is None:
            return
        p, self.server = self.server, None
        os.killpg(p.pid, signal.SIGINT)
        try:
            rc = p.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            raise Failure(f"the server did not stop within {STOP_TIMEOUT} s of Ctrl-C\n"
                          + tail(self.server_log))
        if rc != 0:
            raise Failure(f"the server exited {rc} after Ctrl-C\n" + tail(self.server_log))

    def kill_server(self) -> None:
        if self.server is not None:
            try:
                os.killpg(self.server.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.server.wait()
            self.server = None

    def run_block(self, block: Block) -> str:
        """Runs one block; returns a short outcome or raises Failure."""
        self.n += 1
        name = f"{self.n:02d}-line{block.line}"
        uses_cargo = re.search(r"\bcargo\b", block.text) is not None
        timeout = block.timeout or (CARGO_TIMEOUT if uses_cargo else DEFAULT_TIMEOUT)
        notes = []
        if block.server_stopped:
            if self.server is None:
                raise Failure("server-stopped, but no server is running: drop the annotation")
            self.stop_server()
            notes.append("server stopped with Ctrl-C")
        elif block.background and self.server is not None:
            raise Failure(
                f"starts a server while the one of {SOURCE}:"
                f"{self.server_block.line} runs: say to stop it, and annotate server-stopped"
            )
        if block.fixture:
            what, commands = FIXTURES[block.fixture]
            rc, output = self.run_shell(name + "-fixture", commands, CARGO_TIMEOUT)
            if rc != 0:
                raise Failure(f"fixture {block.fixture} failed ({rc}):\n{output}")
            notes.append(f"fixture {block.fixture}: {what}")
        if block.background:
            started = time.monotonic()
            self.start_server(block, name, block.timeout or READY_TIMEOUT)
            notes.append(f"server ready in {time.monotonic() - started:.1f} s")
            return "; ".join(notes)
        if block.lang == "python":
            path = OUT / (name + ".py")
            path.write_text(block.text)
            try:
                p = subprocess.run(
                    [sys.executable, str(path)], cwd=self.work, env=self.env,
                    stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                )
                rc, output = p.returncode, p.stdout + p.stderr
            except subprocess.TimeoutExpired as e:
                raise Failure(f"timed out after {timeout:.0f} s:\n{e.stdout or ''}{e.stderr or ''}")
            (OUT / (name + ".log")).write_text(output)
        else:
            rc, output = self.run_shell(name, block.text, timeout)
        if rc != 0:
            raise Failure(f"exit status {rc}:\n{output}")
        has_error = '"errors"' in output or "'errors'" in output
        if block.expect_error:
            if not has_error or block.expect_error not in output:
                raise Failure(f"expected a GraphQL error {block.expect_error}:\n{output}")
            notes.append(f"answered {block.expect_error}, as expected")
        elif has_error:
            raise Failure(f'the output holds "errors":\n{output}')
        if block.check:
            what, commands = CHECKS[block.check]
            rc, output = self.run_shell(name + "-check", commands, DEFAULT_TIMEOUT)
            if rc != 0:
                raise Failure(f"check {block.check} ({what}) failed ({rc}):\n{output}")
            notes.append(f"check {block.check}: {what}")
        return "; ".join(notes)


def tail(path: Path | None, n: int = 40) -> str:
    if path is None or not path.exists():
        return ""
    lines = path.read_text(errors="replace").splitlines()[-n:]
    return "--- last lines of " + str(path) + "\n" + "\n".join(lines)


def main() -> int:
    started = time.monotonic()
    # Another file may be named to try the harness itself; it runs in the same copy.
    global SOURCE
    readme = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else README
    SOURCE = readme.name
    try:
        blocks = parse_readme(readme.read_text())
    except Failure as e:
        print(f"readme: {e}", file=sys.stderr)
        return 1
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)

    env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
    for name in config_variables():
        env.pop(name, None)
    env["CARGO_TARGET_DIR"] = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    env["CARGO_TERM_COLOR"] = "never"
    env["NO_COLOR"] = "1"

    tmp = Path(tempfile.mkdtemp(prefix="latchkey-readme-"))
    work = tmp / "latchkey"
    runner: Runner | None = None

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    ok = skipped = 0
    failed: str | None = None
    try:
        copy_repo(work)
        shutil.rmtree(work / "data", ignore_errors=True)
        runner = Runner(work, env)
        print(f"readme: {len(blocks)} blocks of {SOURCE} in a copy at {work} "
              f"(CARGO_TARGET_DIR={env['CARGO_TARGET_DIR']})", flush=True)
        for block in blocks:
            head = f"{SOURCE}:{block.line} ```{block.lang}: {block.first_line()}"
            if block.skip:
                print(f"- {head}\n    skipped: {block.skip}", flush=True)
                skipped += 1
                continue
            print(f"- {head}", flush=True)
            t0 = time.monotonic()
            try:
                note = runner.run_block(block)
            except Failure as e:
                failed = f"{SOURCE}:{block.line}"
                print(f"    FAILED after {time.monotonic() - t0:.1f} s: {e}", flush=True)
                break
            ok += 1
            print(f"    ok ({time.monotonic() - t0:.1f} s){': ' + note if note else ''}",
                  flush=True)
        if failed is None and runner.server is not None:
            try:
                runner.stop_server()
                print("- end: server stopped with Ctrl-C, exit 0", flush=True)
            except Failure as e:
                failed = "the end"
                print(f"    FAILED: {e}", flush=True)
    finally:
        if runner is not None:
            runner.kill_server()
        shutil.rmtree(tmp, ignore_errors=True)
    total = time.monotonic() - started
    verdict = f"FAILED at {failed}" if failed else "ok"
    rest = len(blocks) - ok - skipped
    print(f"readme: {len(blocks)} blocks: {ok} ran ok, {skipped} skipped"
          f"{f', {rest} failed or not reached' if rest else ''}, in {total:.0f} s: {verdict} "
          f"(logs: {OUT.relative_to(ROOT)}/)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
