"""Attacks on issue 10's claims (red team, branch attack10): each test is a hole, strict-xfail until fixed."""
