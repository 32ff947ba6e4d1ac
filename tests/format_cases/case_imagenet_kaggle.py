from pathlib import Path


def bad_input(tmp: Path) -> tuple[Path, str]:
    root = tmp / "kaggle"
    (root / "ILSVRC" / "Data" / "CLS-LOC" / "val").mkdir(parents=True)
    (root / "ILSVRC" / "Data" / "CLS-LOC" / "val" / "ILSVRC2012_val_00000001.JPEG").write_bytes(b"")
    (root / "LOC_synset_mapping.txt").write_text("n01440764 tench, Tinca tinca\n")
    (root / "LOC_val_solution.csv").write_text("ImageId,PredictionString\nILSVRC2012_val_00000001,n01440764 1 2 3\n")
    return root, "line 2: PredictionString must repeat 'wnid xmin ymin xmax ymax' (4 tokens)"
