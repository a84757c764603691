"""Facts of the Jushuitan open API shared by the client and the sandbox (see jushuitan-api.md)."""
