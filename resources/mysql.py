"""The optional MySQL/MariaDB sink as a Dagster resource (present only when QEASY_MYSQL_DSN is set)."""

import dagster as dg

from qeasy.sinks.mysql import TABLE, Target, parse_dsn


class MySqlResource(dg.ConfigurableResource):
    """Where the unique-code flow is copied. `dsn` comes from `dg.EnvVar("QEASY_MYSQL_DSN")` when the
    variable is set, so the UI shows the variable's name, never the password."""

    dsn: str  # mysql://user:password@host:3306/database
    table: str = TABLE

    def target(self) -> Target:
        return parse_dsn(self.dsn)
