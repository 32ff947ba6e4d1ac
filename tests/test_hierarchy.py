"""Hierarchy loaders (WordNet, ImageNet is_a / meta.mat, CIFAR-100, COCO, manifest, edge lists) and attaching."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from cvkit.core.categories import Category, CategorySet, Hierarchy
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.errors import CvkitError, InvalidInputError, UnsafePickleError
from cvkit.hierarchy import attach_hierarchy, find_hierarchy, image_counts, load_hierarchy
from cvkit.hierarchy.graph import depths, resolve_names
from cvkit.manifest import read_header, write_manifest

DATA_NOUN = Path("/usr/share/wordnet/data.noun")
needs_wordnet = pytest.mark.skipif(
    not DATA_NOUN.is_file(), reason="WordNet 3.0 data.noun absent (apt-get install wordnet-base)"
)


def imagenet_1k(corpus) -> list[str]:
    return corpus("imagenet", "timm_synsets", "imagenet_synsets.txt").read_text().split()


# --- ImageNet wordnet.is_a.txt + words.txt ---------------------------------------------------
def test_real_wordnet_hierarchy_is_a_dag_with_all_parents_kept(corpus):
    hierarchy = load_hierarchy(corpus("imagenet", "wordnet_hierarchy"))
    assert len(hierarchy) == 74401
    assert sum(len(node.parents) > 1 for node in hierarchy.nodes.values()) == 1422
    assert len(hierarchy.roots()) == 12
    assert "n00001740" in hierarchy.roots()  # entity
    # ballplayer is both an athlete and a player: both parents kept, in file order
    assert sorted(hierarchy.parents("n09835506")) == ["n09820263", "n10439851"]
    assert hierarchy.display("n02374451") == "horse, Equus caballus"
    assert hierarchy.parents("n02389026") == ["n02374451"]  # sorrel is a horse


def test_is_a_file_alone_finds_words_beside_it(corpus):
    source = find_hierarchy(corpus("imagenet", "wordnet_hierarchy", "is_a.txt"))
    assert (source.kind, source.words.name) == ("imagenet-is-a", "words.txt")


def test_is_a_without_words_has_wnids_only(tmp_path: Path):
    (tmp_path / "wordnet.is_a.txt").write_text("n1 n2\nn1 n3\nn3 n2\n")
    hierarchy = load_hierarchy(tmp_path)
    assert hierarchy.parents("n2") == ["n1", "n3"]
    assert hierarchy.display("n2") == "n2"


def test_is_a_bad_line_names_file_and_line(tmp_path: Path):
    path = tmp_path / "is_a.txt"
    path.write_text("n1 n2\nn1 n2 n3\n")
    with pytest.raises(InvalidInputError) as info:
        load_hierarchy(path)
    assert info.value.describe() == f"{path}:line 2: expected 'parent child', got 'n1 n2 n3'"


def test_cycle_in_is_a_is_an_error_naming_the_cycle_and_file(tmp_path: Path):
    path = tmp_path / "is_a.txt"
    path.write_text("b a\nc b\na c\n")  # a -> b -> c -> a (child -> parent)
    with pytest.raises(InvalidInputError) as info:
        load_hierarchy(path)
    assert info.value.describe() == f"{path}: hierarchy has a cycle: a -> b -> c -> a"


# --- WordNet 3.0 data.noun ---------------------------------------------------------------------
@needs_wordnet
def test_wordnet_database_for_imagenet_1k_matches_the_is_a_files(corpus):
    wnids = imagenet_1k(corpus)
    from_db = load_hierarchy(DATA_NOUN.parent, names=wnids)
    classes = Dataset([], CategorySet(Category(i, w) for i, w in enumerate(wnids, 1)))
    from_files = attach_hierarchy(classes, load_hierarchy(corpus("imagenet", "wordnet_hierarchy"))).hierarchy
    assert len(from_db) == 1860  # the 1,000 classes and their ancestors, like the devkit's meta.mat
    assert set(from_db.nodes) == set(from_files.nodes)
    assert all(sorted(from_db.parents(n)) == sorted(from_files.parents(n)) for n in from_db.nodes)
    assert from_db.display("n02374451") == "horse, Equus caballus"  # underscores -> spaces
    assert from_db.parents("n02389026") == ["n02374451"]


@needs_wordnet
def test_wordnet_database_follows_instance_hypernyms_and_skips_non_synsets():
    hierarchy = load_hierarchy(
        DATA_NOUN, names=["n00060548", "n00000001", "cat"]
    )  # Hegira (@i), a bad offset, not a WNID
    assert hierarchy.parents("n00060548") == ["n00058743"]
    assert hierarchy.display("n00060548") == "Hegira, Hejira"
    assert "n00000001" not in hierarchy and "cat" not in hierarchy
    assert hierarchy.roots() == ["n00001740"]


@needs_wordnet
def test_attaching_wordnet_database_to_unknown_class_names_them(tmp_path: Path):
    dataset = Dataset(
        [Sample("a.jpg", labels=["n02389026"]), Sample("b.jpg", labels=["cat"])],
        CategorySet([Category(1, "n02389026"), Category(2, "cat")]),
    )
    with pytest.raises(InvalidInputError) as info:
        attach_hierarchy(dataset.materialize(), DATA_NOUN)
    assert info.value.describe() == f"{DATA_NOUN}: 1 of 2 classes are not in the hierarchy: cat"


# --- devkit meta.mat ---------------------------------------------------------------------------
def write_meta_mat(path: Path, synsets: list[tuple[int, str, str, list[int]]]) -> None:
    """A meta.mat shaped like ILSVRC2012_devkit_t12/data/meta.mat: a (N, 1) struct array ``synsets``."""
    from scipy.io import savemat

    fields = [
        "ILSVRC2012_ID",
        "WNID",
        "words",
        "gloss",
        "num_children",
        "children",
        "wordnet_height",
        "num_train_images",
    ]
    array = np.zeros((len(synsets), 1), dtype=[(f, object) for f in fields])
    for i, (sid, wnid, words, children) in enumerate(synsets):
        kids = np.array([children], dtype=np.uint16) if children else np.zeros((0, 0), dtype=np.uint8)
        array[i, 0] = (
            np.array([[sid]], dtype=np.uint16),
            wnid,
            words,
            "gloss",
            np.array([[len(children)]]),
            kids,
            np.array([[0]]),
            np.array([[1300]]),
        )
    savemat(str(path), {"synsets": array})


def test_devkit_meta_mat_tree_by_ilsvrc_ids(tmp_path: Path):
    path = tmp_path / "data" / "meta.mat"
    path.parent.mkdir()
    # ID 1 is n02119789 although it is not first in WNID order; children refer to IDs
    write_meta_mat(
        path,
        [
            (1, "n02119789", "kit fox, Vulpes macrotis", []),
            (2, "n01440764", "tench, Tinca tinca", []),
            (3, "n02118333", "fox", [1]),
            (4, "n01443537", "goldfish, Carassius auratus", []),
            (5, "n00015388", "animal, animate being", [3, 2]),
            (6, "n09999999", "pet", [4, 2]),
        ],
    )
    hierarchy = load_hierarchy(tmp_path)  # a devkit folder: data/meta.mat
    assert hierarchy.parents("n02119789") == ["n02118333"]
    assert hierarchy.parents("n01440764") == ["n00015388", "n09999999"]  # listed by two parents: both kept
    assert hierarchy.display("n02119789") == "kit fox, Vulpes macrotis"
    assert sorted(hierarchy.roots()) == ["n00015388", "n09999999"]


def test_devkit_meta_mat_unknown_child_id(tmp_path: Path):
    path = tmp_path / "meta.mat"
    write_meta_mat(path, [(1, "n00000001", "one", []), (2, "n00000002", "two", [1, 7])])
    with pytest.raises(InvalidInputError) as info:
        load_hierarchy(path)
    assert info.value.describe() == f"{path}:synsets[1].children: child ILSVRC2012_ID 7 is not a synset in the file"


# --- CIFAR-100 --------------------------------------------------------------------------------
def test_cifar100_corpus_fine_to_coarse(corpus):
    hierarchy = load_hierarchy(corpus("cifar", "cifar100_dataset"))
    assert {name: hierarchy.parents(name) for name in ("airplane", "automobile", "bird")} == {
        "airplane": ["air_object"],
        "automobile": ["ground_object"],
        "bird": ["air_object"],
    }


def write_real_cifar100(folder: Path) -> None:
    """Bytes keys, bytes names and a numpy pixel array, as the real cifar-100-python pickles are."""
    folder.mkdir()
    meta = {
        b"fine_label_names": [b"apple", b"beaver", b"dolphin"],
        b"coarse_label_names": [b"aquatic_mammals", b"fruit_and_vegetables"],
    }
    (folder / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    batch = {
        b"filenames": [b"a.png", b"b.png", b"c.png"],
        b"fine_labels": [1, 0, 2],
        b"coarse_labels": [0, 1, 0],
        b"data": np.zeros((3, 3072), dtype=np.uint8),
    }
    (folder / "train").write_bytes(pickle.dumps(batch, protocol=2))


def test_cifar100_real_layout_with_bytes_keys(tmp_path: Path):
    write_real_cifar100(tmp_path / "cifar-100-python")
    hierarchy = load_hierarchy(tmp_path / "cifar-100-python" / "meta")
    assert hierarchy.parents("beaver") == ["aquatic_mammals"]
    assert hierarchy.parents("dolphin") == ["aquatic_mammals"]
    assert hierarchy.parents("apple") == ["fruit_and_vegetables"]


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_cifar100_pickle_with_other_objects_is_refused_not_run(tmp_path: Path):
    write_real_cifar100(tmp_path / "c")
    marker = tmp_path / "pwned"
    (tmp_path / "c" / "train").write_bytes(pickle.dumps({b"fine_labels": _Exploit(marker)}))
    with pytest.raises(UnsafePickleError) as info:
        load_hierarchy(tmp_path / "c")
    assert not marker.exists()
    assert info.value.describe().startswith(f"{tmp_path / 'c' / 'train'}: refused to unpickle the global posix.system")


def test_cifar10_has_no_superclasses(corpus):
    with pytest.raises(CvkitError) as info:
        load_hierarchy(corpus("cifar", "cifar10_dataset"))
    assert "no hierarchy found in this folder" in info.value.message


# --- COCO, manifest, edge lists -----------------------------------------------------------------
def test_coco_supercategories(tmp_path: Path):
    path = tmp_path / "instances.json"
    path.write_text(
        json.dumps(
            {
                "categories": [
                    {"id": 1, "name": "person", "supercategory": "person"},
                    {"id": 2, "name": "bicycle", "supercategory": "vehicle"},
                    {"id": 18, "name": "dog", "supercategory": "animal"},
                ]
            }
        )
    )
    hierarchy = load_hierarchy(path)
    assert hierarchy.parents("bicycle") == ["vehicle"] and hierarchy.parents("dog") == ["animal"]
    assert hierarchy.parents("person") == []  # its own supercategory: a root, not a cycle


def test_coco_roboflow_none_supercategory_is_a_root_as_the_reader_reads_it(tmp_path: Path):
    path = tmp_path / "_annotations.coco.json"
    path.write_text(
        json.dumps(
            {
                "categories": [
                    {"id": 0, "name": "cells", "supercategory": "none"},
                    {"id": 1, "name": "rbc", "supercategory": "cells"},
                ]
            }
        )
    )
    hierarchy = load_hierarchy(path)
    assert hierarchy.parents("cells") == [] and hierarchy.parents("rbc") == ["cells"] and "none" not in hierarchy


def test_coco_corpus_with_empty_supercategories_gives_roots(corpus):
    hierarchy = load_hierarchy(corpus("coco", "coco_instances", "annotations", "instances_train.json"))
    assert sorted(hierarchy.roots()) == ["a", "b", "c"] and len(hierarchy) == 3


def test_edge_csv_with_header_display_names_and_roots(tmp_path: Path):
    path = tmp_path / "edges.csv"
    path.write_text(
        "child,parent,display_name\nbeaver,aquatic_mammals,Beaver\ndolphin,aquatic_mammals\n"
        "dolphin,sea_life\naquatic_mammals,,Aquatic mammals\n"
    )
    hierarchy = load_hierarchy(path)
    assert hierarchy.parents("dolphin") == ["aquatic_mammals", "sea_life"]
    assert hierarchy.display("beaver") == "Beaver" and hierarchy.display("aquatic_mammals") == "Aquatic mammals"
    assert hierarchy.roots() == ["aquatic_mammals", "sea_life"]


def test_edge_csv_self_parent_and_cycle(tmp_path: Path):
    path = tmp_path / "edges.csv"
    path.write_text("a,b\nb,a\n")
    with pytest.raises(InvalidInputError) as info:
        load_hierarchy(path)
    assert info.value.describe() == f"{path}: hierarchy has a cycle: a -> b -> a"
    path.write_text("x,x\n")
    with pytest.raises(InvalidInputError) as info:
        load_hierarchy(path)
    assert info.value.describe() == f"{path}:line 1: hierarchy cycle: 'x' is its own parent"


def test_edge_json_mapping_and_node_records(tmp_path: Path):
    mapping = tmp_path / "fine_to_coarse.json"
    mapping.write_text(json.dumps({"beaver": "aquatic_mammals", "dolphin": ["aquatic_mammals", "sea_life"]}))
    assert load_hierarchy(mapping).parents("dolphin") == ["aquatic_mammals", "sea_life"]
    records = tmp_path / "nodes.json"
    records.write_text(json.dumps([{"name": "n2", "parents": ["n1"], "display_name": "two"}]))
    assert load_hierarchy(records).display("n2") == "two"
    records.write_text(json.dumps([{"name": "n2", "parents": "n1"}]))
    with pytest.raises(InvalidInputError) as info:
        load_hierarchy(records)
    assert info.value.describe() == f"{records}:[0]: a node needs a string 'name' and a list 'parents'"


def test_manifest_header_hierarchy_round_trips(tmp_path: Path):
    hierarchy = Hierarchy()
    hierarchy.add_edge("beaver", "aquatic_mammals")
    hierarchy.add_edge("beaver", "rodent")
    dataset = Dataset([Sample("a.png", labels=["beaver"])], CategorySet([Category(1, "beaver", "Beaver")]), hierarchy)
    write_manifest(dataset, tmp_path / "m.jsonl")
    loaded = load_hierarchy(tmp_path / "m.jsonl")
    assert loaded.parents("beaver") == ["aquatic_mammals", "rodent"]
    assert loaded.display("beaver") == "Beaver"


def test_unknown_inputs_say_what_was_looked_for(tmp_path: Path):
    with pytest.raises(CvkitError) as info:
        load_hierarchy(tmp_path / "nothing")
    assert info.value.describe() == f"{tmp_path / 'nothing'}: hierarchy not found"
    odd = tmp_path / "tree.yaml"
    odd.write_text("a: b\n")
    with pytest.raises(CvkitError) as info:
        load_hierarchy(odd)
    assert info.value.message.startswith(
        "not a hierarchy file cvkit knows; expected wordnet.is_a.txt or is_a.txt (+ words.txt)"
    )


# --- graph helpers, attaching, counting ----------------------------------------------------------
def test_names_resolve_to_wnids_and_ambiguity_lists_candidates(corpus):
    hierarchy = load_hierarchy(corpus("imagenet", "wordnet_hierarchy"))
    assert resolve_names(hierarchy, ["animal", "n00007846", "Equus caballus"]) == [
        "n00015388",
        "n00007846",
        "n02374451",
    ]
    with pytest.raises(CvkitError) as info:
        resolve_names(hierarchy, ["person"])
    assert info.value.message == (
        "'person' is ambiguous, it names 3 nodes: n00007846 (person, individual, someone, somebody, mortal, soul); "
        "n05217688 (person); n06326797 (person); give the id instead"
    )
    # narrowed to the nodes the dataset's classes reach
    assert resolve_names(hierarchy, ["person"], relevant={"n00007846", "n09835506"}) == ["n00007846"]


def test_depth_is_the_shortest_path_from_a_root():
    hierarchy = Hierarchy()
    for child, parent in [("a", "r"), ("b", "a"), ("c", "b"), ("x", "r"), ("c", "x")]:
        hierarchy.add_edge(child, parent)
    assert depths(hierarchy) == {"r": 0, "a": 1, "x": 1, "b": 2, "c": 2}


def test_attach_restricts_to_classes_and_ancestors_and_sets_lemmas(corpus, tmp_path: Path):
    wnids = ["n02389026", "n04146614"]  # sorrel, school bus
    samples = iter(
        [Sample("s.jpg", labels=["n02389026"]), Sample("b.jpg", objects=[Annotation("n04146614", (0, 0, 1, 1))])]
    )
    categories = CategorySet()

    def stream():  # a streaming reader that discovers classes as it goes
        for sample in samples:
            for label in sample.labels + [o.label for o in sample.objects]:
                categories.ensure(label)
            yield sample

    dataset = attach_hierarchy(Dataset(stream(), categories), corpus("imagenet", "wordnet_hierarchy"))
    write_manifest(dataset, tmp_path / "m.jsonl")
    header = read_header(tmp_path / "m.jsonl")
    assert [(c["name"], c["display_name"], c["parents"]) for c in header["categories"]] == [
        ("n02389026", "sorrel", ["n02374451"]),
        ("n04146614", "school bus", ["n02924116"]),
    ]
    nodes = {rec["name"] for rec in header["hierarchy"]}
    assert {"n02374451", "n00015388", "n00001740"} <= nodes and len(nodes) < 40  # ancestors only, not 74k
    assert set(wnids) <= nodes


def test_image_counts_once_per_node_per_image():
    hierarchy = Hierarchy()
    for child, parent in [("beagle", "dog"), ("pug", "dog"), ("dog", "animal"), ("cat", "animal")]:
        hierarchy.add_edge(child, parent)
    samples = [
        Sample("1", objects=[Annotation("beagle"), Annotation("pug"), Annotation("cat")]),
        Sample("2", labels=["pug"]),
        Sample("3"),
    ]
    assert image_counts(samples, hierarchy) == {"animal": 2, "dog": 2, "pug": 2, "beagle": 1, "cat": 1}
