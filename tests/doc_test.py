#!/usr/bin/env python3
"""Docs that run: executes every ```sql block of README.md and docs/*.md in the real sqlite3 shell.

Usage (from anywhere; paths are taken relative to the repository root):

    /usr/bin/python3 tests/doc_test.py --ext build/release/vecgraph.so [--sqlite3 sqlite3] [-v] [FILE.md ...]

Without FILE arguments it checks README.md and every docs/*.md. Exit status 0 when every block ran
as written, 1 on a failure (each failure names the file, line, block, statement, expected and
actual), 2 on a usage error. Python 3 standard library only; ctest runs it as the test `docs`.

The convention (docs/writing_docs.md says the same for writers):

* Blocks. Every fenced block whose info string is `sql` runs. A block opened with ```sql no-run is a
  syntax sketch and is skipped (the summary counts them); use it sparingly. Other languages
  (sh, python, c++, plain ```) are not run.
* One connection per file. All blocks of one .md file run in order in one `sqlite3 :memory:`
  process, so a later block can use the tables an earlier one created. README.md starts from an
  empty database and must create what it uses; each docs/*.md file first gets the fixture
  tests/doc/fixture.sql (small deterministic tables, listed at its top). Each file is a fresh
  process, so the executor's statistics start empty.
* The extension. A `.load <anything>` line in a block loads the extension under test instead of
  <anything> (README's `.load ./build/release/vecgraph` works from any build). A file without a
  `.load` line gets one before its first block.
* Statements. A block is split into statements the way the shell does (sqlite3_complete); a line
  starting with `.` outside a statement is a dot-command (no trailing comment:
  the shell would take it as arguments). Output mode is fixed: `.mode list`,
  `.separator |`, `.headers off`, `.nullvalue NULL` (a doc block may change it, the change then
  lasts for the rest of that file).
* Shown output. `-- → TEXT` on the line(s) right after a statement, or at the end of the line
  that finishes it, is what the shell must print for that statement: one `-- →` per output line,
  compared exactly (trailing spaces ignored). `-- → (no rows)` means it prints nothing. A ```text
  block that directly follows a sql block (only blank lines between) is the expected output of
  that block's last statement. A statement without a `-- →` may print anything, but must not fail.
* Expected errors. `-- error: PREFIX` (after the statement or at the end of its last line): the
  statement must fail with a message starting with PREFIX (the shell's "Runtime error near line
  N: " / "Parse error near line N: " is not part of it).
* Plain comments (`-- anything else`) are just comments.
"""

import argparse
import glob
import os
import re
import sqlite3  # only for sqlite3.complete_statement (splitting); statements run in the shell
import subprocess
import sys

ARROW = "-- →"
ERROR = "-- error:"
NO_ROWS = "(no rows)"
MARK = "@@vecgraph-doc-item"
SETUP = [".headers off", ".mode list", ".separator |", ".nullvalue NULL"]
ERROR_LINE = re.compile(r"^(?:Parse error|Runtime error|Error)(?: near line \d+)?: (.*)$")
TIMEOUT_S = 600  # per file
FENCE = re.compile(r"^(\s*)(`{3,})\s*([^`]*)$")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(ROOT, "tests", "doc", "fixture.sql")


class DocError(Exception):
    """A malformed doc (an unfinished statement, an arrow with nothing before it)."""


class Item:
    def __init__(self, kind, text, line, block, block_line):
        self.kind = kind  # 'sql' or 'dot'
        self.text = text
        self.line = line  # first line in the .md file
        self.block = block  # 1-based number of the sql block in the file
        self.block_line = block_line
        self.expected = None  # list of output lines, or None (not compared)
        self.error = None  # expected error prefix, or None

    def expect_line(self, text, where):
        if self.error is not None:
            raise DocError(f"{where}: both an expected error and expected output")
        if self.expected is None:
            self.expected = []
        self.expected.append(text)

    def expect_error(self, text, where):
        if self.expected is not None or self.error is not None:
            raise DocError(f"{where}: a second expectation for one statement")
        self.error = text


