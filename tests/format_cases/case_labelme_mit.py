from pathlib import Path


def bad_input(tmp: Path) -> tuple[Path, str]:
    path = tmp / "bad.xml"
    path.write_text(
        "<annotation><filename>a.jpg</filename><imagesize><nrows>4</nrows><ncols>4</ncols></imagesize>\n"
        "<object><name>cat</name><deleted>0</deleted><polygon><username>anonymous</username></polygon></object></annotation>"
    )
    return path, "object[0]/polygon (line 2): object 'cat' has a <polygon> without <pt> points"
