"""preview: PR comment content, the size limit, Secrets never printed (the GitHub Action: test_action.py)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from migrator.cli import main
from migrator.mode import Mode
from migrator.model import Finding, ObjectRef, Status
from migrator.integrations.preview import (MARKER, MIN_CHARS, Preview, WorkloadPreview, build_preview, diff_paths,
                              semantic_changes, to_json, to_markdown)

ROOT = Path(__file__).resolve().parent.parent

SECRET = textwrap.dedent("""\
    apiVersion: v1
    kind: Secret
    metadata: {name: hf-token}
    stringData:
      token: hf_SUPERSECRETVALUE
    ---
    """)


def gpu_deployment(name: str, pad: int = 0) -> str:
    env = "".join(f"        - {{name: V{i}, value: '{'x' * 60}'}}\n" for i in range(pad))
    return textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}}}
        spec:
          template:
            spec:
              containers:
              - name: c
                image: x
                resources:
                  limits:
                    nvidia.com/gpu: 1
        """) + (f"        env:\n{env}" if pad else "")


def test_sections_and_semantic_changes() -> None:
    p = build_preview([("a.yaml", gpu_deployment("one"))], Mode())
    md = to_markdown(p)
    assert md.startswith(MARKER)
    assert "**1** workload(s) migrated, **1** ResourceClaimTemplate(s) created" in md
    assert "### `Deployment one` (a.yaml)" in md
    # paths as helm-diff/dyff print them: containers matched by name, not deepdiff's ['spec']...[0]
    assert "- removed `spec.template.spec.containers[name=c].resources.limits`: `{\"nvidia.com/gpu\": 1}`" in md
    assert "- added `spec.template.spec.containers[name=c].resources.claims`: " \
           "`[{\"name\": \"gpu\", \"request\": \"c\"}]`" in md
    assert "- added `spec.template.spec.resourceClaims`" in md
    assert "<details><summary>unified diff</summary>" in md and "+kind: ResourceClaimTemplate" in md


def test_secret_data_is_never_printed() -> None:
    p = build_preview([("s.yaml", SECRET + gpu_deployment("next-to-secret"))], Mode())
    md = to_markdown(p)
    assert "SUPERSECRETVALUE" not in md
    assert "SUPERSECRETVALUE" not in json.dumps(to_json(p))


def test_comment_fits_github_limit_and_says_it_was_cut(tmp_path: Path) -> None:
    files = [(f"f{i}.yaml", gpu_deployment(f"w{i}", pad=40)) for i in range(60)]
    p = build_preview(files, Mode())
    md = to_markdown(p, full_report="the artifact dra-migrate-report.md")
    assert len(md) <= 65_536
    assert "**Truncated:**" in md and "were left out" in md and "the artifact dra-migrate-report.md" in md
    shown = md.count("### `Deployment")
    assert 0 < shown < 60 and f"{60 - shown} workload(s) were left out" in md
    full = to_markdown(p, limit=10**9)
    assert full.count("### `Deployment") == 60 and "Truncated" not in full