def fenced_blocks(lines):
    """Yields (info, first_content_line_number, content_lines) for each fenced block."""
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, ticks, info = m.group(1), m.group(2), m.group(3).strip()
        start = i + 1
        body = []
        j = start
        while j < len(lines):
            close = re.match(r"^\s*(`{3,})\s*$", lines[j])
            if close and len(close.group(1)) >= len(ticks):
                break
            line = lines[j]
            if line.startswith(indent):
                line = line[len(indent):]
            body.append(line)
            j += 1
        yield info, start + 1, body, j  # line numbers are 1-based; j = closing fence index
        i = j + 1


def comment_start(text):
    """Index of the last `--` comment on the last line of `text` (outside quotes), or -1."""
    i, n, last = 0, len(text), -1
    while i < n:
        c = text[i]
        if c in "'\"`[":
            end = {"'": "'", '"': '"', "`": "`", "[": "]"}[c]
            i += 1
            while i < n and text[i] != end:
                i += 1
            i += 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            if j < 0:
                last = i
                break
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            i += 1
    return last


def attach(item, comment, where):
    """Applies a `-- → ...` or `-- error: ...` comment to item; False if it is a plain comment."""
    if comment.startswith(ARROW):
        item.expect_line(comment[len(ARROW):].strip(), where)
        return True
    if comment.startswith(ERROR):
        item.expect_error(comment[len(ERROR):].strip(), where)
        return True
    return False


