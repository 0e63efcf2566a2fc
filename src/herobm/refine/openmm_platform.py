"""OpenMM platform choice: a GPU when there is one, never a hard-coded CPU.

``"auto"`` tries, in this order, the platforms this OpenMM build registers:
CUDA, HIP, CPU, Reference (OpenCL only when asked for by name: on machines
without a GPU it is often a slow CPU emulation). A platform counts as usable
only when a context can be created on it, so a CUDA plugin on a machine
without a GPU is skipped, not chosen.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache

from ..errors import InputError

__all__ = ["AUTO_ORDER", "platform_order", "select_platform", "platform_properties", "create_context",
           "platform_defaults"]

AUTO_ORDER = ("CUDA", "HIP", "CPU", "Reference")
_GPU = ("CUDA", "HIP", "OpenCL")


def platform_order(available: list[str] | tuple[str, ...], preference: str = "auto") -> list[str]:
    """Platform names to try, best first, among ``available`` (pure: no OpenMM calls)."""
    if preference == "auto":
        return [p for p in AUTO_ORDER if p in available]
    match = [p for p in available if p.lower() == preference.lower()]
    if not match:
        raise InputError(f"OpenMM platform {preference!r} asked for; this OpenMM has {', '.join(available)}")
    return match


def platform_properties(name: str) -> dict[str, str]:
    """Context properties: mixed precision on GPUs (single precision stalls minimisation);
    deterministic force sums where the platform offers them, so that a minimisation gives
    the same structure every run (multithreaded sums otherwise differ in the last bits, and
    L-BFGS amplifies that). Not enough for periodic systems on the multithreaded CPU
    platform, which still differ from run to run (docs/refinement.md)."""
    import openmm

    props = {"Precision": "mixed"} if name in _GPU else {}
    if "DeterministicForces" in openmm.Platform.getPlatformByName(name).getPropertyNames():
        props["DeterministicForces"] = "true"
    return props


def _available() -> list[str]:
    import openmm

    return [openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())]


@lru_cache(maxsize=None)
def _usable(name: str) -> bool:
    """Whether a context can be created on platform ``name`` (one-particle probe)."""
    import openmm

    system = openmm.System()
    system.addParticle(1.0)
    try:
        platform = openmm.Platform.getPlatformByName(name)
        ctx = openmm.Context(system, openmm.VerletIntegrator(0.001), platform, platform_properties(name))
    except Exception:  # noqa: BLE001 - OpenMMException and plugin load errors alike
        return False
    del ctx
    return True


def select_platform(preference: str = "auto"):
    """The OpenMM ``Platform`` to use: ``"auto"`` (CUDA > HIP > CPU > Reference, first usable)
    or a platform name, which must be usable (else :class:`InputError`)."""
    import openmm

    names = platform_order(_available(), preference)
    for name in names:
        if _usable(name):
            return openmm.Platform.getPlatformByName(name)
    if preference == "auto":
        raise InputError("no usable OpenMM platform")
    raise InputError(f"OpenMM platform {preference!r} is registered but no context can be created on it")


def create_context(system, integrator, preference: str = "auto"):
    """An OpenMM ``Context`` on the platform :func:`select_platform` picks, with
    :func:`platform_properties`. Returns the context."""
    import openmm

    platform = select_platform(preference)
    return openmm.Context(system, integrator, platform, platform_properties(platform.getName()))


@contextmanager
def platform_defaults(platform, threads: int | None = None):
    """Within the block, contexts that code outside herobm creates on ``platform`` (an
    ``openmm.Platform``: pdbfixer's and Modeller's own minimisations, which take no
    properties) get :func:`platform_properties` as defaults, and ``threads`` CPU threads
    (1: the same result every run; the CPU platform's DeterministicForces alone does not make
    Modeller's hydrogen minimisation repeatable); the old defaults come back after."""
    props = platform_properties(platform.getName())
    if threads is not None and "Threads" in platform.getPropertyNames():
        props["Threads"] = str(int(threads))
    old = {k: platform.getPropertyDefaultValue(k) for k in props}
    try:
        for k, v in props.items():
            platform.setPropertyDefaultValue(k, v)
        yield platform
    finally:
        for k, v in old.items():
            platform.setPropertyDefaultValue(k, v)
