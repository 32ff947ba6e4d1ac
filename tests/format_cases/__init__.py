"""Per-format inputs for the contract test: one module ``case_<format>.py`` per registered format.

Each module defines:

- ``bad_input(tmp: Path) -> tuple[Path, str]``: writes a malformed input and returns its
  path and a fragment the error message must contain (it must also name the file);
- optionally ``DESTINATION = "out.json"`` (default: a folder ``out``) and
  ``DETECTS_AS = "name"`` (default: the format's own name) and
  ``EXACT_IDS = True`` when category ids survive the round-trip.
"""
