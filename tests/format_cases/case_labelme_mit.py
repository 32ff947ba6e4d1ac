from pathlib import Path


def bad_input(tmp: Path) -> tuple[Path, str]:
    path = tmp / "bad.xml"
    path.write_text("<annotation><filename>a.jpg</filename><imagesize><nrows>4</nrows><ncols>4</ncols></imagesize>\n"
                    "<object><name>cat</name><deleted>0</deleted><polygon><pt><x>1</x><y>1</y></pt><pt><x>2</x><y>1</y></pt></polygon></object></annotation>")
    return path, "object[0]/polygon: a polygon needs at least 3 points, got 2"
