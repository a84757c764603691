"""The ERP account as a Dagster resource: one per protocol (Jushuitan, 吉客云), the same to the
assets, which read `client`, `concurrency` and `max_slices`. With no URL configured, the embedded
sandbox (which speaks both protocols over one merchant) is started in-process."""

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from qeasy.erp.budget import BULK, CallBudget
from qeasy.erp.client import ErpClient, HttpClient, RetryPolicy
from qeasy.erp.jackyun.client import JackyunClient
from qeasy.erp.jackyun.pacing import MethodBudgets, Pacing
from qeasy.sandbox import SandboxConfig, SandboxServer
from qeasy.sandbox.jackyun import PATH as JACKYUN_PATH


class ErpResource(dg.ConfigurableResource):
    """What every ERP account shares: credentials, where the budget lives, retries, concurrency."""

    app_key: str
    app_secret: str
    state_dir: str  # where the call budget lives for one host (QEASY_HOME)
    budget_url: str = ""  # a Redis URL: the call budget of every host that uses it
    rate_margin_seconds: float = 0.1  # slack for the gap between our send and the ERP's arrival
    timeout_seconds: float = 30.0
    max_attempts: int = 8
    concurrency: int = 8  # slices read at once; the budget, not this, bounds the call rate
    max_slices: int = 48  # most slices one window is cut into
    priority: str = BULK

    _client: HttpClient | None = PrivateAttr(default=None)
    _sandbox: SandboxServer | None = PrivateAttr(default=None)

    # Each protocol's resource says where its ERP is, how the sandbox stands in for it, and how
    # its client is made.
    def _url(self) -> str:
        raise NotImplementedError

    def _sandbox_config(self) -> SandboxConfig:
        raise NotImplementedError

    def _open(self, sandbox: SandboxServer | None) -> HttpClient:
        raise NotImplementedError

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if not self._url():
            self._sandbox = SandboxServer(self._sandbox_config()).start()
        self._client = self._open(self._sandbox)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client:
            self._client.close()
        if self._sandbox:
            self._sandbox.stop()

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            raise RuntimeError("the ERP resource is used outside a Dagster execution")
        return self._client

    def _retry(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.max_attempts)


class JushuitanResource(ErpResource):
    """A Jushuitan open-API account; with no `base_url` the embedded sandbox serves it."""

    base_url: str = ""
    access_token: str = ""
    refresh_token: str = ""
    rate_per_second: int = 5
    rate_per_minute: int = 100

    def _url(self) -> str:
        return self.base_url

    def _sandbox_config(self) -> SandboxConfig:
        return SandboxConfig(app_key=self.app_key, app_secret=self.app_secret,
                             access_token=self.access_token or SandboxConfig.access_token,
                             per_second=self.rate_per_second, per_minute=self.rate_per_minute)

    def _open(self, sandbox: SandboxServer | None) -> HttpClient:
        budget = CallBudget(Path(self.state_dir), self.app_key, self.rate_per_second, self.rate_per_minute,
                            margin_seconds=self.rate_margin_seconds, shared_url=self.budget_url)
        return ErpClient(sandbox.url if sandbox else self.base_url, self.app_key, self.app_secret,
                         self.access_token or None, budget, refresh_token=self.refresh_token or None,
                         timeout=self.timeout_seconds, retry=self._retry(), priority=self.priority)


class JackyunResource(ErpResource):
    """A 吉客云 app; with no `gateway` the embedded sandbox's gateway serves it."""

    gateway: str = ""
    token: str = ""  # ISV mode only
    version: str = "v1.0"
    rate_per_second: int = 1  # per method (no official figure)
    method_rates: dict[str, int] = {}
    daily_quotas: dict[str, int] = {}

    def _url(self) -> str:
        return self.gateway

    def _pacing(self) -> Pacing:
        return Pacing(self.rate_per_second, self.method_rates, self.daily_quotas)

    def _sandbox_config(self) -> SandboxConfig:
        # Pacing and the sandbox's per-method limit agree, so qeasy never trips it.
        return SandboxConfig(app_key=self.app_key, app_secret=self.app_secret,
                             jackyun_per_method_per_second=self._pacing().fastest)

    def _open(self, sandbox: SandboxServer | None) -> HttpClient:
        budgets = MethodBudgets(Path(self.state_dir), self.app_key, self._pacing(), self.budget_url,
                                self.rate_margin_seconds)
        return JackyunClient(sandbox.url + JACKYUN_PATH if sandbox else self.gateway, self.app_key,
                             self.app_secret, budgets, token=self.token, version=self.version,
                             timeout=self.timeout_seconds, retry=self._retry(), priority=self.priority)
