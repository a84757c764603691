"""The 吉客云 (Jackyun) open platform: signing, the answer envelope and its sub-codes, per-method
pacing and daily quotas, and the client (facts of other-erps.md; UNCONFIRMED ones are settings)."""