def parse_file(path):
    """Returns (items, n_blocks_run, n_blocks_skipped)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    rel = os.path.relpath(path, ROOT)
    items, run, skipped = [], 0, 0
    prev_sql_end = None  # index of the closing fence of the last sql block, and its last item
    prev_last_item = None
    for info, first, body, close in fenced_blocks(lines):
        words = info.split()
        lang = words[0].lower() if words else ""
        if lang == "text" and prev_sql_end is not None and all(
                not l.strip() for l in lines[prev_sql_end + 1:first - 2]):
            if prev_last_item is None:
                raise DocError(f"{rel}:{first - 1}: a text block after a sql block without statements")
            if prev_last_item.expected is not None or prev_last_item.error is not None:
                raise DocError(f"{rel}:{first - 1}: a text block for a statement that already has `-- →`")
            prev_last_item.expected = [l.rstrip() for l in body]
            while prev_last_item.expected and not prev_last_item.expected[-1]:
                prev_last_item.expected.pop()
            prev_sql_end = None
            continue
        prev_sql_end = None
        if lang != "sql":
            continue
        if "no-run" in words[1:]:
            skipped += 1
            continue
        run += 1
        block = run + skipped
        buf, buf_line, last = [], None, None
        for off, line in enumerate(body):
            no = first + off
            where = f"{rel}:{no}"
            s = line.strip()
            if not buf:
                if not s:
                    continue
                if s.startswith(ARROW) or s.startswith(ERROR):
                    if last is None:
                        raise DocError(f"{where}: `{s[:12]}` with no statement before it")
                    attach(last, s, where)
                    continue
                if s.startswith("--"):
                    continue
                if s.startswith("."):
                    last = Item("dot", s, no, block, first - 1)
                    items.append(last)
                    continue
                buf_line = no
            elif s.startswith(ARROW) or s.startswith(ERROR):
                raise DocError(f"{where}: `{s[:12]}` inside an unfinished statement (missing `;`?)")
            buf.append(line)
            text = "\n".join(buf)
            if sqlite3.complete_statement(text):
                last = Item("sql", text, buf_line, block, first - 1)
                c = comment_start(text)
                if c >= 0:
                    attach(last, text[c:].strip(), where)
                items.append(last)
                buf = []
        if buf:
            raise DocError(f"{rel}:{buf_line}: block {block} ends inside a statement (missing `;`?)")
        prev_sql_end, prev_last_item = close, last
    return items, run, skipped


def build_script(items, ext, fixture):
    ext_arg = ext[:-3] if ext.endswith(".so") else ext
    out = list(SETUP)
    if not any(it.kind == "dot" and it.text.split()[0] == ".load" for it in items):
        out.append(f".load {ext_arg}")
    if fixture:
        out.append(f".print {MARK} fixture")
        out.append(f".read {fixture}")
    for n, it in enumerate(items):
        out.append(f".print {MARK} {n}")
        if it.kind == "dot" and it.text.split()[0] == ".load":
            out.append(f".load {ext_arg}")
        else:
            out.append(it.text)
    out.append(f".print {MARK} end")
    return "\n".join(out) + "\n"


def split_output(text):
    """Maps item number (or 'fixture'/'pre') to its output lines."""
    parts = {"pre": []}
    cur = "pre"
    for line in text.split("\n"):
        if line.startswith(MARK + " "):
            key = line[len(MARK) + 1:].strip()
            cur = int(key) if key.isdigit() else key
            parts[cur] = []
        else:
            parts[cur].append(line.rstrip())
    return parts


def show(lines):
    return "\n".join("      | " + l for l in lines) if lines else "      (nothing)"


def check_file(path, sqlite3_shell, ext, verbose):
    rel = os.path.relpath(path, ROOT)
    items, run, skipped = parse_file(path)
    fixture = FIXTURE if os.path.dirname(os.path.abspath(path)) == os.path.join(ROOT, "docs") else None
    script = build_script(items, ext, fixture)
    try:
        proc = subprocess.run([sqlite3_shell, ":memory:"], input=script, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, cwd=ROOT, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return run, skipped, len(items), [f"{rel}: the shell did not finish within {TIMEOUT_S} s; last output:\n"
                                          f"{show(out.splitlines()[-10:])}"]
    parts = split_output(proc.stdout)
    failures = []
    for key in ("pre", "fixture"):
        if key in parts and any(parts[key]) and any(ERROR_LINE.match(l) for l in parts[key]):
            failures.append(f"{rel}: setup ({'fixture ' + os.path.relpath(FIXTURE, ROOT) if key == 'fixture' else '.load'})"
                            f" failed:\n{show(parts[key])}")
    if "end" not in parts:
        failures.append(f"{rel}: the shell stopped early (exit status {proc.returncode}); last output:\n"
                        f"{show(proc.stdout.splitlines()[-10:])}")
    for n, it in enumerate(items):
        out = parts.get(n)
        if out is None:
            break
        while out and out[-1] == "":
            out.pop()
        errors = [m.group(1) for m in map(ERROR_LINE.match, out) if m]
        head = (f"{rel}:{it.line} (block {it.block}, opened at line {it.block_line}): statement\n"
                + "\n".join("      > " + l for l in it.text.split("\n")))
        if verbose:
            print(head + "\n" + show(out))
        if it.error is not None:
            if not errors:
                failures.append(f"{head}\n    expected an error starting with: {it.error}\n    but it printed:\n{show(out)}")
            elif not errors[0].startswith(it.error):
                failures.append(f"{head}\n    expected an error starting with: {it.error}\n    actual error: {errors[0]}")
            continue
        if errors:
            failures.append(f"{head}\n    failed unexpectedly: {errors[0]}\n    output:\n{show(out)}")
            continue
        if it.expected is not None:
            want = [] if it.expected == [NO_ROWS] else [l.rstrip() for l in it.expected]
            if out != want:
                failures.append(f"{head}\n    expected:\n{show(want)}\n    actual:\n{show(out)}")
    return run, skipped, len(items), failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ext", required=True, help="path of vecgraph.so (with or without .so)")
    ap.add_argument("--sqlite3", default="sqlite3", help="the sqlite3 shell (default: sqlite3 on PATH)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every statement and its output")
    ap.add_argument("files", nargs="*", help="markdown files (default: README.md docs/*.md)")
    args = ap.parse_args()
    ext = os.path.abspath(args.ext)
    if not os.path.exists(ext) and not os.path.exists(ext + ".so"):
        print(f"doc_test: no extension at {args.ext}", file=sys.stderr)
        return 2
    files = [os.path.abspath(f) for f in args.files] or (
        [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))))
    total_run = total_skipped = total_items = 0
    failures = []
    for path in files:
        try:
            run, skipped, n_items, fails = check_file(path, args.sqlite3, ext, args.verbose)
        except DocError as e:
            failures.append(f"malformed doc: {e}")
            continue
        total_run += run
        total_skipped += skipped
        total_items += n_items
        print(f"{os.path.relpath(path, ROOT)}: {run} sql blocks run ({n_items} statements), {skipped} no-run, "
              f"{len(fails)} failures")
        failures += fails
    for f in failures:
        print("FAIL: " + f)
    print(f"doc_test: {total_run} blocks run, {total_skipped} skipped (no-run), {total_items} statements, "
          f"{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
