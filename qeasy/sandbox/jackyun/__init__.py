"""The sandbox's second protocol: 吉客云 (Jackyun) over the same simulated merchant (other-erps.md)."""

from qeasy.sandbox.jackyun.gateway import PATH, JackyunGateway

__all__ = ["PATH", "JackyunGateway"]
