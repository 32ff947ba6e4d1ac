"""MIT LabelMe XML (web tool): the corpus sample, parts, masks, attributes, round trips, bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import cvkit
from cvkit.cli import app
from cvkit.errors import InvalidInputError
from cvkit.formats.labelme_mit._xml import format_attributes, parse_attributes

runner = CliRunner()

# Expected counts, from Annotations/subset1/img1.xml: 1 image; 7 <object>s, none deleted
# (window, license plate [segm], o1, q1, b1 [bounding_box], m1 [segm + bounding_box type], hg);
# 7 distinct names -> 7 categories; split = the collection folder "subset1".


def test_corpus_sample_ingests_with_exact_counts(corpus, tmp_path):
    src = corpus("labelme_mit", "datumaro_labelme_xml")
    result = runner.invoke(
        app, ["ingest", str(src), "-o", str(tmp_path / "m.jsonl"), "--format", "labelme_mit", "--json"]
    )
    assert result.exit_code == 0, result.output
    read = json.loads(result.stdout)["read"]
    assert (read["images"], read["objects"], read["categories"], read["splits"]) == (1, 7, 7, {"subset1": 1})


def test_corpus_objects_parts_masks_and_attributes(corpus):
    ds = cvkit.read(corpus("labelme_mit", "datumaro_labelme_xml"), format="labelme_mit").materialize()
    sample = ds.samples[0]
    assert sample.path == "Images/subset1/img1.png" and (sample.width, sample.height) == (102, 77)
    objs = {o.label: o for o in sample.objects}
    assert objs["window"].shape == "polygon" and objs["window"].bbox == (43.0, 34.0, 2.0, 3.0)
    assert objs["b1"].shape == "box" and objs["b1"].bbox == (13.0, 19.0, 10.0, 11.0)
    # masks: any non-zero pixel of Masks/subset1/img1_mask_N.png
    assert objs["license plate"].shape == "mask" and objs["license plate"].area() == 10
    assert objs["m1"].shape == "mask" and objs["m1"].area() == 130
    assert objs["o1"].attributes == {"a1": True, "occluded": True, "username": "anonymous"}
    assert objs["hg"].attributes["gfd lkj lkj hi"] is True
    # parts: o1 (id 2) has parts 3, 4; m1 (id 5) has part 6
    assert (objs["q1"].attributes["parent"], objs["b1"].attributes["parent"], objs["hg"].attributes["parent"]) == (
        2,
        2,
        5,
    )
    assert {o.label: o.group for o in sample.objects} == {
        "window": None,
        "license plate": None,
        "o1": 2,
        "q1": 2,
        "b1": 2,
        "m1": 5,
        "hg": 5,
    }


@pytest.mark.parametrize("layout", ["datumaro", "webtool"])
def test_round_trip_keeps_geometry_parts_and_attributes(layout, corpus, tmp_path):
    src = cvkit.read(corpus("labelme_mit", "datumaro_labelme_xml"), format="labelme_mit").materialize()
    report = cvkit.write(src, tmp_path / "out", format="labelme_mit", images="copy", layout=layout)
    assert report.losses == {
        ("mask scribbles", "the scribble images a mask was drawn from are not carried over; the mask is"): 2
    }
    back = cvkit.read(tmp_path / "out", format="labelme_mit").materialize()
    key = lambda o: (o.label, o.shape, o.id, o.group, o.attributes, o.bbox, o.polygon, o.rle)  # noqa: E731
    assert [key(o) for o in back.samples[0].objects] == [key(o) for o in src.samples[0].objects]
    assert back.samples[0].split == "subset1"


def test_default_layout_is_where_datumaro_looks(corpus, tmp_path):
    # datumaro 1.13's label_me importer (plugins/data_formats/labelme.py, LabelMeBase._parse) takes the subset from
    # <folder>, the image from Images/<folder>/<filename> and a mask from Masks/<folder>/<mask>, wherever the XML is;
    # an XML beside its image with an empty <folder> (older datumaro's layout) loses the split, the image and the masks.
    from lxml import etree

    src = cvkit.read(corpus("labelme_mit", "datumaro_labelme_xml"), format="labelme_mit").materialize()
    cvkit.write(src, tmp_path / "out", format="labelme_mit", images="copy")
    out = tmp_path / "out"
    root = etree.parse(str(out / "Annotations" / "subset1" / "img1.xml")).getroot()
    folder, filename = root.findtext("folder"), root.findtext("filename")
    assert (folder, filename) == ("subset1", "img1.png")
    assert (out / "Images" / folder / filename).is_file()
    masks = [el.text for el in root.iter("mask")]
    assert masks and all((out / "Masks" / folder / name).is_file() for name in masks)


def test_deleted_objects_are_skipped(tmp_path):
    path = tmp_path / "a.xml"
    path.write_text(
        "<annotation><filename>a.jpg</filename><folder></folder><imagesize><nrows>10</nrows><ncols>10</ncols></imagesize>"
        "<object><name>gone</name><deleted>1</deleted><id>0</id><polygon><pt><x>1</x><y>1</y></pt><pt><x>5</x><y>1</y></pt>"
        "<pt><x>5</x><y>5</y></pt></polygon></object>"
        "<object><name>kept</name><deleted>0</deleted><id>1</id><polygon><pt><x>1</x><y>1</y></pt><pt><x>5</x><y>1</y></pt>"
        "<pt><x>5</x><y>5</y></pt></polygon></object></annotation>"
    )
    ds = cvkit.read(path, format="labelme_mit").materialize()
    assert [o.label for o in ds.samples[0].objects] == ["kept"] and ds.categories.names() == ["kept"]


def test_free_text_attributes_parse_and_format_both_ways():
    parsed = parse_attributes('color=red, n=3, f=0.5, s="3", flag, on=true, text=a\\, b\\=c')
    assert parsed == {"color": "red", "n": 3, "f": 0.5, "s": "3", "flag": True, "on": True, "text": "a, b=c"}
    assert parse_attributes(format_attributes(parsed)) == parsed


def test_bad_polygon_names_file_and_object(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text(
        "<annotation><filename>a.jpg</filename><imagesize><nrows>4</nrows><ncols>4</ncols></imagesize>\n"
        "<object><name>cat</name><type>bounding_box</type><polygon><pt><x>1</x><y>1</y></pt></polygon></object></annotation>"
    )
    result = runner.invoke(app, ["convert", "labelmemit2coco", str(path), str(tmp_path / "out.json")])
    assert result.exit_code == 2
    assert f"error: {path}:object[0]/polygon (line 2): a bounding box needs at least 2 points, got 1" in result.output
    result = runner.invoke(
        app, ["convert", "labelmemit2coco", str(path), str(tmp_path / "out.json"), "--skip-invalid", "--json"]
    )
    assert result.exit_code == 0 and json.loads(result.stdout)["read"]["images"] == 1


def test_missing_mask_file_is_reported(tmp_path):
    path = tmp_path / "a.xml"
    path.write_text(
        "<annotation><filename>a.jpg</filename><imagesize><nrows>4</nrows><ncols>4</ncols></imagesize>"
        "<object><name>m</name><segm><mask>nope.png</mask></segm></object></annotation>"
    )
    with pytest.raises(InvalidInputError, match=r"mask file .nope\.png. not found"):
        cvkit.read(path, format="labelme_mit").materialize()


def test_what_mit_cannot_hold_is_reported(tmp_path):
    from cvkit.core.model import Annotation, Dataset, Sample

    ds = Dataset(
        [
            Sample(
                "a.jpg",
                10,
                10,
                labels=["day"],
                objects=[
                    Annotation("p", shape="linestrip", points=[1.0, 2.0, 3.0, 4.0, 5.0, 1.0]),
                    Annotation("poly", shape="polygon", polygon=[[0, 0, 4, 0, 4, 4], [5, 5, 9, 5, 9, 9]]),
                ],
            )
        ]
    )
    report = cvkit.write(ds, tmp_path / "out", format="labelme_mit")
    assert {w for w, _ in report.losses} == {"image-level label", "linestrip shape", "polygon part"}


TRICKY = [
    "car",
    "a&b<c>d\"e'f",
    "carriage\rreturn",
    "tab\tand\nnewline",
    "中文 é ü",
    "]]>",
    " padded ",
    "",
    "\u2028\x85\x7f",
]


@pytest.mark.parametrize("text", TRICKY)
def test_templates_write_what_lxml_writes(text, tmp_path):
    """Boxes, polygons, points and lines are written from text templates; a reader must not tell them from lxml's."""
    from cvkit.core.model import Annotation, Sample
    from cvkit.core.report import Report
    from cvkit.formats.labelme_mit import _xml as mit

    objects = [
        Annotation(
            text or "x",
            (0.0, 1.5, 10.25, 3.0),
            id=3,
            attributes={"occluded": True, "username": text, "color": text, "n": 2},
        ),
        Annotation(
            "wheel",
            polygon=[[1.0, 1.0, 4.0, 1.0, 4.0, 4.0]],
            shape="polygon",
            id=7,
            attributes={"parent": 3},
            meta={"labelme_mit": {"verified": 1, "date": text}},
        ),
        Annotation("spot", shape="point", points=[2.1234567, 3.0], id=9),
        Annotation("edge", shape="line", points=[0.0, 0.0, 5.0, 5.0], group=3),
    ]
    for recorded in (None, f"/data/{text}.jpg"):
        for size in ((None, None), (640, 480)):
            sample = Sample(
                "a.jpg",
                *size,
                objects=objects,
                meta={"labelme_mit": {"source": {"sourceImage": text, "sourceAnnotation": None}}},
            )
            report = Report()
            items = mit._writable(sample.objects, report)
            found = [obj for obj, _, _ in items]
            ids = mit._object_ids(found)
            rows = list(zip(items, ids, mit._parents(found, ids)))
            head = mit._head(sample, f"{text}.jpg", text, recorded)
            plain = mit._plain_xml(head, rows)
            assert plain is not None and plain == mit._lxml_xml(head, rows, tmp_path, "a", report)


def test_masks_and_text_xml_cannot_hold_are_left_to_lxml(tmp_path):
    from cvkit.core.model import Annotation, Sample
    from cvkit.core.report import Report
    from cvkit.formats.labelme_mit import _xml as mit

    mask = Annotation("blob", (0.0, 0.0, 2.0, 2.0), shape="mask", rle={"size": [4, 4], "counts": [0, 4, 12]}, id=1)
    written = mit.annotation_xml(Sample("a.jpg", 4, 4, objects=[mask]), "a.jpg", "", tmp_path, "a", None, Report())
    assert b"<mask>a_mask_1.png</mask>" in written and (tmp_path / "a_mask_1.png").is_file()
    with pytest.raises(ValueError, match="XML compatible"):
        mit.annotation_xml(
            Sample("a.jpg", 4, 4, objects=[Annotation("bad\x01", (0.0, 0.0, 1.0, 1.0))]),
            "a.jpg",
            "",
            tmp_path,
            "a",
            None,
            Report(),
        )
