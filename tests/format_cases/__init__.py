"""Per-format inputs for the contract test: one module ``case_<format>.py`` per registered format.

Each module defines:

- ``bad_input(tmp: Path) -> tuple[Path, str]``: writes a malformed input and returns its
  path and a fragment the error message must contain (it must also name the file);
- optionally ``DESTINATION = "out.json"`` (default: a folder ``out``) and
  ``DETECTS_AS = "name"`` (default: the format's own name) and
  ``EXACT_IDS = True`` when category ids survive the round-trip;
- for classification-only formats ``HOLDS_BOXES = False`` with ``IMAGE_LABELS`` (image stem ->
  labels given to the small dataset instead of its boxes) and optionally ``READ_OPTIONS``
  (e.g. ``{"sizes": True}``): the round trip then compares image sets and image-level labels.
"""
