"""Compute profiles → Databricks cluster specs for jobs and pipelines.

A profile is one of three kinds:

* ``single_node`` (the default): one driver, ``num_workers=0`` and the classic single-node
  ``spark_conf``/``custom_tags`` spelling, which every runtime and cluster policy understands;
* ``job_cluster``: a job cluster with fixed workers or an autoscale range;
* ``serverless``: no cluster at all; jobs get an ``environments`` entry, pipelines ``serverless``.

>>> spec = job_compute(ComputeProfile(name="single_node"), ComputeDefaults(node_type_id="i3.xlarge"))
>>> spec.job_cluster.new_cluster.num_workers
0

Validation decisions (docs/orchestration.md): a single-node profile has no workers and no
autoscale range; autoscale needs both bounds with min <= max and excludes fixed workers; a
classic profile needs a node type unless a cluster policy supplies one (a ``default_node_type_id``
setting fills the gap); a serverless profile takes no cluster fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from databricks.sdk.service import compute, jobs, pipelines

from lakeforge.errors import LakeForgeError
from lakeforge.metadata.models import ComputeProfile

JOB_CLUSTER_KEY = "lakeforge"
ENVIRONMENT_KEY = "lakeforge"
SERVERLESS_ENVIRONMENT_VERSION = "2"

SINGLE_NODE_SPARK_CONF = {"spark.databricks.cluster.profile": "singleNode", "spark.master": "local[*]"}
SINGLE_NODE_TAGS = {"ResourceClass": "SingleNode"}


class ComputeProfileError(LakeForgeError):
    """A compute profile that cannot become a cluster spec; ``field`` names the profile column."""


@dataclass(frozen=True)
class ComputeDefaults:
    """Values a profile may leave out, taken from settings."""

    spark_version: str = "16.4.x-scala2.12"
    node_type_id: str | None = None
    wheel_path: str | None = None


@dataclass(frozen=True)
class JobCompute:
    """How a job runs: a shared job cluster (classic) or a serverless environment."""

    job_cluster: jobs.JobCluster | None
    environment: jobs.JobEnvironment | None
    libraries: list[compute.Library]

    @property
    def serverless(self) -> bool:
        return self.job_cluster is None


@dataclass(frozen=True)
class PipelineCompute:
    serverless: bool
    clusters: list[pipelines.PipelineCluster]
    photon: bool


def _fail(profile: ComputeProfile, column: str, message: str, fix: str) -> ComputeProfileError:
    return ComputeProfileError(message, field=f"compute_profile.{profile.name}.{column}", fix=fix)


def validate(profile: ComputeProfile, defaults: ComputeDefaults) -> None:
    """Raise ``ComputeProfileError`` naming the profile column and the fix, or return None."""
    has_autoscale = profile.autoscale_min_workers is not None or profile.autoscale_max_workers is not None
    if profile.kind == "serverless":
        for column in ("node_type_id", "policy_id"):
            if getattr(profile, column):
                raise _fail(
                    profile, column, "is set on a serverless profile", "Remove it, or use kind job_cluster."
                )
        if profile.num_workers or has_autoscale:
            raise _fail(profile, "num_workers", "serverless compute has no workers", "Remove the workers.")
        return
    if profile.kind == "single_node":
        if profile.num_workers:
            raise _fail(
                profile,
                "num_workers",
                f"a single-node profile has 0 workers (got {profile.num_workers})",
                "Set num_workers to 0, or change kind to job_cluster.",
            )
        if has_autoscale:
            raise _fail(
                profile,
                "autoscale_max_workers",
                "a single-node profile cannot autoscale",
                "Remove the autoscale range, or change kind to job_cluster.",
            )
    if has_autoscale:
        low, high = profile.autoscale_min_workers, profile.autoscale_max_workers
        if low is None or high is None:
            raise _fail(
                profile,
                "autoscale_min_workers" if low is None else "autoscale_max_workers",
                "autoscale needs both a minimum and a maximum",
                "Set both autoscale_min_workers and autoscale_max_workers.",
            )
        if low > high:
            raise _fail(
                profile,
                "autoscale_min_workers",
                f"autoscale minimum {low} is above the maximum {high}",
                "Make autoscale_min_workers <= autoscale_max_workers.",
            )
        if high < 1:
            raise _fail(profile, "autoscale_max_workers", "autoscale maximum must be at least 1", "Raise it.")
        if profile.num_workers:
            raise _fail(
                profile,
                "num_workers",
                "fixed workers and an autoscale range exclude each other",
                "Set num_workers to 0 or remove the autoscale range.",
            )
    elif profile.kind == "job_cluster" and profile.num_workers < 1:
        raise _fail(
            profile,
            "num_workers",
            "a job_cluster profile needs workers or an autoscale range",
            "Set num_workers >= 1 or an autoscale range, or use kind single_node.",
        )
    if not (profile.node_type_id or profile.policy_id or defaults.node_type_id):
        raise _fail(
            profile,
            "node_type_id",
            "is missing and no cluster policy supplies it",
            "Set node_type_id (e.g. i3.xlarge) or policy_id on the profile, "
            "or LAKEFORGE_DEFAULT_NODE_TYPE_ID.",
        )


def _conf_and_tags(profile: ComputeProfile) -> tuple[dict[str, str], dict[str, str]]:
    spark_conf = dict(profile.spark_conf)
    custom_tags = dict(profile.custom_tags)
    if profile.kind == "single_node":
        spark_conf.update(SINGLE_NODE_SPARK_CONF)
        custom_tags.update(SINGLE_NODE_TAGS)
    return spark_conf, custom_tags


def cluster_spec(profile: ComputeProfile, defaults: ComputeDefaults) -> compute.ClusterSpec:
    """The classic cluster for a single-node or job_cluster profile (validated first)."""
    validate(profile, defaults)
    if profile.kind == "serverless":
        raise _fail(profile, "kind", "serverless profiles have no cluster", "Use job_compute instead.")
    spark_conf, custom_tags = _conf_and_tags(profile)
    autoscale = None
    num_workers: int | None = profile.num_workers
    if profile.autoscale_max_workers is not None:
        autoscale = compute.AutoScale(
            min_workers=profile.autoscale_min_workers, max_workers=profile.autoscale_max_workers
        )
        num_workers = None
    node_type = profile.node_type_id or (None if profile.policy_id else defaults.node_type_id)
    return compute.ClusterSpec(
        spark_version=profile.spark_version or defaults.spark_version,
        node_type_id=node_type,
        num_workers=num_workers,
        autoscale=autoscale,
        policy_id=profile.policy_id,
        apply_policy_default_values=True if profile.policy_id else None,
        runtime_engine=compute.RuntimeEngine(profile.runtime_engine) if profile.runtime_engine else None,
        data_security_mode=(
            compute.DataSecurityMode(profile.data_security_mode) if profile.data_security_mode else None
        ),
        spark_conf=spark_conf or None,
        custom_tags=custom_tags or None,
    )


def job_compute(profile: ComputeProfile, defaults: ComputeDefaults) -> JobCompute:
    """The compute of one job: a job cluster plus the wheel as a task library, or an environment."""
    validate(profile, defaults)
    if profile.kind == "serverless":
        dependencies = [defaults.wheel_path] if defaults.wheel_path else None
        environment = jobs.JobEnvironment(
            environment_key=ENVIRONMENT_KEY,
            spec=compute.Environment(
                environment_version=SERVERLESS_ENVIRONMENT_VERSION, dependencies=dependencies
            ),
        )
        return JobCompute(job_cluster=None, environment=environment, libraries=[])
    cluster = jobs.JobCluster(job_cluster_key=JOB_CLUSTER_KEY, new_cluster=cluster_spec(profile, defaults))
    libraries = [compute.Library(whl=defaults.wheel_path)] if defaults.wheel_path else []
    return JobCompute(job_cluster=cluster, environment=None, libraries=libraries)


def pipeline_compute(profile: ComputeProfile, defaults: ComputeDefaults) -> PipelineCompute:
    """The compute of one declarative pipeline (the runtime version is chosen by the pipeline channel)."""
    validate(profile, defaults)
    if profile.kind == "serverless":
        return PipelineCompute(serverless=True, clusters=[], photon=False)
    spec = cluster_spec(profile, defaults)
    autoscale = None
    if spec.autoscale is not None:
        autoscale = pipelines.PipelineClusterAutoscale(
            min_workers=spec.autoscale.min_workers or 0,
            max_workers=spec.autoscale.max_workers or 1,
            mode=pipelines.PipelineClusterAutoscaleMode.ENHANCED,
        )
    cluster = pipelines.PipelineCluster(
        label="default",
        node_type_id=spec.node_type_id,
        num_workers=spec.num_workers,
        autoscale=autoscale,
        policy_id=spec.policy_id,
        apply_policy_default_values=spec.apply_policy_default_values,
        spark_conf=spec.spark_conf,
        custom_tags=spec.custom_tags,
    )
    return PipelineCompute(serverless=False, clusters=[cluster], photon=profile.runtime_engine == "PHOTON")
