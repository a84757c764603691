"""ODS: raw ERP rows as the API sends them, one asset per declared dataset."""
