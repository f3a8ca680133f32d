"""Each function's recursive loop detection setting: ``Terminate`` (AWS's default: a chain that invokes
the function a 17th time is stopped) or ``Allow``.  Deleting the function deletes its setting.
``_settings`` is guarded by ``_lock``, held for dictionary work only."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .functions import LambdaService

TERMINATE = "Terminate"


class RecursionConfigs:
    def __init__(self, service: LambdaService) -> None:
        self._service = service
        self._settings: dict[str, str] = {}
        self._lock = threading.Lock()
        service.subscribe(self._function_changed)

    def put(self, function_name: str, setting: str) -> dict[str, Any]:
        name = self._service.resolve(self._service.function_name(function_name)).name  # AWS's 404 if missing
        with self._lock:
            self._settings[name] = setting
        return {"RecursiveLoop": setting}

    def get(self, function_name: str) -> dict[str, Any]:
        name = self._service.resolve(self._service.function_name(function_name)).name
        return {"RecursiveLoop": self.setting(name)}

    def setting(self, name: str) -> str:
        with self._lock:
            return self._settings.get(name, TERMINATE)

    def _function_changed(self, name: str, qualifier: str | None, function: Any) -> None:
        if function is None and qualifier is None:
            with self._lock:
                self._settings.pop(name, None)
