"""Feedback on how the user came across: pure functions over a turn, and session reports."""
