"""The ERP account as a Dagster resource: credentials, call budget, retries, concurrency."""

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from qeasy.erp.budget import BULK, CallBudget
from qeasy.erp.client import ErpClient, RetryPolicy
from qeasy.sandbox import SandboxConfig, SandboxServer


class JushuitanResource(dg.ConfigurableResource):
    """A Jushuitan open-API account. With no `base_url` the embedded sandbox is started in-process."""

    base_url: str = ""
    app_key: str
    app_secret: str
    access_token: str = ""
    refresh_token: str = ""
    rate_per_second: int = 5
    rate_per_minute: int = 100
    rate_margin_seconds: float = 0.1  # slack for the gap between our send and the ERP's arrival
    state_dir: str  # where the call budget lives for one host (QEASY_HOME)
    budget_url: str = ""  # a Redis URL: the call budget of every host that uses it
    timeout_seconds: float = 30.0
    max_attempts: int = 8
    concurrency: int = 8  # slices read at once; the budget, not this, bounds the call rate
    max_slices: int = 48  # most slices one window is cut into
    priority: str = BULK

    _client: ErpClient | None = PrivateAttr(default=None)
    _sandbox: SandboxServer | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        base_url = self.base_url
        if not base_url:
            config = SandboxConfig(app_key=self.app_key, app_secret=self.app_secret,
                                   access_token=self.access_token or SandboxConfig.access_token,
                                   per_second=self.rate_per_second, per_minute=self.rate_per_minute)
            self._sandbox = SandboxServer(config).start()
            base_url = self._sandbox.url
        budget = CallBudget(Path(self.state_dir), self.app_key, self.rate_per_second, self.rate_per_minute,
                            margin_seconds=self.rate_margin_seconds, shared_url=self.budget_url)
        self._client = ErpClient(base_url, self.app_key, self.app_secret, self.access_token or None,
                                 budget, refresh_token=self.refresh_token or None,
                                 timeout=self.timeout_seconds,
                                 retry=RetryPolicy(max_attempts=self.max_attempts), priority=self.priority)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client:
            self._client.close()
        if self._sandbox:
            self._sandbox.stop()

    @property
    def client(self) -> ErpClient:
        if self._client is None:
            raise RuntimeError("the ERP resource is used outside a Dagster execution")
        return self._client
