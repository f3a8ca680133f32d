"""Lambda's root-logger setup, as awslambdaric's bootstrap._setup_logging.

Imported by _lambdalab_runtime only once user code imports ``logging`` (right after
logging itself has run, before user code can touch it), because importing logging costs
~12 ms of cold start. What handlers observe is what they observe in AWS: the root logger
already has a handler (so ``logging.basicConfig()`` does nothing), records look like
``[LEVEL]\\t<UTC time>.<ms>Z\\t<request id>\\t<message>`` (or JSON with
AWS_LAMBDA_LOG_FORMAT=JSON), and the root level comes from AWS_LAMBDA_LOG_LEVEL
(otherwise Python's default, WARNING).
"""

import logging
import os
import time

_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
_TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
_RESERVED_FIELDS = {
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "exc_info",
    "exc_text", "stack_info", "lineno", "funcName", "created", "msecs", "relativeCreated", "thread",
    "threadName", "processName", "process", "aws_request_id", "tenant_id", "_frame_type",
}


class LambdaLoggerHandler(logging.Handler):
    """Writes formatted records to the runtime's log sink (context.log() looks for ``log_sink``)."""

    def __init__(self, log_sink) -> None:
        super().__init__()
        self.log_sink = log_sink

    def emit(self, record: logging.LogRecord) -> None:
        self.log_sink.log(self.format(record))


class LambdaLoggerFilter(logging.Filter):
    """Stamps each record with the request id ("" outside an invocation) and tenant id."""

    def __init__(self, invocation) -> None:
        super().__init__()
        self.invocation = invocation

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.invocation.request_id or ""
        record.tenant_id = self.invocation.tenant_id
        return True


def _format_log_level(record: logging.LogRecord) -> int:
    return min(50, max(0, record.levelno)) // 10 * 10


def _exception_fields(exc_info) -> dict:
    if not exc_info:
        return {}
    import traceback

    return {
        "stackTrace": traceback.format_tb(exc_info[2]),
        "errorType": exc_info[0].__name__,
        "errorMessage": str(exc_info[1]),
    }


class JsonFormatter(logging.Formatter):
    """awslambdaric's JSON log record (AWS_LAMBDA_LOG_FORMAT=JSON)."""

    def __init__(self) -> None:
        super().__init__(datefmt=_DATETIME_FORMAT)
        import json  # only in JSON mode

        self._encode = json.JSONEncoder(ensure_ascii=False).encode

    def formatTime(self, record: logging.LogRecord, datefmt=None) -> str:
        from datetime import datetime, timezone

        return datetime.fromtimestamp(record.created, tz=timezone.utc).strftime(_DATETIME_FORMAT + ".%f")[:-3] + "Z"

    def format(self, record: logging.LogRecord) -> str:
        record.levelno = _format_log_level(record)
        record.levelname = logging.getLevelName(record.levelno)
        exc_info = record.exc_info
        result = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            **_exception_fields(exc_info),
            "requestId": getattr(record, "aws_request_id", None),
            "location": f"{record.pathname}:{record.funcName}:{record.lineno}" if exc_info else None,
        }
        if getattr(record, "tenant_id", None) is not None:
            result["tenantId"] = record.tenant_id
        result.update(
            (key, value) for key, value in record.__dict__.items() if key not in _RESERVED_FIELDS and key not in result
        )
        return self._encode({k: v for k, v in result.items() if v is not None}) + "\n"


def _log_level_from_env() -> str:
    # awslambdaric maps TRACE to DEBUG before upper-casing, so "trace" sets no level.
    value = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    return {None: "", "TRACE": "DEBUG"}.get(value, value).upper()


def install(log_sink, invocation, json_format: bool) -> None:
    """Add the Lambda handler to the root logger and set the root level."""
    logging.Formatter.converter = time.gmtime  # as in AWS: for every formatter, user ones too
    handler = LambdaLoggerHandler(log_sink)
    handler.setFormatter(JsonFormatter() if json_format else logging.Formatter(_TEXT_FORMAT, _DATETIME_FORMAT))
    handler.addFilter(LambdaLoggerFilter(invocation))
    root = logging.getLogger()
    level = _log_level_from_env()
    if level in logging._nameToLevel:
        root.setLevel(level)
    root.addHandler(handler)
