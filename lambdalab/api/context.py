"""What the API handlers reach: the service, the invoker and the authorization, and nothing of HTTP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..invoke.invoker import Invoker
from ..service.functions import LambdaService
from ..service.models import Function, LayerVersion
from .authorize import LambdaAuthorization


@dataclass
class ApiContext:
    service: LambdaService
    invoker: Invoker
    code_url: Callable[[Function], str]  # where GetFunction's Code.Location points
    layer_url: Callable[[LayerVersion], str]  # where GetLayerVersion's Content.Location points
    authorization: LambdaAuthorization
