"""Alert rules of warehouse.md, their messages in the bots' real formats, and exactly-once delivery."""
