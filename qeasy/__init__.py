"""qeasy: Jushuitan ERP data into trustworthy BI tables."""
