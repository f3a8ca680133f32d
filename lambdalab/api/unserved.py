"""Operations lambdalab does not serve yet: AWS's answer when the function they name does not exist.

Such an operation must not pretend to work, so it is refused with a sentence that says lambdalab
lacks it.  But on a function that does not exist AWS answers 404 whatever the operation, and code
written against AWS (a learner's, or a test suite's) relies on that answer, so it is given first
(recorded: tests/fidelity/cases/err-not-found-*.json).
"""

from __future__ import annotations

from typing import Any

from ..service.errors import InvalidParameterValueException, ResourceNotFoundException
from .context import ApiContext


def unserved(ctx: ApiContext, operation: str, p: dict[str, Any]) -> dict:
    """AWS's not-found answer if the function ``p`` names does not exist, else: lambdalab lacks ``operation``."""
    if "FunctionName" in p:
        service = ctx.service
        name = service.function_name(p["FunctionName"])  # refuses another Region's ARN as AWS does
        if service.version(name, "$LATEST") is None:
            raise ResourceNotFoundException(f"Function not found: {service.arn(name)}")
    raise InvalidParameterValueException(f"lambdalab does not implement {operation} yet.")
