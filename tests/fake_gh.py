"""A stand-in for the GitHub CLI's ``gh api`` (the calls action.yml makes), keeping issue comments
in a JSON file and logging every call. Environment: FAKE_GH_STATE (the comments), FAKE_GH_LOG
(one JSON line per call), FAKE_GH_DENY=1 (writes fail as with a fork PR's read-only token)."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    state_file, log_file = Path(os.environ["FAKE_GH_STATE"]), Path(os.environ["FAKE_GH_LOG"])
    assert argv[0] == "api", argv
    method, path, fields, paginate = "GET", None, {}, False
    args = iter(argv[1:])
    for a in args:
        if a == "--paginate":
            paginate = True
        elif a == "-X":
            method = next(args)
        elif a == "-F":
            key, _, value = next(args).partition("=")
            fields[key] = Path(value[1:]).read_text() if value.startswith("@") else value
        elif a.startswith("-"):
            sys.stderr.write(f"fake gh: unknown flag {a}\n")
            return 2
        else:
            path = a
    with log_file.open("a") as log:
        log.write(json.dumps({"method": method, "path": path, "fields": fields, "paginate": paginate}) + "\n")
    if not os.environ.get("GH_TOKEN"):
        sys.stderr.write("gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable.\n")
        return 4
    comments = json.loads(state_file.read_text()) if state_file.exists() else []
    if method != "GET" and os.environ.get("FAKE_GH_DENY"):
        sys.stderr.write("gh: Resource not accessible by integration (HTTP 403)\n")
        return 1
    if m := re.fullmatch(r"repos/[^/]+/[^/]+/issues/(\d+)/comments(\?per_page=\d+)?", path or ""):
        if method == "GET":
            mine = [c for c in comments if c["issue"] == int(m.group(1))]
            pages = [mine[i:i + 2] for i in range(0, len(mine), 2)] or [[]]
            sys.stdout.write("".join(json.dumps(p) for p in (pages if paginate else pages[:1])))
            return 0
        if method == "POST":
            comments.append({"id": 1000 + len(comments), "issue": int(m.group(1)), "body": fields["body"],
                             "user": {"login": os.environ.get("FAKE_GH_LOGIN", "github-actions[bot]")}})
            state_file.write_text(json.dumps(comments))
            sys.stdout.write(json.dumps(comments[-1]))
            return 0
    if (m := re.fullmatch(r"repos/[^/]+/[^/]+/issues/comments/(\d+)", path or "")) and method == "PATCH":
        for c in comments:
            if c["id"] == int(m.group(1)):
                c["body"] = fields["body"]
                state_file.write_text(json.dumps(comments))
                sys.stdout.write(json.dumps(c))
                return 0
    sys.stderr.write(f"gh: Not Found (HTTP 404) {method} {path}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
