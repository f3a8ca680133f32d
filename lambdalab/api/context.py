"""What the API handlers reach: the service, the invoker, the asynchronous queue, the destinations'
checks and the authorization, and nothing of HTTP."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..invoke.async_queue import AsyncQueue
from ..invoke.destinations import Destinations
from ..invoke.invoker import Invoker
from ..service.functions import LambdaService
from ..service.models import Function, LayerVersion
from .authorize import LambdaAuthorization


@dataclass
class ApiContext:
    service: LambdaService
    invoker: Invoker
    queue: AsyncQueue  # where Invoke(Event) puts its event
    destinations: Destinations  # checks what an EventInvokeConfig or a DeadLetterConfig names
    code_url: Callable[[Function], str]  # where GetFunction's Code.Location points
    layer_url: Callable[[LayerVersion], str]  # where GetLayerVersion's Content.Location points
    function_url: Callable[[str], str]  # a function URL's address, from its id
    authorization: LambdaAuthorization
