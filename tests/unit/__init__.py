"""Unit tests: one file per module, mirroring its path; collaborators passed in, no actors, no Redis."""
