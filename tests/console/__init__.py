"""Tests of the staff console (console/) and the transcripts module (payments/transcripts.py)."""
