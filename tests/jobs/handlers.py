"""Test-only job kinds. Imported by the tests in-process, and by worker subprocesses through
BOXVAULT_JOB_HANDLER_MODULES=jobs.handlers (with tests/ on PYTHONPATH); never by production code."""

from __future__ import annotations

import os
import time

from boxvault.jobs.context import JobContext
from boxvault.jobs.registry import handler


def _record(ctx: JobContext, event: str) -> None:
    path = ctx.job.params.get("record")
    if path:
        # O_APPEND writes of one short line are atomic: several processes may share the file.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{event} {ctx.job.pk} {os.getpid()}\n".encode())
        finally:
            os.close(fd)


@handler("test_sleep")
def sleep_handler(ctx: JobContext) -> None:
    """params: steps, step_seconds, record (a file for start/done lines), bytes_per_step."""
    steps = int(ctx.job.params.get("steps", 3))
    pause = float(ctx.job.params.get("step_seconds", 0.01))
    per = int(ctx.job.params.get("bytes_per_step", 100))
    _record(ctx, "start")
    ctx.progress(items_total=steps, bytes_total=steps * per)
    for step in range(steps):
        if ctx.cancelled():
            ctx.log("stopping: canceled")
            return
        time.sleep(pause)
        ctx.progress(items_done=step + 1, bytes_done=(step + 1) * per)
    ctx.log(f"did {steps} steps")
    ctx.set_result(stored_bytes=steps * per // 2)
    _record(ctx, "done")


@handler("test_partial")
def partial_handler(ctx: JobContext) -> None:
    ctx.progress(items_done=9, items_failed=1, items_total=10, bytes_done=900, bytes_total=1000)
    ctx.partial("1 of 10 items could not be read")


@handler("test_fail")
def failing_handler(ctx: JobContext) -> None:
    ctx.log("about to fail")
    raise RuntimeError("the Box API said no")


@handler("test_fail_box")
def box_failing_handler(ctx: JobContext) -> None:
    """Fails as a restore into a missing Box folder does: the SDK's multi-line BoxAPIError."""
    from box_sdk_gen.box.errors import BoxAPIError, RequestInfo, ResponseInfo

    raise BoxAPIError(
        request_info=RequestInfo("POST", "http://127.0.0.1:9/2.0/folders", {}, {"Authorization": "Bearer x"}),
        response_info=ResponseInfo(
            404, {}, {"code": "not_found", "message": "Not Found"}, code="not_found", request_id="abc"
        ),
        message="Not Found",
    )
