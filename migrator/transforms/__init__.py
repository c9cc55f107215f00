"""The rule registry: explicit, ordered, greppable (pre-commit's all_languages.py is the model).

Guards (GPU1xx, and GPU900 for fields of the wrong type) run first and may block a pod; converters (GPU00x) then fill the plan in
order: zero counts, whole GPUs, MIG, init containers, claim name, tolerations, hints.
Codes are never reused.
"""

from __future__ import annotations

from types import ModuleType

from migrator.transforms import (
    gpu000_converted,
    gpu001_whole_gpu,
    gpu002_mig_profile,
    gpu003_zero_count,
    gpu004_init_containers,
    gpu005_toleration,
    gpu006_existing_claims,
    gpu007_runtime_hints,
    gpu008_node_selection,
    gpu009_mig_single,
    gpu010_ray_gpus,
    gpu011_sharing_opt_in,
    gpu012_dra_api_upgrade,
    gpu101_vendor_semantics,
    gpu102_placeholders,
    gpu103_sharing,
    gpu104_annotation_requests,
    gpu105_unconvertible_kind,
    gpu106_aliases,
    gpu107_outside_pod_spec,
    gpu108_served_by_dra,
    gpu109_opt_out,
    gpu110_python_codemod,
    gpu111_cutover_labels,
    gpu112_invalid_pod,
    gpu113_cluster_devices,
    gpu114_other_device_plugins,
    gpu900_not_processed,
)

REGISTRY: tuple[ModuleType, ...] = (
    gpu114_other_device_plugins,  # information only: before any guard can stop the pod
    gpu109_opt_out,
    gpu108_served_by_dra,
    gpu900_not_processed,  # wrongly typed fields: before any rule acts on a lenient reading of them
    gpu101_vendor_semantics,
    gpu102_placeholders,
    gpu112_invalid_pod,
    gpu104_annotation_requests,
    gpu105_unconvertible_kind,
    gpu011_sharing_opt_in,
    gpu103_sharing,
    gpu111_cutover_labels,
    gpu106_aliases,
    gpu003_zero_count,
    gpu001_whole_gpu,
    gpu002_mig_profile,
    gpu004_init_containers,
    gpu009_mig_single,
    gpu113_cluster_devices,  # with --cluster: the nodes say what the whole-GPU requests really are
    gpu008_node_selection,
    gpu006_existing_claims,
    gpu005_toleration,
    gpu010_ray_gpus,
    gpu007_runtime_hints,
)

#: Rules that look at a whole object after its pod specs: ``check_object(ObjectContext)`` returns
#: findings and ``EditObject`` intents; the engine runs them in this order.
OBJECT_RULES: tuple[ModuleType, ...] = (gpu107_outside_pod_spec, gpu012_dra_api_upgrade)

#: Documented here, emitted by the engine itself (GPU000 after a pod's edit is spliced, GPU900
#: when it cannot be), or applied by ``dra-migrate codemod`` (Python, not YAML: GPU110).
DOC_ONLY: tuple[ModuleType, ...] = (gpu000_converted, gpu110_python_codemod)

BY_CODE: dict[str, ModuleType] = {}
for _rule in REGISTRY + OBJECT_RULES + DOC_ONLY:
    if _rule.CODE in BY_CODE:
        raise RuntimeError(f"duplicate rule code {_rule.CODE}")
    BY_CODE[_rule.CODE] = _rule
