"""The month on autopilot: next month drafted, one approval, sent on schedule."""
