"""Ready-to-copy examples (tested in tests/test_webhooks.py)."""
