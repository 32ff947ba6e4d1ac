"""The plain-file VOC reader (formats/voc/_plain.py) gives exactly what lxml's reader gives, or leaves the file to it.

Seeds are the corpus files and files as real tools write them; thousands of seeded mutations of them (broken
tags, odd text, numbers that are no numbers, attributes, entities, encodings) check that the fast path never
accepts what lxml refuses and never reads a field differently, dict order included (it is the order writers
write fields in).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from cvkit.errors import InvalidInputError
from cvkit.formats.voc import _format as voc
from cvkit.formats.voc import _plain as voc_plain

LABELIMG = """<annotation verified="yes">
\t<folder>images</folder>
\t<filename>猫 1.jpg</filename>
\t<path>C:\\Users\\me\\images\\猫 1.jpg</path>
\t<source>
\t\t<database>Unknown</database>
\t</source>
\t<size>
\t\t<width>640</width>
\t\t<height>480</height>
\t\t<depth>3</depth>
\t</size>
\t<segmented>0</segmented>
\t<object>
\t\t<name>猫</name>
\t\t<pose>Unspecified</pose>
\t\t<truncated>0</truncated>
\t\t<difficult>0</difficult>
\t\t<bndbox>
\t\t\t<xmin>10</xmin>
\t\t\t<ymin>20</ymin>
\t\t\t<xmax>300</xmax>
\t\t\t<ymax>400</ymax>
\t\t</bndbox>
\t</object>
\t<object><bndbox><xmin>1.5</xmin><ymin>2</ymin><xmax>3.25</xmax><ymax>4</ymax></bndbox>
\t\t<difficult/><truncated>1</truncated><pose>Left</pose><name>dog</name></object>
</annotation>
"""
# datumaro / CVAT: <occluded>, typed <attributes> (lxml's part), no <pose> on some objects
DATUMARO = """<?xml version='1.0' encoding='utf-8'?>
<annotation><folder>VOC2012</folder><filename>a.jpg</filename><size><width>40</width><height>30</height><depth>3</depth></size>
<segmented>0</segmented><object><name>car</name><truncated>0</truncated><occluded>1</occluded><difficult>0</difficult>
<bndbox><xmin>1</xmin><ymin>2</ymin><xmax>5</xmax><ymax>6</ymax></bndbox></object><object><name>bus</name><bndbox><xmin>3</xmin>
<ymin>4</ymin><xmax>9</xmax><ymax>9</ymax></bndbox><attributes><attribute><name>color</name><value>red</value></attribute></attributes>
</object></annotation>"""
# Roboflow: float coordinates, <occluded>, an object field no reader knows (kept for the writer)
ROBOFLOW = """<annotation>
    <folder></folder>
    <filename>x_jpg.rf.1.jpg</filename>
    <path>x_jpg.rf.1.jpg</path>
    <source><database>roboflow.com</database></source>
    <size><width>416</width><height>416</height><depth>3</depth></size>
    <segmented>0</segmented>
    <object>
        <name>helmet</name>
        <pose>Unspecified</pose>
        <truncated>0</truncated>
        <difficult>0</difficult>
        <occluded>0</occluded>
        <confidence>0.9</confidence>
        <bndbox><xmin>62.5</xmin><xmax>80</xmax><ymin>10</ymin><ymax>33.75</ymax></bndbox>
    </object>
