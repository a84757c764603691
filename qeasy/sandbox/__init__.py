"""The embedded ERP sandbox: a real HTTP server that speaks the Jushuitan open API (sandbox.md)."""

from qeasy.sandbox.config import DirtyRates, FaultSettings, SandboxConfig
from qeasy.sandbox.server import SandboxServer

__all__ = ["DirtyRates", "FaultSettings", "SandboxConfig", "SandboxServer"]
