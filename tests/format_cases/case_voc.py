from pathlib import Path


def bad_input(tmp: Path) -> tuple[Path, str]:
    (tmp / "Annotations").mkdir()
    path = tmp / "Annotations" / "broken.xml"
    path.write_text(
        "<annotation><filename>a.jpg</filename><object><name>cat</name>\n<bndbox><xmin>1</xmin></object></annotation>"
    )
    return tmp, "malformed XML"
