"""Contract-test inputs for CVAT for images 1.1 (written to a folder holding annotations.xml)."""

from pathlib import Path


def bad_input(tmp: Path) -> tuple[Path, str]:
    path = tmp / "annotations.xml"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n'
        '  <image id="0" name="a.jpg" width="10" height="10">\n'
        '    <box label="cat" occluded="0" xtl="1" ytl="oops" xbr="4" ybr="4"/>\n  </image>\n</annotations>\n'
    )
    return path, "line 5: <box>: ytl='oops' is not a number"
