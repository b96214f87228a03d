"""SageMaker's training container contract, laid out in a job folder.

SageMaker gives a training container ``/opt/ml`` with the request's
hyperparameters, channels and resources as files, and collects ``/opt/ml/model``
and ``/opt/ml/output`` afterwards. Local mode builds the same tree in
``<job dir>`` (mounted as ``/opt/ml`` by Docker, or named by
``SAGEMAKER_BASE_DIR`` for a process), so an algorithm runs unchanged locally
and in the cloud. Sources: "How Amazon SageMaker AI Provides Training
Information" (developer guide) and the sagemaker-training-toolkit's
``environment.py`` / ``ENVIRONMENT_VARIABLES.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CONTAINER_ROOT = Path("/opt/ml")
HOST = "algo-1"
NETWORK_INTERFACE = "eth0"
INSTANCE_GROUP = "homogeneousCluster"
# The training toolkit's own variable for "/opt/ml is elsewhere" (outside a container).
BASE_DIR_VARIABLE = "SAGEMAKER_BASE_DIR"


@dataclass(frozen=True)
class JobPaths:
    """The ``/opt/ml`` tree of one job, rooted at ``root`` (a host folder or /opt/ml itself)."""

    root: Path

    @property
    def input(self) -> Path:
        return self.root / "input"

    @property
    def config(self) -> Path:
        return self.input / "config"

    @property
    def data(self) -> Path:
        return self.input / "data"

    def channel(self, name: str) -> Path:
        return self.data / name

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def output_data(self) -> Path:
        return self.output / "data"

    @property
    def failure(self) -> Path:
        return self.output / "failure"

    @property
    def logs(self) -> Path:
        """Not part of the contract: the job's log, beside the tree like CloudWatch beside the instance."""
        return self.root / "logs.txt"

    @property
    def model_archive(self) -> Path:
        return self.root / "model.tar.gz"


def channel_names(request: dict) -> list[str]:
    return [channel["ChannelName"] for channel in request.get("InputDataConfig", [])]


def input_data_config(request: dict) -> dict[str, dict[str, str]]:
    """``inputdataconfig.json``: per channel, how SageMaker delivers it (always File mode here)."""
    config = {}
    for channel in request.get("InputDataConfig", []):
        entry = {"ContentType": channel["ContentType"]} if "ContentType" in channel else {}
        s3 = channel.get("DataSource", {}).get("S3DataSource", {})
        entry.update(
            TrainingInputMode="File",
            S3DistributionType=s3.get("S3DataDistributionType", "FullyReplicated"),
            RecordWrapperType=channel.get("RecordWrapperType", "None"),
        )
        config[channel["ChannelName"]] = entry
    return config


def resource_config(request: dict) -> dict:
    """``resourceconfig.json``: a one-host cluster of the planned instance type."""
    instance_type = request["ResourceConfig"]["InstanceType"]
    return {
        "current_host": HOST,
        "current_instance_type": instance_type,
        "current_group_name": INSTANCE_GROUP,
        "hosts": [HOST],
        "instance_groups": [{"instance_group_name": INSTANCE_GROUP, "instance_type": instance_type, "hosts": [HOST]}],
        "network_interface_name": NETWORK_INTERFACE,
    }


def create(paths: JobPaths, request: dict) -> None:
    """Make the job's tree and config files; channel folders are filled by ``channels.stage``."""
    for folder in (paths.config, paths.model, paths.output_data, *(paths.channel(c) for c in channel_names(request))):
        folder.mkdir(parents=True, exist_ok=True)
    files = {
        "hyperparameters.json": request.get("HyperParameters", {}),
        "inputdataconfig.json": input_data_config(request),
        "resourceconfig.json": resource_config(request),
    }
    for name, content in files.items():
        (paths.config / name).write_text(json.dumps(content, indent=2) + "\n")


def _decoded(value: str) -> object:
    """Hyperparameters are strings; the toolkit hands JSON-looking ones (``24``, ``true``) over decoded."""
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return value


def _toolkit_value(value: object) -> str:
    """As the toolkit writes values into variables: strings as they are, the rest as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))


def toolkit_environment(paths: JobPaths, request: dict, num_cpus: int) -> dict[str, str]:
    """The variables SageMaker's training toolkit sets, for an algorithm run as a plain process.

    In a container the toolkit (if the image has it) derives them from
    ``/opt/ml`` itself; a process has no toolkit, so local mode sets them, plus
    ``SAGEMAKER_BASE_DIR`` (the toolkit's name for "the /opt/ml tree is here").
    """
    hyperparameters = request.get("HyperParameters", {})
    channels = channel_names(request)
    channel_dirs = {name: str(paths.channel(name)) for name in channels}
    resources = resource_config(request)
    data_config = input_data_config(request)
    training_env = {
        "channel_input_dirs": channel_dirs,
        "current_host": HOST,
        "current_instance_type": resources["current_instance_type"],
        "hosts": [HOST],
        "hyperparameters": {k: _decoded(v) for k, v in hyperparameters.items()},
        "input_config_dir": str(paths.config),
        "input_data_config": data_config,
        "input_dir": str(paths.input),
        "job_name": request["TrainingJobName"],
        "model_dir": str(paths.model),
        "network_interface_name": NETWORK_INTERFACE,
        "num_cpus": num_cpus,
        "num_gpus": 0,
        "output_data_dir": str(paths.output_data),
        "output_dir": str(paths.output),
        "resource_config": resources,
    }
    env = {
        BASE_DIR_VARIABLE: str(paths.root),
        "SM_MODEL_DIR": str(paths.model),
        "SM_CHANNELS": _toolkit_value(sorted(channels)),
        "SM_HPS": _toolkit_value(training_env["hyperparameters"]),
        "SM_OUTPUT_DATA_DIR": str(paths.output_data),
        "SM_OUTPUT_DIR": str(paths.output),
        "SM_INPUT_DIR": str(paths.input),
        "SM_INPUT_CONFIG_DIR": str(paths.config),
        "SM_INPUT_DATA_CONFIG": _toolkit_value(data_config),
        "SM_RESOURCE_CONFIG": _toolkit_value(resources),
        "SM_HOSTS": _toolkit_value([HOST]),
        "SM_CURRENT_HOST": HOST,
        "SM_CURRENT_INSTANCE_TYPE": resources["current_instance_type"],
        "SM_NETWORK_INTERFACE_NAME": NETWORK_INTERFACE,
        "SM_NUM_CPUS": str(num_cpus),
        "SM_NUM_GPUS": "0",
        "SM_TRAINING_ENV": _toolkit_value(training_env),
    }
    # Names are upper-cased and otherwise kept, as the toolkit does ("use-gpu" -> SM_HP_USE-GPU).
    env.update({f"SM_CHANNEL_{name.upper()}": path for name, path in channel_dirs.items()})
    env.update({f"SM_HP_{name.upper()}": _toolkit_value(value) for name, value in training_env["hyperparameters"].items()})
    return env


def request_environment(request: dict) -> dict[str, str]:
    """What SageMaker itself puts in every container: the job name and the request's ``Environment``."""
    return {"TRAINING_JOB_NAME": request["TrainingJobName"], **request.get("Environment", {})}
