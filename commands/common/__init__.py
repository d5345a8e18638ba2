"""Helpers several feature packages share (no commands of their own)."""
