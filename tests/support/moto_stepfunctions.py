"""TEST-ONLY: run the synthesized state machines in moto's Step Functions interpreter.

moto 5.2 executes ASL (``mock_aws(config={"stepfunctions": {"execute_state_machine": True}})``)
but has gaps (DESIGN.md §5). Each patch below closes exactly one gap, in the
emulator, never in our production definition:

1. SageMaker ``createTrainingJob.sync`` is not integrated: ``SageMakerSyncStandIn``
   creates the job in moto's SageMaker backend and completes or fails it as the
   test's ``Behaviour`` dictates, raising the same error names AWS does.
2. ``ReaderConfig.InputType: JSONL`` is unknown: parse JSON lines.
3. ``$$.Execution.RedriveCount`` is missing from the context object: add 0.
4. ``ResultWriter`` writes only an empty manifest.json: write the real
   SUCCEEDED_0.json / FAILED_0.json files from the map run's items.
5. Retry intervals are real sleeps: record the requested delay, sleep 0.
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
    # Metrics every completed job reports.
    metrics: Callable[[dict], dict[str, float]] = lambda request: {"MASE": 1.0}
    created: list[dict] = field(default_factory=list)
    create_attempts: list[str] = field(default_factory=list)
    retry_delays: list[float] = field(default_factory=list)
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
                described.update({"BillableTimeInSeconds": 42, "TrainingTimeInSeconds": 40})
                if reason is None:
                    described["TrainingJobStatus"] = "Completed"
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

_RESULTS: dict[str, list[dict]] = {}


@contextlib.contextmanager
def patched_moto() -> Iterator[Behaviour]:
    from unittest import mock

    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader import item_reader_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_output_transformer.transformer_json import (
        ResourceOutputTransformerJson,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.reader_config import input_type
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import distributed_iteration_component
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as worker_module,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import resource_eval_s3
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramError
    from moto.stepfunctions.parser.backend import execution_worker

    behaviour = reset_behaviour()
    _RESULTS.clear()
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
        env.states.context_object.context_object_data["Execution"]["RedriveCount"] = 0
        return env

    original_eval_job = worker_module.DistributedItemProcessorWorker._eval_job

    def eval_job(self: Any, env: Any, job: Any) -> None:  # (4) remember each item's outcome
        original_eval_job(self, env, job)
        state = env.program_state()
        entry = {"Name": f"item-{job.job_index}", "Input": json.dumps(job.job_input)}
        if isinstance(state, ProgramError):
            details = state.error or {}
            entry.update(Status="FAILED", Error=details.get("error", ""), Cause=details.get("cause", ""))
        else:
            entry.update(Status="SUCCEEDED", Output=json.dumps(job.job_output))
        _RESULTS.setdefault(self._map_run_record.map_run_arn, []).append(entry)

    original_iteration_body = distributed_iteration_component.DistributedIterationComponent._eval_body

    def iteration_body(self: Any, env: Any) -> None:
        env.runtool_map_run_arn = env.stack[-1].map_run_record.map_run_arn
        original_iteration_body(self, env)

    def put_results(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:  # (4) write them
        parameters = env.stack.pop()
        env.stack.pop()
        s3 = resource_eval_s3.ResourceEvalS3._get_s3_client(resource_runtime_part, state_credentials)
        map_run_arn = env.runtool_map_run_arn
        prefix = parameters.get("Prefix", "").rstrip("/") + "/" + map_run_arn.split(":")[-1]
        files: dict[str, list] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        entries = _RESULTS.get(map_run_arn, [])
        for kind in ("SUCCEEDED", "FAILED"):
            chosen = [e for e in entries if e["Status"] == kind]
            if chosen:
                key = f"{prefix}/{kind}_0.json"
                body = json.dumps(chosen).encode()
                s3.put_object(Bucket=parameters["Bucket"], Key=key, Body=body)
                files[kind].append({"Key": key, "Size": len(body)})
        key = f"{prefix}/manifest.json"
        manifest = {"DestinationBucket": parameters["Bucket"], "MapRunArn": map_run_arn, "ResultFiles": files}
        s3.put_object(Bucket=parameters["Bucket"], Key=key, Body=json.dumps(manifest).encode())
        env.stack.append({"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": parameters["Bucket"], "Key": key}})

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

    patches = [
        mock.patch.object(result_writer_decl.ResultWriter, "_eval_body", writer_body),
        mock.patch.object(sfn_models.StepFunctionsParserBackend, "list_map_runs", list_map_runs),
        mock.patch.object(state_task_factory, "state_task_service_for", service_for),
        mock.patch.object(input_type.InputType, "__init__", input_init),
        mock.patch.object(item_reader_decl, "resource_output_transformer_for", transformer_for),
        mock.patch.object(execution_worker.ExecutionWorker, "_get_evaluation_environment", environment),
        mock.patch.object(worker_module.DistributedItemProcessorWorker, "_eval_job", eval_job),
        mock.patch.object(distributed_iteration_component.DistributedIterationComponent, "_eval_body", iteration_body),
        mock.patch.object(resource_eval_s3.ResourceEvalS3, "_handle_put_object", staticmethod(put_results)),
        mock.patch.object(retrier_decl, "time", InstantTime),
    ]
    with contextlib.ExitStack() as stack:
        for p in patches:
            stack.enter_context(p)
        yield behaviour


def moto_definition(definition: str) -> str:
    """(6) The definition as moto can parse it: integer ToleratedFailurePercentage → float."""
    return re.sub(r'"ToleratedFailurePercentage":(\d+)([,}])', r'"ToleratedFailurePercentage":\1.0\2', definition)
