"""Every runtime error type, as a boto3 caller sees it through the whole path."""

from __future__ import annotations

import botocore.config
import pytest
from botocore.exceptions import ClientError
from deploy import ROLE, zip_source
from test_functions_api import error_of


@pytest.mark.parametrize(("files", "handler", "error_type", "message"), [
    ({"app.py": "def handler(e, c):\n    return 1\n"}, "app.missing", "Runtime.HandlerNotFound",
     "Handler 'missing' missing on module 'app'"),
    ({"app.py": "def handler(e, c):\n    return 1\n"}, "nodot", "Runtime.MalformedHandlerName",
     "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)"),
    ({"app.py": "def handler(e, c)\n    return 1\n"}, "app.handler", "Runtime.UserCodeSyntaxError",
     "Syntax error in module 'app': expected ':' (app.py, line 1)"),
    ({"app.py": "raise KeyError('at import')\ndef handler(e, c):\n    return 1\n"}, "app.handler", "KeyError",
     "'at import'"),
    ({"app.py": "def handler(e, c):\n    return object()\n"}, "app.handler", "Runtime.MarshalError",
     "Unable to marshal response: Object of type object is not JSON serializable"),
])
def test_runtime_error_types(fn, files, handler, error_type, message):
    name = fn.create(files, handler=handler)
    out = fn.invoke(name)
    assert out["FunctionError"] == "Unhandled"
    assert (out["Payload"]["errorType"], out["Payload"]["errorMessage"]) == (error_type, message)
    assert fn.records(name)["error_type"].tolist() == [error_type]


def test_handler_must_have_no_whitespace(cloud):
    lam = cloud.client("lambda", config=botocore.config.Config(parameter_validation=False))
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="spaced", Runtime="python3.12", Role=ROLE, Handler="app handler",
                            Code={"ZipFile": zip_source("def handler(e, c):\n    return 1\n")})
    assert error_of(e) == ("ValidationException", "1 validation error detected: Value 'app handler' at 'handler' "
                           "failed to satisfy constraint: Member must satisfy regular expression pattern: [^\\s]+",
                           400)
