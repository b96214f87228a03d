"""TEST-ONLY: run the synthesized state machines in moto's Step Functions interpreter.

moto 5.2 executes ASL (``mock_aws(config={"stepfunctions": {"execute_state_machine": True}})``)
but has gaps (DESIGN.md §5). Each patch below closes exactly one gap, in the
emulator, never in our production definition:

1. SageMaker ``createTrainingJob.sync`` is not integrated: ``SageMakerSyncStandIn``
   creates the job in moto's SageMaker backend and completes or fails it as the
   test's ``Behaviour`` dictates, raising the same error names AWS does.
2. ``ReaderConfig.InputType: JSONL`` is unknown: parse JSON lines.
3. ``$$.Execution.RedriveCount`` is missing from the context object: add the
   execution's redrive count (0 until it is redriven; see moto_redrive).
4. ``ResultWriter`` writes only an empty manifest.json: write the real
   SUCCEEDED_n.json / FAILED_n.json files from the map run's items
   (moto_redrive.result_files: the layout after n redrives).
9. RedriveExecution, the Distributed Map failure threshold and States.NoChoiceMatched
   are missing: moto_redrive models them from AWS's documentation.
5. Retry intervals and Wait states are real sleeps: record the requested delay
   (``retry_delays``, ``waits``), sleep 0.
7. ListMapRuns right after StartExecution crashes (the worker's environment
   does not exist yet): report no map runs yet, as AWS would.
8. ResultWriter Parameters are evaluated against the map's result instead
   of the Map state's input (``$.results_prefix`` is in the input in AWS).
6. An integer ``ToleratedFailurePercentage`` (as aws-cdk-lib renders it) is a
   parse error: ``moto_definition`` rewrites the number as a float literal.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from botocore.exceptions import ClientError

# ------------------------------------------------------------------ behaviour


@dataclass
class Behaviour:
    """What the stand-in SageMaker does; tests adjust it."""

    # Job name prefix -> number of ResourceLimitExceeded errors before the create succeeds.
    quota_errors: dict[str, int] = field(default_factory=dict)
    # Job name prefix -> failure reason (the job is created, then ends Failed).
    failures: dict[str, str] = field(default_factory=dict)
    # Job name prefix -> how many of its jobs fail for lack of capacity before one completes.
    capacity_failures: dict[str, int] = field(default_factory=dict)
    # Job name prefixes whose completed jobs report none of DescribeTrainingJob's optional
    # fields (no metrics, no billable or training time): botocore's model allows it.
    minimal: set[str] = field(default_factory=set)
    # Metrics every completed job reports.
    metrics: Callable[[dict], dict[str, float]] = lambda request: {"MASE": 1.0}
    created: list[dict] = field(default_factory=list)
    capacity_failed: list[str] = field(default_factory=list)
    create_attempts: list[str] = field(default_factory=list)
    retry_delays: list[float] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _match(self, table: dict, name: str) -> Any:
        return next((v for k, v in table.items() if name.startswith(k)), None)


BEHAVIOUR = Behaviour()


def reset_behaviour() -> Behaviour:
    global BEHAVIOUR
    BEHAVIOUR = Behaviour()
    return BEHAVIOUR


# Error names the .sync integration raises (DESIGN.md §4; AWS Step Functions guide).
_ERROR_NAMES = {
    "ResourceLimitExceeded": "SageMaker.ResourceLimitExceededException",
    "ResourceInUse": "SageMaker.ResourceInUseException",
}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _stand_in_class() -> type:
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    class SageMakerSyncStandIn(StateTaskServiceCallback):
        """TEST-ONLY stand-in for `arn:aws:states:::sagemaker:createTrainingJob.sync`."""

        def __init__(self) -> None:
            super().__init__(supported_integration_patterns={ResourceCondition.Sync})

        def _get_supported_parameters(self) -> set[str] | None:
            from runtool_iac.sagemaker import request_members

            return set(request_members())

        def _client(self, resource_runtime_part: Any, credentials: Any) -> Any:
            return boto_client_for(service="sagemaker", region=resource_runtime_part.region, state_credentials=credentials)

        def _from_error(self, env: Any, ex: Exception) -> Any:
            if isinstance(ex, ClientError):
                code = ex.response["Error"]["Code"]
                name = _ERROR_NAMES.get(code, "SageMaker.AmazonSageMakerException")
                return FailureEvent(
                    env=env,
                    error_name=CustomErrorName(name),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            error=name,
                            cause=ex.response["Error"]["Message"],
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                        )
                    ),
                )
            return super()._from_error(env=env, ex=ex)

        def _eval_service_task(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any) -> None:
            behaviour = BEHAVIOUR
            name = normalised_parameters["TrainingJobName"]
            with behaviour.lock:
                behaviour.create_attempts.append(name)
                remaining = behaviour._match(behaviour.quota_errors, name) or 0
                attempts = behaviour.create_attempts.count(name)
            if attempts <= remaining:
                raise ClientError(
                    {"Error": {"Code": "ResourceLimitExceeded", "Message": f"quota for {normalised_parameters['ResourceConfig']['InstanceType']} reached"}},
                    "CreateTrainingJob",
                )
            client = self._client(resource_runtime_part, state_credentials)
            response = client.create_training_job(**normalised_parameters)
            with behaviour.lock:
                behaviour.created.append(_jsonable(normalised_parameters))
            env.stack.append({"TrainingJobArn": response["TrainingJobArn"], "TrainingJobName": name})

        def _eval_integration_pattern(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any) -> None:
            # moto's generic version dereferences a task-token endpoint that .sync-only services lack.
            resolve = self._build_sync_resolver(env, resource_runtime_part, normalised_parameters, state_credentials)
            result = None
            while env.is_running() and not result:
                result = resolve()
            env.stack.append(result)

        def _build_sync_resolver(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any) -> Callable[[], Any]:
            created = env.stack.pop()
            name = created["TrainingJobName"]
            client = self._client(resource_runtime_part, state_credentials)

            def resolve() -> Any:
                described = client.describe_training_job(TrainingJobName=name)
                described.pop("ResponseMetadata", None)
                described = _jsonable(described)
                reason = BEHAVIOUR._match(BEHAVIOUR.failures, name)
                with BEHAVIOUR.lock:
                    capacity = BEHAVIOUR._match(BEHAVIOUR.capacity_failures, name) or 0
                    earlier = [n for n in BEHAVIOUR.capacity_failed if n.rsplit("-", 1)[0] == name.rsplit("-", 1)[0]]
                    if reason is None and len(earlier) < capacity:
                        BEHAVIOUR.capacity_failed.append(name)
                        reason = "CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type."
                minimal = BEHAVIOUR._match({p: True for p in BEHAVIOUR.minimal}, name)
                if minimal:
                    for optional in ("BillableTimeInSeconds", "TrainingTimeInSeconds", "FinalMetricDataList", "FailureReason"):
                        described.pop(optional, None)
                else:
                    described.update({"BillableTimeInSeconds": 42, "TrainingTimeInSeconds": 40})
                if reason is None:
                    described["TrainingJobStatus"] = "Completed"
                    if minimal:
                        return described
                    described["FinalMetricDataList"] = [
                        {"MetricName": k, "Value": v, "Timestamp": "2026-01-01T00:00:00Z"}
                        for k, v in BEHAVIOUR.metrics(normalised_parameters).items()
                    ]
                    return described
                described.update({"TrainingJobStatus": "Failed", "FailureReason": reason})
                raise FailureEventException(
                    FailureEvent(
                        env=env,
                        error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                        event_type=HistoryEventType.TaskFailed,
                        event_details=EventDetails(
                            taskFailedEventDetails=TaskFailedEventDetails(
                                resource=self._get_sfn_resource(),
                                resourceType=self._get_sfn_resource_type(),
                                error=StatesErrorNameType.StatesTaskFailed.to_name(),
                                cause=to_json_str(described),
                            )
                        ),
                    )
                )

            return resolve

    return SageMakerSyncStandIn


# ---------------------------------------------------------------- the patches

@contextlib.contextmanager
def patched_moto() -> Iterator[Behaviour]:
    from unittest import mock

    import moto_redrive

    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader import item_reader_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_output_transformer.transformer_json import (
        ResourceOutputTransformerJson,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.reader_config import input_type
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import resource_eval_s3
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
    from moto.stepfunctions.parser.backend import execution_worker

    behaviour = reset_behaviour()
    model = moto_redrive.reset()
    stand_in = _stand_in_class()
    original_service_for = state_task_factory.state_task_service_for

    def service_for(service_name: str) -> Any:  # (1)
        return stand_in() if service_name == "sagemaker" else original_service_for(service_name)

    class JsonLines(ResourceOutputTransformerJson):  # (2)
        def _eval_body(self, env: Any) -> None:
            reader_config = env.stack.pop()
            text = env.stack.pop()
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
            env.stack.append(items[: reader_config["MaxItemsValue"]])

    original_input_init = input_type.InputType.__init__

    def input_init(self: Any, input_type: str) -> None:
        if input_type == "JSONL":
            self.input_type_value = "JSONL"
        else:
            original_input_init(self, input_type)

    original_transformer_for = item_reader_decl.resource_output_transformer_for

    def transformer_for(input_type: Any) -> Any:
        return JsonLines() if input_type.input_type_value == "JSONL" else original_transformer_for(input_type=input_type)

    original_environment = execution_worker.ExecutionWorker._get_evaluation_environment

    def environment(self: Any) -> Any:  # (3)
        env = original_environment(self)
        execution = env.states.context_object.context_object_data["Execution"]
        execution["RedriveCount"] = model.redrive_count(execution["Id"])
        return env

    def write_results(env: Any, run: Any, attempt: int, resource_runtime_part: Any, state_credentials: Any) -> None:  # (4)
        parameters = env.stack.pop()
        env.stack.pop()
        s3 = resource_eval_s3.ResourceEvalS3._get_s3_client(resource_runtime_part, state_credentials)
        prefix = parameters.get("Prefix", "").rstrip("/") + "/" + run.arn.split(":")[-1]
        listed: dict[str, list] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        for name, entries in moto_redrive.result_files(run, attempt).items():
            key = f"{prefix}/{name}"
            body = json.dumps(entries).encode()
            s3.put_object(Bucket=parameters["Bucket"], Key=key, Body=body)
            listed[name.split("_")[0]].append({"Key": key, "Size": len(body)})
        key = f"{prefix}/manifest.json"
        manifest = {"DestinationBucket": parameters["Bucket"], "MapRunArn": run.arn, "ResultFiles": listed}
        s3.put_object(Bucket=parameters["Bucket"], Key=key, Body=json.dumps(manifest).encode())
        env.stack.append({"MapRunArn": run.arn, "ResultWriterDetails": {"Bucket": parameters["Bucket"], "Key": key}})

    class InstantTime:  # (5)
        @staticmethod
        def sleep(seconds: float) -> None:
            behaviour.retry_delays.append(seconds)

    from moto.stepfunctions.parser import models as sfn_models

    original_list_map_runs = sfn_models.StepFunctionsParserBackend.list_map_runs

    def list_map_runs(self: Any, execution_arn: str) -> Any:  # (7)
        execution = self.describe_execution(execution_arn=execution_arn)
        if execution.exec_worker is None or execution.exec_worker.env is None:
            return {"mapRuns": []}
        return original_list_map_runs(self, execution_arn)

    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer import result_writer_decl

    def writer_body(self: Any, env: Any) -> None:  # (8)
        outputs = env.stack.pop()
        env.stack.append(env.states.get_input())
        self.parargs.eval(env=env)
        parameters = env.stack.pop()
        env.stack.pop()
        env.stack.extend([outputs, parameters])
        self.resource_eval.eval_resource(env=env)

    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:  # (5)
        behaviour.waits.append(wait_seconds)

    patches = moto_redrive.patches(write_results) + [
        mock.patch.object(wait_function.WaitFunction, "_wait_interval", wait_interval),
        mock.patch.object(result_writer_decl.ResultWriter, "_eval_body", writer_body),
        mock.patch.object(sfn_models.StepFunctionsParserBackend, "list_map_runs", list_map_runs),
        mock.patch.object(state_task_factory, "state_task_service_for", service_for),
        mock.patch.object(input_type.InputType, "__init__", input_init),
        mock.patch.object(item_reader_decl, "resource_output_transformer_for", transformer_for),
        mock.patch.object(execution_worker.ExecutionWorker, "_get_evaluation_environment", environment),
        mock.patch.object(retrier_decl, "time", InstantTime),
    ]
    with contextlib.ExitStack() as stack:
        for p in patches:
            stack.enter_context(p)
        yield behaviour


def moto_definition(definition: str) -> str:
    """(6) The definition as moto can parse it: integer ToleratedFailurePercentage → float."""
    return re.sub(r'"ToleratedFailurePercentage":(\d+)([,}])', r'"ToleratedFailurePercentage":\1.0\2', definition)