def test_cli_preview_json_and_full_report(tmp_path: Path, capsys) -> None:
    (tmp_path / "a.yaml").write_text(gpu_deployment("one"))
    report = tmp_path / "full.md"
    assert main(["preview", str(tmp_path), "--full-report", str(report)]) == 0
    assert MARKER in capsys.readouterr().out and report.read_text().startswith(MARKER)
    assert main(["preview", str(tmp_path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["templates"] == 1 and data["workloads"][0]["workload"] == "Deployment one"


# ---- the comment is valid markdown within the limit at every size ---------------------------------

#: characters that break markdown structure when printed raw
NASTY = st.text(alphabet="ab `<>&*_[]|#-\n/=\"", min_size=0, max_size=30)
ALLOWED_HTML = re.compile(r"^(<!-- dra-migrate-preview -->|<details><summary>[^<]*</summary>|</details>)$")


def check_markdown(md: str, limit: int | None) -> None:
    """The structure a reader relies on, checked on CommonMark's parse (markdown-it-py)."""
    if limit is not None:
        assert len(md) <= limit
    lines = md.split("\n")
    depth = 0
    for t in MarkdownIt("commonmark").parse(md):
        if t.type == "html_block":
            for line in t.content.strip().split("\n"):
                assert ALLOWED_HTML.match(line), line  # no HTML from the input, no <details> left open
                depth += line.count("<details>") - line.count("</details>")
                assert depth >= 0
        if t.type == "fence":
            start, end = t.map
            closing = lines[end - 1].strip()
            assert end - 1 > start and closing.startswith(t.markup) and set(closing) == {"`"}, (t.map, closing)
        for child in t.children or []:
            assert child.type != "html_inline", child.content
    assert depth == 0


def finding(msg: str, code: str = "GPU102") -> Finding:
    return Finding(code, Status.MANUAL, msg, "dir/a`b.yaml", 3, ObjectRef("Deployment", msg[:5]))


previews = st.builds(
    Preview,
    workloads=st.lists(st.builds(
        WorkloadPreview, file=NASTY, workload=NASTY,
        changes=st.lists(NASTY, max_size=3).map(lambda xs: tuple(semantic_changes({"a": xs}, {"a": xs[::-1]}))),
        diff=st.lists(st.one_of(NASTY.map(lambda x: "+" + x), st.sampled_from([" ```", "+```yaml", "-~~~", " "])),
                      min_size=1, max_size=30).map(lambda ls: "@@ -1,1 +1,1 @@\n" + "\n".join(ls)),
        findings=st.lists(NASTY.map(finding), max_size=2).map(tuple)), max_size=25).map(tuple),
    templates=st.integers(0, 10**6),
    manual=st.lists(NASTY.map(finding), max_size=220).map(tuple),
    errors=st.lists(NASTY.map(lambda x: f"bad.yaml:1: {x}"), max_size=60).map(tuple),
    risks=st.lists(NASTY, max_size=60).map(tuple),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(p=previews, limit=st.one_of(st.integers(MIN_CHARS, 3_000), st.integers(MIN_CHARS, 70_000)),
       where=st.sampled_from([None, "`out/full.md`", "[the step summary](https://example.test/run/1)", "x" * 900]))
def test_every_size_is_valid_markdown_within_the_limit_with_the_note(p: Preview, limit: int, where) -> None:
    full = to_markdown(p, limit=None)
    check_markdown(full, None)
    md = to_markdown(p, limit, where)
    check_markdown(md, limit)
    if len(full) <= limit:
        assert md == full  # nothing is cut that fits
        return
    assert md.startswith(full[: full.index("\n\n") + 2])  # the summary is always there
    note = md[md.rindex("**Truncated:**"):]
    assert note.endswith(".\n") and "The full report is in" in note and md.count("**Truncated:**") == 1
    counted = re.search(r"shows (\d+) of (\d+) workloads", note)
    shown, total = map(int, counted.groups()) if counted else (len(p.workloads), len(p.workloads))
    assert total == len(p.workloads) and (shown == total or f"{total - shown} workload(s) were left out" in note)
    assert re.search(r"limit, \S", note) and "; ." not in note
    body = md[: md.rindex("**Truncated:**")]
    assert body.count("\n### ") == shown
    for w in p.workloads[:shown]:  # the first ones, each whole, exactly as in the full report
        section = to_markdown(Preview((w,), 0, (), ()), limit=None).split("\n\n", 3)[-1]
        assert section in body and section in full


@pytest.mark.parametrize("limit", [-5, 0, 1, 100, MIN_CHARS - 1])
def test_too_small_a_limit_is_a_usage_error(limit: int, tmp_path: Path, capsys) -> None:
    (tmp_path / "a.yaml").write_text(gpu_deployment("one"))
    assert main(["preview", str(tmp_path), "--max-chars", str(limit)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--max-chars" in err and "1,000" in err
    with pytest.raises(ValueError):
        to_markdown(build_preview([("a.yaml", gpu_deployment("one"))], Mode()), limit)


@pytest.mark.parametrize("limit", [MIN_CHARS, 1_200, 2_000, 4_000, 8_999, 9_000, 20_000, 65_536])
def test_cli_comment_on_real_manifests_fits_every_size(limit: int, tmp_path: Path, capsys) -> None:
    for i in range(12):
        (tmp_path / f"w{i}.yaml").write_text(gpu_deployment(f"w{i}", pad=i * 3))
    (tmp_path / "manual.yaml").write_text("".join(
        gpu_deployment(f"m{i}").replace("nvidia.com/gpu: 1", "nvidia.com/gpu: '{{ .Values.n }}'") + "---\n"
        for i in range(40)))
    for name in ("inference-vllm.yaml", "mig-notebooks.yaml", "training-pytorchjob.yaml"):
        (tmp_path / name).write_text((ROOT / "examples" / name).read_text())
    code = main(["preview", str(tmp_path), "--max-chars", str(limit), "--full-report", str(tmp_path / "r.md")])
    assert code == 0
    md = capsys.readouterr().out
    check_markdown(md, limit)
    full = (tmp_path / "r.md").read_text()
    check_markdown(full, None)
    cut = len(full) > limit
    assert ("**Truncated:**" in md) == cut and (f"`{tmp_path / 'r.md'}`" in md) == cut
    assert cut or md == full


# ---- semantic diff paths read like dyff ------------------------------------------------------------

def resolve(obj, path: str):
    """Follow a dyff-style path (``a.b["c.d"][0][name=x]``) into ``obj``."""
    i = 0
    while i < len(path):
        if path[i] == ".":
            i += 1
        if path[i] == "[":
            j = i + 1
            if isinstance(obj, list) and (m := re.match(r"(name|key|id)=", path[j:])):
                j += len(m.group(0))
                if path[j] == '"':
                    name, end = json.JSONDecoder().raw_decode(path, j)
                else:
                    end = path.index("]", j)
                    name = path[j:end]
                obj = next(x for x in obj if x[m.group(1)] == name)
            else:
                key, end = json.JSONDecoder().raw_decode(path, j)
                obj = obj[key]
            assert path[end] == "]"
            i = end + 1
        else:
            m = re.match(r"[A-Za-z_][A-Za-z0-9_-]*", path[i:])
            obj = obj[m.group(0)]
            i += len(m.group(0))
    return obj


scalars = st.one_of(st.integers(-3, 3), st.booleans(), st.none(), st.text("ab.-/ ", max_size=4))
keys = st.sampled_from(["a", "b", "nvidia.com/gpu", "name=x", "0", "with space", 'q"]', "key"])
trees = st.recursive(scalars, lambda inner: st.one_of(
    st.dictionaries(keys, inner, max_size=4),
    st.lists(inner, max_size=4),
    st.lists(st.fixed_dictionaries({"name": st.sampled_from(["vllm", "side car", "a]b", 'q"', "x=y"])},
                                   optional={"v": inner}), max_size=3,
             unique_by=lambda d: d["name"])), max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(a=trees, b=trees)
def test_every_diff_path_resolves_to_the_reported_values(a, b) -> None:
    found = diff_paths({"spec": a}, {"spec": b})
    assert bool(found) == (json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True)) or a == b
    for label, path, old, new in found:
        assert "root" not in path and "['" not in path
        if label in ("removed", "changed"):
            assert resolve({"spec": a}, path) == old
        if label in ("added", "changed"):
            assert resolve({"spec": b}, path) == new
    for line in semantic_changes({"spec": a}, {"spec": b}):
        check_markdown("- " + line + "\n", None)


@pytest.mark.parametrize("before,after,expected", [
    ({"c": [{"name": "vllm", "r": {"limits": {"nvidia.com/gpu": 1, "cpu": 2}}}]},
     {"c": [{"name": "vllm", "r": {"limits": {"cpu": 2}}}]},
     'removed `c[name=vllm].r.limits["nvidia.com/gpu"]`: `1`'),
    ({"c": [{"name": "a", "x": 1}, {"name": "b", "x": 1}]}, {"c": [{"name": "b", "x": 2}, {"name": "a", "x": 1}]},
     "changed `c[name=b].x`: `1 -> 2`"),  # matched by name, not by position
    ({"env": [{"key": "k", "v": 1}]}, {"env": [{"key": "k", "v": 2}]}, "changed `env[key=k].v`: `1 -> 2`"),
    ({"args": ["a", "b"]}, {"args": ["a", "c"]}, 'changed `args[1]`: `"b" -> "c"`'),
    ({"n": 1}, {"n": True}, "changed `n`: `1 -> true`"),
    ({"t": [{"name": "a b"}]}, {"t": []}, 'removed `t[name="a b"]`: `{"name": "a b"}`'),
])
def test_diff_paths_table(before, after, expected) -> None:
    assert expected in semantic_changes(before, after)
