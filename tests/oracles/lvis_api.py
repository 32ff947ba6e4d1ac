"""Run in the lvis venv (tests/oracle_venvs.py): load an LVIS JSON with the LVIS API (lvis-api 0.5.3) and print what
it indexed as one JSON line; with a results file, also LVISEval's box AP of those results against it.

Usage: python lvis_api.py ANNOTATIONS.json [RESULTS.json]. Output: {"categories": {id: {...}}, "images": {id: {...}},
"annotations": [[image_id, category_id, bbox, area], ...] sorted, "eval": {"AP": ..., "APr": ...} or null}.
"""

import json
import sys

import numpy as np
from lvis import LVIS, LVISEval, LVISResults

# lvis-api 0.5.3's LVISEval uses np.float, the alias of float numpy 1.24 removed (Python 3.12 has no older numpy)
np.float = float

CATEGORY_KEYS = ("name", "frequency", "image_count", "instance_count", "synset", "synonyms", "def")


def main(path, results=None):
    lvis = LVIS(path)
    categories = {
        cat["id"]: {k: cat.get(k) for k in CATEGORY_KEYS} | {"images": len(lvis.cat_img_map[cat["id"]])}
        for cat in lvis.load_cats(lvis.get_cat_ids())
    }
    images = {
        img["id"]: {
            "size": [img.get("width"), img.get("height")],
            "neg_category_ids": sorted(img["neg_category_ids"]),
            "not_exhaustive_category_ids": sorted(img["not_exhaustive_category_ids"]),
            "annotations": len(lvis.get_ann_ids(img_ids=[img["id"]])),
        }
        for img in lvis.load_imgs(lvis.get_img_ids())
    }
    annotations = sorted(
        [a["image_id"], a["category_id"], [float(v) for v in a["bbox"]], float(a["area"])]
        for a in lvis.load_anns(lvis.get_ann_ids())
    )
    evaluated = None
    if results:
        evaluation = LVISEval(lvis, LVISResults(lvis, results), iou_type="bbox")
        evaluation.run()
        evaluated = {k: float(v) for k, v in evaluation.get_results().items()}
    print(json.dumps({"categories": categories, "images": images, "annotations": annotations, "eval": evaluated}))


if __name__ == "__main__":
    main(*sys.argv[1:])
