"""What the KITTI package's reader and writer share."""

from __future__ import annotations

#: KITTI's value for a field it does not know, per attribute (the devkit's DontCare rows and its readme)
NOT_GIVEN: dict[str, float | list[float]] = {
    "truncated": -1.0,
    "occluded": -1,
    "alpha": -10.0,
    "dimensions": [-1.0, -1.0, -1.0],
    "location": [-1000.0, -1000.0, -1000.0],
    "rotation_y": -10.0,
}