</annotation>"""
NO_OBJECTS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
    "<annotation><filename>e.png</filename><size><width>0</width><height>0</height></size></annotation>\n"
)
# the VOC2012 devkit: tags in alphabetical order, a person-layout object (<part>s) and an action object (<actions>,
# <point>)
VOC2012 = """<annotation>
\t<filename>2008_000008.jpg</filename>
\t<folder>VOC2012</folder>
\t<object>
\t\t<bndbox><xmax>471</xmax><xmin>53</xmin><ymax>420</ymax><ymin>87</ymin></bndbox>
\t\t<difficult>0</difficult>
\t\t<name>person</name>
\t\t<part><bndbox><xmax>289</xmax><xmin>256</xmin><ymax>136</ymax><ymin>90</ymin></bndbox><name>head</name></part>
\t\t<part><name>hand</name><bndbox><xmax>3</xmax><xmin>1.5</xmin><ymax>4</ymax><ymin>2</ymin></bndbox></part>
\t\t<pose>Left</pose>
\t\t<occluded>1</occluded>
\t\t<truncated>0</truncated>
\t</object>
\t<object>
\t\t<actions><jumping>0</jumping><other>1</other><phoning>0</phoning><walking/></actions>
\t\t<bndbox><xmax>200</xmax><xmin>100</xmin><ymax>300</ymax><ymin>150</ymin></bndbox>
\t\t<difficult>0</difficult>
\t\t<name>person</name>
\t\t<point><x>150</x><y>170</y></point>
\t\t<truncated>1</truncated>
\t</object>
\t<segmented>0</segmented>
\t<size><depth>3</depth><height>442</height><width>500</width></size>
\t<source><annotation>PASCAL VOC2008</annotation><database>The VOC2008 Database</database><image>flickr</image></source>
</annotation>
"""
# CVAT's VOC export (datumaro's converter): float corners, an empty <depth>, typed <attributes> (a crowd flag and a
# score among them: lxml's reader takes those out of the attributes)
CVAT = """<annotation>
  <folder></folder>
  <filename>frame_000001.jpg</filename>
  <source><database>Unknown</database><annotation>Unknown</annotation><image>Unknown</image></source>
  <size><width>640</width><height>480</height><depth></depth></size>
  <segmented>0</segmented>
  <object>
    <name>car</name>
    <truncated>0</truncated>
    <occluded>1</occluded>
    <difficult>0</difficult>
    <bndbox><xmin>10.0</xmin><ymin>20.5</ymin><xmax>30.0</xmax><ymax>40.0</ymax></bndbox>
    <attributes>
      <attribute><name>rotation</name><value>0.0</value></attribute>
      <attribute><name>color</name><value>red</value></attribute>
      <attribute><name>parked</name><value>true</value></attribute>
      <attribute><name>track_id</name><value>7</value></attribute>
      <attribute><name></name><value>nameless</value></attribute>
      <attribute><name>empty</name><value/></attribute>
      <attribute><value>no name</value><name>late</name><name>second</name></attribute>
    </attributes>
  </object>
  <object>
    <name>person</name>
    <truncated>0</truncated>
    <occluded>0</occluded>
    <difficult>0</difficult>
    <bndbox><xmin>1.0</xmin><ymin>2.0</ymin><xmax>3.0</xmax><ymax>4.0</ymax></bndbox>
    <attributes><attribute><name>iscrowd</name><value>true</value></attribute>
    <attribute><name>score</name><value>0.75</value></attribute></attributes>
  </object>
