# moto's own server (moto.server.main, the same -H/-p arguments) for the emulated-AWS suite:
# requests serialized as in test/aws/moto-server.ts (DynamoDB applies the writes to an item one
# at a time), state machines executed by moto's copy of LocalStack's ASL interpreter, and the two
# things moto cannot run handed to the test's harness over HTTP (STEPFORM_HARNESS_URL):
# - Lambda invokes (a Task whose Resource is a function ARN, and lambda:invoke.waitForTaskToken):
#   the harness runs the function's bundle from cdk.out with its environment;
# - batch:submitJob.sync: the harness runs the executor as the job definition says, and the
#   interpreter polls the job's status as it would poll DescribeJobs.
import json
import os
import sys
import threading
import urllib.request

import moto.server
from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_batch as batch_module,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

HARNESS_URL = os.environ["STEPFORM_HARNESS_URL"].rstrip("/")

lock = threading.Lock()
dispatch = DomainDispatcherApplication.__call__


def serialized(self, environ, start_response):
    with lock:
        return dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = serialized
default_user_config["stepfunctions"] = {"execute_state_machine": True}


def harness(path, body=None):
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        HARNESS_URL + path,
        data=data,
        method="GET" if body is None else "POST",
        headers={"content-type": "application/json"},
    )
    # A Lambda runs for seconds; a job's status answers at once. Bounded either way.
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read().decode("utf-8"))


def invoke_lambda(parameters, region, state_credentials):
    payload = parameters.get("Payload")
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8")
    answer = harness(
        "/lambda/invoke",
        {"functionName": parameters["FunctionName"], "payload": payload or "{}"},
    )
    response = {"StatusCode": 200, "Payload": answer["payload"], "ExecutedVersion": "$LATEST"}
    if answer.get("functionError"):
        # Lambda's "Unhandled": the interpreter names the error after the payload's errorType.
        response["FunctionError"] = answer["functionError"]
    return response


lambda_eval_utils._invoke_lambda_function = invoke_lambda


def submit_job(self, env, resource_runtime_part, normalised_parameters, state_credentials):
    env.stack.append(harness("/batch/submit", normalised_parameters))


def sync_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials):
    job_id = env.stack.pop()["JobId"]

    def resolve():
        job = harness("/batch/jobs/" + job_id)
        if job["status"] == "SUCCEEDED":
            return job
        if job["status"] == "FAILED":
            # What the interpreter raises for a FAILED DescribeJobs answer.
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
                            cause=to_json_str(job),
                        )
                    ),
                )
            )
        return None

    return resolve


batch_module.StateTaskServiceBatch._eval_service_task = submit_job
batch_module.StateTaskServiceBatch._build_sync_resolver = sync_resolver

moto.server.main(sys.argv[1:])
