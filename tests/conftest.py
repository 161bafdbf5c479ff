"""Fixtures only; what tests import lives in tests/support/."""