</annotation>
"""
SEEDS = [LABELIMG, DATUMARO, ROBOFLOW, NO_OBJECTS, VOC2012, CVAT]

_ODD = [
    "<",
    ">",
    "/",
    "&",
    "&amp;",
    '"',
    "'",
    " ",
    "\n",
    "\t",
    "\r",
    "\x01",
    "\ufeff",
    "é",
    "中",
    "<!-- c -->",
    "<![CDATA[x]]>",
    "]]>",
    "<?pi x?>",
    "=",
    ":",
    "a",
    "0",
    "-",
    ".",
]
_NUMBERS = ["", " ", "-1", "nan", "inf", "1e400", "abc", "0x10", " 5 ", "1_0", "0", "3.5", "99999", "1e2", "٣"]
_TAGS = [
    "object",
    "name",
    "bndbox",
    "xmin",
    "ymax",
    "size",
    "width",
    "filename",
    "difficult",
    "pose",
    "part",
    "polygon",
    "source",
    "x",
    "actions",
    "attributes",
    "attribute",
    "value",
    "point",
    "jumping",
]


def _canon(result: tuple[Any, ...]) -> tuple[Any, ...]:
    """A parse result with every dict as its ordered items (writers write fields in that order)."""
    filename, width, height, objects, meta = result
    return (
        filename,
        width,
        height,
        list(meta.items()),
        [
            (
                o.label,
                o.bbox,
                o.shape,
                o.polygon,
                o.iscrowd,
                o.score,
                [(k, list(v.items()) if isinstance(v, dict) else v) for k, v in o.attributes.items()],
                [(k, list(v.items()) if isinstance(v, dict) else v) for k, v in o.meta.items()],
            )
            for o in objects
        ],
    )


def _lxml(data: bytes, one_based: bool = True) -> tuple[Any, ...] | None:
    try:
        return voc.parse_tree(data, "mutant.xml", one_based)
    except InvalidInputError:
        return None


def _agrees(data: bytes, one_based: bool = True) -> bool:
    """True when the fast path read ``data`` (the same as lxml), False when it left it to lxml; fails on a
    difference."""
    plain = voc_plain.parse_plain(data, one_based)
    if plain is None:
        return False
    expected = _lxml(data, one_based)
    assert expected is not None, f"plain reader accepted what lxml refuses: {data!r}"
    assert _canon(plain) == _canon(expected), data
    return True


def _mutate(text: str, rng: random.Random) -> str:
    kind = rng.randrange(7)
    at = rng.randrange(len(text) + 1)
    if kind == 0:
        return text[:at] + text[at + 1 :]
    if kind == 1:
        return text[:at] + rng.choice(_ODD) + text[at:]
    if kind == 2:  # a number replaced
        start = text.find(">", at)
        end = text.find("<", start)
        return text if start < 0 or end < 0 else text[: start + 1] + rng.choice(_NUMBERS) + text[end:]
    if kind == 3:  # a tag renamed
        start = text.find("<", at)
        end = text.find(">", start)
        if start < 0 or end < 0:
            return text
        closing = "/" if text[start + 1 : start + 2] == "/" else ""
        return text[:start] + f"<{closing}{rng.choice(_TAGS)}>" + text[end + 1 :]
    if kind == 4:  # an element repeated or moved
        start = text.find("<", at)
        end = text.find("</", start)
        end = text.find(">", end)
        if start < 0 or end < 0:
            return text
        piece = text[start : end + 1]
        where = rng.randrange(len(text))
        return text[:where] + piece + text[where:] if rng.random() < 0.5 else text[:start] + text[end + 1 :] + piece
    if kind == 5:  # an attribute
        start = text.find("<", at)
        end = text.find(">", start)
        if start < 0 or end < 0 or text[end - 1] == "/":
            return text
        return text[:end] + rng.choice([' verified="no"', ' a="1"', " b='2'", ' verified="yes" x="y"']) + text[end:]
    return text[: rng.randrange(len(text) + 1)]  # cut short


def _corpus_xml(corpus) -> list[bytes]:
    roots = [corpus("voc"), corpus("imagenet", "ilsvrc_bbox_xml")]
    return [file.read_bytes() for root in roots for file in sorted(root.rglob("*.xml"))]


def test_corpus_files_read_the_same_and_plain_ones_take_the_fast_path(corpus):
    files = _corpus_xml(corpus)
    assert len(files) >= 7
    handled = [_agrees(data, one_based) for data in files for one_based in (True, False)]
    # every corpus file is plain but dataset2's @.xml (a comment)
    assert handled.count(True) == 2 * (len(files) - 1)


@pytest.mark.parametrize("seed", SEEDS, ids=["labelimg", "datumaro", "roboflow", "no-objects", "voc2012", "cvat"])
def test_tool_outputs_read_the_same(seed):
    data = seed.encode()
    plain = _agrees(data)
    assert plain  # every tool's layout takes the fast path
    assert _agrees(b"\xef\xbb\xbf" + data) == plain  # a byte-order mark (Windows tools)
    assert not _agrees(data.replace(b"\n", b"\r\n"))  # lxml normalises line ends


def test_labelimg_fields_verified_flag_and_unicode_come_through():
    filename, width, height, objects, meta = voc_plain.parse_plain(LABELIMG.encode(), True)
    assert (filename, width, height) == ("猫 1.jpg", 640, 480)
    assert list(meta) == ["verified", "folder", "path", "source", "depth", "segmented"]
    assert [o.label for o in objects] == ["猫", "dog"]
    assert objects[0].bbox == (9.0, 19.0, 291.0, 381.0)
    assert list(objects[1].attributes.items()) == [
        ("difficult", False),
        ("truncated", True),
        ("pose", "Left"),
    ]  # document order


def test_files_lxml_must_read_are_left_to_it():
    base = DATUMARO.replace("<attributes><attribute><name>color</name><value>red</value></attribute></attributes>", "")
    assert _agrees(base.encode())
    for changed in (
        base.replace("utf-8", "gbk"),  # Chinese LabelImg forks
        base.replace("<name>car</name>", "<name>R&amp;D</name>"),
        base.replace("<name>car</name>", "<name><![CDATA[car]]></name>"),
        base.replace("<segmented>", "<!-- x --><segmented>"),
        base.replace("</bndbox></object>", "</bndbox><part><name>wheel</name></part></object>", 1),  # no box
        base.replace(  # a part's box out of order: lxml's reader words it
            "</bndbox></object>",
            "</bndbox><part><bndbox><xmin>3</xmin><ymin>2</ymin><xmax>1</xmax><ymax>4</ymax></bndbox></part></object>",
            1,
        ),
        base.replace("</bndbox></object>", "</bndbox><point><x><y>1</y></x></point></object>", 1),  # nested deeper
        base.replace("</bndbox></object>", "</bndbox><attributes><note>x</note></attributes></object>", 1),
        base.replace("</bndbox></object>", "</bndbox><actions><other>maybe</other></actions></object>", 1),
        base.replace("<object>", '<object id="1">', 1),
        base.replace(
            "<name>car</name>",
            "<name>car</name><polygon><x1>1</x1><y1>1</y1><x2>4</x2><y2>1</y2><x3>4</x3><y3>4</y3></polygon>",
        ),
        base.replace("<xmax>5</xmax>", "<xmax>0</xmax>"),  # inverted: lxml's reader words the error
        base.replace("<width>40</width>", "<width>wide</width>"),
    ):
        assert not _agrees(changed.encode())
    assert voc_plain.parse_plain(base.replace("car", "çar").encode("latin-1"), True) is None  # not UTF-8


def test_a_full_plan_cache_leaves_new_layouts_to_lxml(monkeypatch):
    monkeypatch.setattr(voc_plain, "_plans", {})
    monkeypatch.setattr(voc_plain, "MAX_PLANS", 0)
    assert voc_plain.parse_plain(ROBOFLOW.encode(), True) is not None  # compiled, used, not kept
    assert voc_plain._plans == {}


def test_mutated_files_read_the_same_or_go_to_lxml(corpus, monkeypatch):
    monkeypatch.setattr(voc_plain, "_plans", {})  # the mutants' layouts stay out of other tests' cache
    rng = random.Random(20261123)
    seeds = SEEDS + [data.decode("utf-8") for data in _corpus_xml(corpus)]
    plain = readable = 0
    for _ in range(6000):
        text = rng.choice(seeds)
        for _ in range(rng.choice((1, 1, 2, 3))):
            text = _mutate(text, rng)
        for data in [text.encode("utf-8", "surrogatepass")] + (
            [text.encode("latin-1", "replace")] if rng.random() < 0.1 else []
        ):
            plain += _agrees(data, one_based=rng.random() < 0.8)
            readable += _lxml(data) is not None
    assert readable > 1000
    assert plain > readable // 3  # the fast path itself is exercised, not only the way to lxml


def test_reading_a_tree_gives_the_same_samples_with_and_without_the_fast_path(tmp_path: Path, monkeypatch):
    import cvkit

    (tmp_path / "Annotations").mkdir()
    for i, seed in enumerate(SEEDS):
        (tmp_path / "Annotations" / f"{i}.xml").write_text(
            seed.replace("<width>0</width><height>0</height>", "<width>5</width><height>5</height>"), encoding="utf-8"
        )
    fast = cvkit.read(tmp_path, format="voc").materialize()
    monkeypatch.setattr(voc, "parse_plain", lambda data, one_based: None)
    slow = cvkit.read(tmp_path, format="voc").materialize()
    assert [(s.path, s.width, s.height, s.objects, s.meta) for s in fast] == [
        (s.path, s.width, s.height, s.objects, s.meta) for s in slow
    ]
    assert [c.name for c in fast.categories] == [c.name for c in slow.categories]
