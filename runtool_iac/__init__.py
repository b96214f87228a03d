"""runtool_iac: experiment configs → SageMaker training jobs, fanned out by Step Functions.

``import runtool_iac as runtool`` (or ``import runtool_iac.runtool as
runtool``) gives the original runtool's API: ``load_config``, ``loads``,
``transform_config``, the ``+``/``*`` algebra on its nodes, and ``Client``
with ``dry_run``, ``run`` and ``local_run``.

The names are loaded on first use (PEP 562): every CLI command imports this
package first, and most of them need neither the client nor the renderer.
"""

from __future__ import annotations

import sys
import types

__version__ = "0.1.0"

# name -> module that defines it
_EXPORTS = {
    **dict.fromkeys(
        ["Algorithm", "Algorithms", "Config", "Dataset", "Datasets", "Experiment", "Experiments",
         "infer_kind", "load_config", "loads"],
        "runtool_iac.config",
    ),
    "Client": "runtool_iac.client",
    "transform_config": "runtool_iac.runtool",
    "ConfigError": "runtool_iac.errors",
    "PLACEHOLDER_BUCKET": "runtool_iac.plan",
    "PLACEHOLDER_ROLE_ARN": "runtool_iac.plan",
    "build_plan": "runtool_iac.plan",
}

__all__ = sorted([*_EXPORTS, "plan", "runtool"])


def _load(module: str) -> types.ModuleType:
    __import__(module)
    return sys.modules[module]


def __getattr__(name: str) -> object:
    if name == "runtool":  # the original's `runtool.runtool` module
        return _load("runtool_iac.runtool")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runtool_iac' has no attribute {name!r}")
    value = getattr(_load(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """``runtool_iac.plan`` is the original's ``plan`` function, as it was when this package
    imported it eagerly. Importing the submodule of the same name binds the module to the
    package attribute; this property keeps the function there instead."""

    @property
    def plan(self) -> object:
        return _load("runtool_iac.plan").plan

    @plan.setter
    def plan(self, value: object) -> None:
        pass  # the import system binding the submodule runtool_iac.plan


sys.modules[__name__].__class__ = _Package
