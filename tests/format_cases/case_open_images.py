"""Contract-test inputs for Open Images (read-only: a folder of annotation CSVs)."""

from pathlib import Path


def bad_input(tmp: Path) -> tuple[Path, str]:
    root = tmp / "bad_open_images"
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "train-annotations-bbox.csv").write_text(
        "ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,"
        "IsOccluded,IsTruncated,IsGroupOf,IsDepiction,IsInside\n"
        "a,xclick,/m/0,1,0.2,1,0.3,0.5,0,0,0,0,0\n"
        "a,xclick,/m/0,1,0.6,0.4,0.3,0.5,0,0,0,0,0\n"
    )
    (root / "annotations" / "images.meta").write_text("a 10 10\n")  # ImageID height width: no image file needed
    return root, "line 3: XMax below XMin"
