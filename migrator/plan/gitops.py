"""What makes ResourceClaimTemplates apply before the workloads that name them, per GitOps tool.

Helm applies kinds it does not know (ResourceClaimTemplate, DeviceClass) after Deployments in
one release, Argo CD sorts unknown kinds after all built-in kinds within a wave, and Flux applies
one Kustomization as one batch (rollout-model.md §7: helm InstallOrder, argo-cd sync waves,
fluxcd/flux2#562).
"""

from __future__ import annotations

from migrator.dra import GITOPS_ANNOTATIONS as ANNOTATIONS


def gitops_notes(tool: str) -> list[str]:
    if tool == "flux":
        return ["Flux: put the ResourceClaimTemplates in their own Kustomization and add it to the workloads' "
                "Kustomization `spec.dependsOn`; one Kustomization is applied as one batch."]
    ann = ", ".join(f"{k}: \"{v}\"" for k, v in ANNOTATIONS[tool].items())
    return [f"{tool}: annotate every ResourceClaimTemplate with {ann} (dra-migrate rewrite --gitops {tool} "
            "writes them) so it applies before the workloads that name it."]
