"""qeasy's software-defined assets, one folder per layer (ods, dwd, dws, ads), and the Definitions."""
