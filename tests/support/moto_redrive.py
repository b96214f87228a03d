"""TEST-ONLY: Step Functions redrive and Distributed Map failure accounting, modelled on AWS's documentation.

moto 5.2 implements neither ``RedriveExecution`` nor a Distributed Map's failure
threshold (DESIGN.md §5). This module adds both to moto's interpreter, as the
Step Functions developer guide describes them:

- "Redriving executions" (redrive-executions.html): an execution can be redriven
  only if "the execution status isn't SUCCEEDED" (FAILED, ABORTED, TIMED_OUT);
  otherwise RedriveExecution fails with ``ExecutionNotRedrivable``. A redrive
  "continues the failed execution from the unsuccessful step and uses the same
  input", and successful steps are not rerun.
- Redrive behaviour of individual states (same page): a Task "schedules and
  starts the Task state again"; a Choice "reevaluates the Choice state rules";
  a Fail state "reenters the Fail state and fails again"; a Distributed Map
  "redrives the unsuccessful child workflow executions in a Map Run".
- "Redriving Map Runs" (redrive-map-run.html): STANDARD child workflows "that
  failed, timed out, or canceled ... are redriven from the last state in
  ItemProcessor that resulted in their unsuccessful execution", keeping their
  execution ARN; successful children are not run again. Each redriven child's
  ``$$.Execution.RedriveCount`` grows by one.
- "Distributed Map state" (state-map-distributed.html, tolerated failure
  threshold): a Map Run fails with ``States.ExceedToleratedFailureThreshold``
  when the failed (or timed-out) items exceed ``ToleratedFailureCount`` or
  ``ToleratedFailurePercentage`` (both default to 0: any failure fails it).
- "ResultWriter" (input-output-resultwriter.html) and DESIGN.md §4: after a Map
  Run redrive, ``manifest.json`` lists the successes of every attempt but the
  failures of the latest attempt only; earlier ``FAILED_n.json`` files stay in
  the bucket, unlisted.

How it is modelled: a redrive runs the parent program again from its start with
the same input. The states before the failed Map (Pass/Choice, deterministic on
the same input) are re-evaluated with no effect; each Distributed Map that ran
before then *replays*: successful children keep their recorded output, every
other child runs again from the state it failed in, with that state's recorded
input and its RedriveCount + 1. The observable effects — the training jobs
created, their names, the ResultWriter files — are what AWS documents; the event
history is not modelled.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


@dataclass
class Child:
    """One item of a Map Run: the latest outcome of its child execution."""

    index: int
    value: Any  # the item as read ($$.Map.Item.Value)
    name: str
    status: str = "RUNNING"  # SUCCEEDED | FAILED | ABORTED | TIMED_OUT
    output: Any = None
    error: str = ""
    cause: str = ""
    input: Any = None  # the child's execution input (after ItemSelector)
    failed_at: str | None = None  # the last state entered
    failed_input: Any = None  # that state's input
    redrive_count: int = 0
    attempt: int = 0  # the parent's redrive during which this outcome was reached


@dataclass
class MapRun:
    arn: str
    children: list[Child] = field(default_factory=list)
    tolerated_percentage: float = 0.0
    tolerated_count: int = 0


@dataclass
class RedriveModel:
    """Everything the emulator remembers, per moto mock."""

    redrives: dict[str, int] = field(default_factory=dict)  # execution ARN -> redrive count
    map_runs: dict[tuple[str, str], MapRun] = field(default_factory=dict)  # (execution ARN, map state) -> run
    lock: threading.Lock = field(default_factory=threading.Lock)

    def redrive_count(self, execution_arn: str) -> int:
        return self.redrives.get(execution_arn, 0)


MODEL = RedriveModel()
REDRIVABLE = ("FAILED", "ABORTED", "TIMED_OUT")


def reset() -> RedriveModel:
    global MODEL
    MODEL = RedriveModel()
    return MODEL


def threshold_exceeded(run: MapRun) -> bool:
    """AWS: the Map Run fails when failed items exceed the tolerated count or percentage."""
    failed = sum(c.status in ("FAILED", "TIMED_OUT") for c in run.children)
    total = len(run.children)
    if failed == 0:
        return False
    return failed > run.tolerated_count and (total == 0 or 100.0 * failed / total > run.tolerated_percentage)


def result_files(run: MapRun, attempt: int) -> dict[str, list[dict]]:
    """ResultWriter files after ``attempt`` (0: the first run; n: the n-th redrive):
    ``SUCCEEDED_<k>.json`` for the successes reached in each attempt k, and
    ``FAILED_<attempt>.json`` for the failures of the latest attempt only."""
    files: dict[str, list[dict]] = {}
    for child in run.children:
        if child.status == "SUCCEEDED":
            files.setdefault(f"SUCCEEDED_{child.attempt}.json", []).append(entry(run, child))
        elif child.status in ("FAILED", "ABORTED", "TIMED_OUT"):
            files.setdefault(f"FAILED_{attempt}.json", []).append(entry(run, child))
        else:
            files.setdefault(f"PENDING_{attempt}.json", []).append(entry(run, child))
    return dict(sorted(files.items()))


def entry(run: MapRun, child: Child) -> dict:
    """A child execution as ResultWriter lists it (input-output-resultwriter.html)."""
    out = {
        "ExecutionArn": f"{run.arn.replace(':mapRun:', ':execution:')}:{child.name}",
        "Name": child.name,
        "Status": child.status,
        "Input": json.dumps(child.input),
        "InputDetails": {"Included": True},
    }
    if child.status == "SUCCEEDED":
        out.update(Output=json.dumps(child.output), OutputDetails={"Included": True})
    else:
        out.update(Error=child.error, Cause=child.cause)
    return out


# ------------------------------------------------------------------ moto glue


def _failure_exception(env: Any, error: Any, cause: str) -> Exception:
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    name = StatesErrorName(typ=error)
    return FailureEventException(
        FailureEvent(
            env=env,
            error_name=name,
            event_type=HistoryEventType.ExecutionFailed,
            event_details=EventDetails(
                executionFailedEventDetails=ExecutionFailedEventDetails(error=name.error_name, cause=cause)
            ),
        )
    )


def patches(results_writer: Any) -> list[Any]:
    """The mock.patch objects; ``results_writer(env, run, attempt)`` writes ResultWriter files."""
    from unittest import mock

    from moto.stepfunctions import responses as sfn_responses
    from moto.stepfunctions.parser import models as sfn_models
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.common.flow.start_at import StartAt
    from moto.stepfunctions.parser.asl.component.program.program import Program
    from moto.stepfunctions.parser.asl.component.state import state as state_module
    from moto.stepfunctions.parser.asl.component.state.choice.state_choice import StateChoice
    from moto.stepfunctions.parser.asl.component.state.exec.state_map import state_map
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import distributed_iteration_component
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as worker_module,
    )
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped, ProgramTimedOut
    from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData

    def execution_arn(env: Any) -> str:
        return env.states.context_object.context_object_data["Execution"]["Id"]

    # -- every state remembers that it was entered, and with which input (where a child failed)
    original_state_body = state_module.CommonStateField._eval_body

    def state_body(self: Any, env: Any) -> None:
        env.runtool_last_state = (self.name, copy.deepcopy(env.states.get_input()))
        original_state_body(self, env)

    # -- a Choice with no matching rule and no Default fails with States.NoChoiceMatched
    original_choice = StateChoice._eval_state

    def choice_state(self: Any, env: Any) -> None:
        if self.default_state is None:
            for rule in self.choices_decl.rules:
                rule.eval(env)
                if env.stack.pop() is True:
                    env.stack.append(rule.next_stmt.name)
                    return
            raise _failure_exception(
                env, StatesErrorNameType.StatesNoChoiceMatched, f"No Choice rule of state '{self.name}' matched its input"
            )
        original_choice(self, env)

    # -- children: their own RedriveCount, and their outcome recorded
    def outcome(env: Any, child: Child) -> None:
        state = env.program_state()
        name, state_input = getattr(env, "runtool_last_state", (None, None))
        if isinstance(state, ProgramError):
            details = state.error or {}
            child.status, child.error, child.cause = "FAILED", details.get("error", ""), details.get("cause", "")
            child.failed_at, child.failed_input, child.output = name, state_input, None
        elif isinstance(state, ProgramStopped):
            child.status, child.failed_at, child.failed_input = "ABORTED", name, state_input
        elif isinstance(state, ProgramTimedOut):
            child.status, child.failed_at, child.failed_input = "TIMED_OUT", name, state_input
        else:
            child.status, child.output, child.failed_at = "SUCCEEDED", env.states.get_input(), None

    def child_context(env: Any, child: Child) -> None:
        data = env.states.context_object.context_object_data
        data["Execution"] = {**data["Execution"], "RedriveCount": child.redrive_count}

    original_eval_job = worker_module.DistributedItemProcessorWorker._eval_job

    def eval_job(self: Any, env: Any, job: Any) -> None:
        run: MapRun = self._env.runtool_map_run
        child = Child(index=job.job_index, value=job.job_input, name=f"item-{job.job_index}")
        child_context(env, child)
        original_eval_job(self, env, job)
        child.input = getattr(env, "runtool_child_input", None)
        outcome(env, child)
        child.attempt = MODEL.redrive_count(execution_arn(env))
        with MODEL.lock:
            run.children.append(child)

    original_eval_input = worker_module.DistributedItemProcessorWorker._eval_input

    def eval_input(self: Any, env_frame: Any) -> None:
        original_eval_input(self, env_frame)
        env_frame.runtool_child_input = copy.deepcopy(env_frame.states.get_input())

    # -- a Map Run: first run, or replay on redrive
    original_iteration_body = distributed_iteration_component.DistributedIterationComponent._eval_body

    def iteration_body(self: Any, env: Any) -> None:
        eval_input = env.stack[-1]
        key = (execution_arn(env), eval_input.state_name)
        attempt = MODEL.redrive_count(key[0])
        previous = MODEL.map_runs.get(key)
        if previous is None or attempt == 0:
            run = MapRun(
                arn=eval_input.map_run_record.map_run_arn,
                tolerated_percentage=float(eval_input.tolerated_failure_percentage or 0),
                tolerated_count=int(eval_input.tolerated_failure_count or 0),
            )
            MODEL.map_runs[key] = run
            env.runtool_map_run = run
            original_iteration_body(self, env)
        else:
            env.runtool_map_run = previous
            env.stack.pop()
            replay(self, env, previous)
            counter = eval_input.map_run_record.item_counter
            for child in previous.children:
                counter.total.count()
                {"SUCCEEDED": counter.succeeded, "FAILED": counter.failed, "ABORTED": counter.aborted}.get(
                    child.status, counter.timed_out
                ).count()
            from moto.stepfunctions.parser.api import MapRunStatus

            eval_input.map_run_record.set_stop(
                status=MapRunStatus.FAILED if threshold_exceeded(previous) else MapRunStatus.SUCCEEDED
            )
            env.stack.append([c.output for c in sorted(previous.children, key=lambda c: c.index)])
        env.runtool_attempt = attempt

    def replay(component: Any, env: Any, run: MapRun) -> None:
        for child in sorted(run.children, key=lambda c: c.index):
            if child.status == "SUCCEEDED":
                continue  # "successful child workflows are not run again"
            child.redrive_count += 1
            program = Program(
                query_language=component._query_language,
                start_at=StartAt(child.failed_at or component._start_at.start_at_name),
                states=component._states,
                timeout_seconds=None,
                comment=component._comment,
            )
            frame = env.open_inner_frame()
            data = frame.states.context_object.context_object_data
            data["Map"] = MapData(Item=ItemData(Index=child.index, Value=child.value))
            child_context(frame, child)
            frame.states.reset(input_value=copy.deepcopy(child.failed_input if child.failed_at else child.input))
            program.eval(frame)
            outcome(frame, child)
            child.attempt = MODEL.redrive_count(execution_arn(env))
            env.delete_frame(frame)

    # -- the Map state: ResultWriter output, then the tolerated failure threshold
    original_map_execution = state_map.StateMap._eval_execution

    def map_execution(self: Any, env: Any) -> None:
        original_map_execution(self, env)
        run: MapRun | None = getattr(env, "runtool_map_run", None)
        if run is not None and threshold_exceeded(run):
            failed = sum(c.status in ("FAILED", "TIMED_OUT") for c in run.children)
            raise _failure_exception(
                env,
                StatesErrorNameType.StatesExceedToleratedFailureThreshold,
                f"The specified tolerated failure threshold was exceeded: {failed} of {len(run.children)} items failed",
            )

    # -- RedriveExecution
    def redrive_execution(self: Any, execution_arn: str) -> Any:
        from moto.stepfunctions.exceptions import ExecutionDoesNotExist

        execution = self.describe_execution(execution_arn=execution_arn)
        if execution is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{execution_arn}'")
        if execution.status not in REDRIVABLE:
            raise ExecutionNotRedrivable(f"Execution is {execution.status} and cannot be redriven")
        with MODEL.lock:
            MODEL.redrives[execution_arn] = MODEL.redrive_count(execution_arn) + 1
        execution.exec_worker = None
        execution.error = execution.cause = execution.stop_date = None
        execution.start()
        return datetime.now(timezone.utc)

    def redrive_response(self: Any) -> Any:
        from moto.core.responses import ActionResult

        arn = self._get_param("executionArn")
        date = self.stepfunction_backend.redrive_execution(arn)
        return ActionResult({"redriveDate": date})

    # the ResultWriter: results_writer(env, run, attempt) is given the run being written
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import resource_eval_s3

    def put_results(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        results_writer(env, env.runtool_map_run, getattr(env, "runtool_attempt", 0), resource_runtime_part, state_credentials)

    # -- a Parallel fails with its branch's error, States.* names included (moto wraps every
    #    branch error as a custom name, which refuses the States. prefix)
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl

    def branch_error_name(error_name: str) -> Any:
        if error_name and error_name.startswith("States."):
            return StatesErrorName.from_name(error_name)
        return CustomErrorName(error_name=error_name)

    out = [
        mock.patch.object(branches_decl, "CustomErrorName", branch_error_name),
        mock.patch.object(state_module.CommonStateField, "_eval_body", state_body),
        mock.patch.object(StateChoice, "_eval_state", choice_state),
        mock.patch.object(worker_module.DistributedItemProcessorWorker, "_eval_job", eval_job),
        mock.patch.object(worker_module.DistributedItemProcessorWorker, "_eval_input", eval_input),
        mock.patch.object(distributed_iteration_component.DistributedIterationComponent, "_eval_body", iteration_body),
        mock.patch.object(state_map.StateMap, "_eval_execution", map_execution),
        mock.patch.object(sfn_models.StepFunctionsParserBackend, "redrive_execution", redrive_execution, create=True),
        mock.patch.object(sfn_responses.StepFunctionResponse, "redrive_execution", redrive_response, create=True),
        mock.patch.object(resource_eval_s3.ResourceEvalS3, "_handle_put_object", staticmethod(put_results)),
    ]
    return out


def _not_redrivable() -> type:
    from moto.stepfunctions.exceptions import AWSError

    class ExecutionNotRedrivable(AWSError):
        TYPE = "ExecutionNotRedrivable"
        STATUS = 400

    return ExecutionNotRedrivable


ExecutionNotRedrivable = _not_redrivable()
