from kfp import dsl
from kubernetes.client import V1PodSpec, V1Container, V1ResourceRequirements

GPUS = 4


@dsl.pipeline
def train():
    task = trainer()
    task.set_accelerator_limit(2)
    task.set_gpu_limit(1)


def pod(n):
    return V1PodSpec(containers=[V1Container(name="c", resources=V1ResourceRequirements(limits={"nvidia.com/gpu": GPUS}))])


def tolerations_var(t):
    return V1PodSpec(tolerations=t, containers=[V1Container(name="c", resources=V1ResourceRequirements(limits={"nvidia.com/gpu": 1}))])


def orphan():
    return V1ResourceRequirements(limits={"nvidia.com/gpu": 1})
