#!/usr/bin/env python3
"""Source size limits (docs/architecture.md, "Size"): every C# file under src/, tests/
and bench/ has at most 300 lines and no line longer than 160 characters.
Prints each violation as path:line and exits 1 when there is any."""
import os
import sys

MAX_LINES = 300
MAX_WIDTH = 160
ROOTS = ("src", "tests", "bench")


def violations(repo):
    for root in ROOTS:
        for folder, dirs, files in os.walk(os.path.join(repo, root)):
            dirs[:] = [d for d in dirs if d not in ("bin", "obj")]
            for name in sorted(files):
                if not name.endswith(".cs"):
                    continue
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8-sig") as f:
                    lines = f.read().split("\n")
                if lines and lines[-1] == "":
                    lines.pop()
                rel = os.path.relpath(path, repo)
                if len(lines) > MAX_LINES:
                    yield f"{rel}: {len(lines)} lines (limit {MAX_LINES})"
                for number, line in enumerate(lines, 1):
                    width = len(line.rstrip("\r"))
                    if width > MAX_WIDTH:
                        yield f"{rel}:{number}: {width} characters (limit {MAX_WIDTH})"


def main():
    repo = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = list(violations(repo))
    for v in found:
        print(v)
    if found:
        print(f"{len(found)} source size violation(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
