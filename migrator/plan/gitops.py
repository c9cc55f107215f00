"""What makes ResourceClaimTemplates apply before the workloads that name them, per GitOps tool.

Helm applies kinds it does not know (ResourceClaimTemplate, DeviceClass) after Deployments in
one release, Argo CD sorts unknown kinds after all built-in kinds within a wave, and Flux applies
one Kustomization as one batch (rollout-model.md §7: helm InstallOrder, argo-cd sync waves,
fluxcd/flux2#562).
"""

from __future__ import annotations

ANNOTATIONS = {
    # Argo CD: a lower wave syncs (and must be healthy) before higher waves.
    "argocd": {"argocd.argoproj.io/sync-wave": "-1"},
    # Helm: hooks run before the release's other resources. With no delete policy Helm uses
    # before-hook-creation, i.e. deletes and recreates the hook on every upgrade: fine for an
    # immutable, content-named template, but it is briefly absent during the upgrade.
    "helm": {"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-5"},
}


def gitops_notes(tool: str) -> list[str]:
    if tool == "flux":
        return ["Flux: put the ResourceClaimTemplates in their own Kustomization and add it to the workloads' "
                "Kustomization `spec.dependsOn`; one Kustomization is applied as one batch."]
    ann = ", ".join(f"{k}: \"{v}\"" for k, v in ANNOTATIONS[tool].items())
    return [f"{tool}: annotate every ResourceClaimTemplate with {ann} (dra-migrate rewrite --gitops {tool} "
            "writes them) so it applies before the workloads that name it."]
