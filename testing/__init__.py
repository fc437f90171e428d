"""Test doubles and tools shared by the test suite and the benchmarks (bench/).

Nothing here runs in production: a fake Telegram Bot API served over HTTP, and a fault-injecting
HTTP proxy placed in front of real services to see how the assistant behaves when they fail.
"""
