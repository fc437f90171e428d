"""Tests of the staff console (console/) and the transcripts module (transcripts/)."""
