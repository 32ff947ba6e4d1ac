"""remap(): nearest listed ancestor over all paths, levels, depth, explicit maps, unmapped policies."""

from __future__ import annotations

from collections import Counter

import pytest

from conftest import corpus_path
from cvkit.core.categories import Category, CategorySet, Hierarchy
from cvkit.core.model import Annotation, Dataset, Sample
from cvkit.errors import CvkitError
from cvkit.hierarchy import attach_hierarchy, load_hierarchy, remap

ANIMAL, PERSON, VEHICLE, ARTIFACT = "n00015388", "n00007846", "n04524313", "n00021939"


@pytest.fixture(scope="module")
def wordnet() -> Hierarchy:
    return load_hierarchy(corpus_path("imagenet", "wordnet_hierarchy"))


@pytest.fixture(scope="module")
def imagenet_1k() -> list[str]:
    return corpus_path("imagenet", "timm_synsets", "imagenet_synsets.txt").read_text().split()


def classification(wnids: list[str]) -> Dataset:
    """One image per class, labelled at image level, as an ImageNet folder reader gives."""
    return Dataset(
        [Sample(f"{w}/{w}_1.JPEG", labels=[w]) for w in wnids],
        CategorySet(Category(i, w) for i, w in enumerate(wnids, 1)),
    )


def test_real_imagenet_classes_to_animal_person_vehicle_artifact(wordnet, imagenet_1k):
    dogs = imagenet_1k[151:269]  # the 118 dog classes: Chihuahua ... Mexican hairless
    assert (dogs[0], dogs[-1], len(dogs)) == ("n02085620", "n02113978", 118)
    expected = {w: ANIMAL for w in dogs} | {
        "n02389026": ANIMAL,  # sorrel (ImageNet-1k's horse): -> horse -> equine -> ... -> animal
        "n01440764": ANIMAL,  # tench
        "n09835506": PERSON,  # ballplayer: athlete AND player, both under person
        "n10148035": PERSON,  # groom
        "n10565667": PERSON,  # scuba diver
        "n04285008": VEHICLE,  # sports car: vehicle (5 steps) is nearer than artifact (7)
        "n02701002": VEHICLE,  # ambulance
        "n03792782": VEHICLE,  # mountain bike: vehicle 3, artifact 5
        "n04467665": VEHICLE,  # trailer truck
        # WordNet's bus is a "public transport" (a conveyance), not a "vehicle": artifact, 5 steps
        "n04146614": ARTIFACT,  # school bus
        "n03272010": ARTIFACT,  # electric guitar
        "n09472597": None,  # volcano: a geological formation, under none of the four
        "n07745940": None,  # strawberry (food)
    }
    new, table = remap(
        attach_hierarchy(classification(list(expected)), wordnet), to=["animal", "person", "vehicle", "artifact"]
    )
    assert table.mapping() == expected
    assert [(c.id, c.name, c.display_name) for c in new.categories] == [
        (1, ANIMAL, "animal, animate being, beast, brute, creature, fauna"),
        (2, PERSON, "person, individual, someone, somebody, mortal, soul"),
        (3, VEHICLE, "vehicle"),
        (4, ARTIFACT, "artifact, artefact"),
    ]
    assert Counter(s.labels[0] for s in new) == {ANIMAL: 120, PERSON: 3, VEHICLE: 4, ARTIFACT: 2}
    assert (table.images_in, table.images_out, table.images_dropped) == (131, 129, 2)
    assert table.row("n04285008").how == "ancestor (distance 5)"
    # the new hierarchy holds the targets and their ancestors only; vehicle stays below artifact
    assert new.hierarchy.parents(VEHICLE) == ["n03100490"] and "n02085620" not in new.hierarchy


def test_all_of_imagenet_1k_counts_and_the_mobile_home_tie(wordnet, imagenet_1k):
    dataset = attach_hierarchy(classification(imagenet_1k), wordnet)
    with pytest.raises(CvkitError) as info:
        remap(dataset, to=["animal", "person", "vehicle", "artifact"])
    # mobile home is a trailer (-> wheeled vehicle -> vehicle) and housing (-> structure -> artifact): 3 steps each
    assert info.value.message == (
        "1 class(es) are equally near to several targets: n03776460 (mobile home, manufactured home) -> "
        "n04524313 (vehicle), n00021939 (artifact, artefact) (distance 3). Give explicit mappings with --map "
        "(mapping=) for them"
    )
    _, table = remap(dataset, to=["animal", "person", "vehicle", "artifact"], mapping={"n03776460": "vehicle"})
    counts = Counter(table.mapping().values())
    assert counts == {ARTIFACT: 455, ANIMAL: 398, None: 77, VEHICLE: 67, PERSON: 3}
    assert table.row("n03776460").how == "mapping"


def test_a_class_that_is_a_target_maps_to_itself_and_names_or_ids_both_work(wordnet):
    dataset = attach_hierarchy(classification(["n02374451", "n02389026"]), wordnet)  # horse, sorrel
    _, table = remap(dataset, to=["n02374451", "animal"])
    assert table.mapping() == {"n02374451": "n02374451", "n02389026": "n02374451"}
    assert table.row("n02374451").how == "itself"


def test_cifar100_coarse_level():
    hierarchy = load_hierarchy(corpus_path("cifar", "cifar100_dataset"))
    samples = [
        Sample("1.png", labels=["airplane"]),
        Sample("2.png", labels=["automobile"]),
        Sample("3.png", labels=["bird"]),
    ]
    dataset = Dataset(
        samples, CategorySet([Category(0, "airplane"), Category(1, "automobile"), Category(2, "bird")]), hierarchy
    )
    new, _ = remap(dataset, level="coarse")
    assert [s.labels for s in new] == [["air_object"], ["ground_object"], ["air_object"]]
    assert [(c.id, c.name) for c in new.categories] == [(1, "air_object"), (2, "ground_object")]
    with pytest.raises(CvkitError) as info:
        remap(dataset, level="middle")
    assert info.value.message == "unknown level 'middle'; choose one of coarse, fine"


def small_tree() -> Hierarchy:
    """r -> a -> b -> c and r -> x -> c (c has two parents; depth(c) = 2 through x); d under a and x."""
    hierarchy = Hierarchy()
    for child, parent in [("a", "r"), ("b", "a"), ("c", "b"), ("x", "r"), ("c", "x"), ("d", "a"), ("d", "x")]:
        hierarchy.add_edge(child, parent)
    return hierarchy


def objects_dataset(labels: list[str], hierarchy: Hierarchy) -> Dataset:
    samples = [Sample(f"{i}.jpg", objects=[Annotation(label, (0, 0, 1, 1))]) for i, label in enumerate(labels)]
    return Dataset(samples, CategorySet(Category(i, n) for i, n in enumerate(dict.fromkeys(labels), 1)), hierarchy)


def test_depth_maps_to_nearest_ancestor_at_that_depth():
    dataset = objects_dataset(["b", "c", "a", "r"], small_tree())
    _, table = remap(dataset, depth=1)
    # c reaches x in 1 step and a in 2: nearest wins; classes at depth <= 1 stay
    assert table.mapping() == {"b": "a", "c": "x", "a": "a", "r": "r"}
    assert table.row("r").how == "itself (depth 0)"
    _, table = remap(dataset, depth=0)
    assert set(table.mapping().values()) == {"r"}


def test_equally_near_targets_is_an_error_listing_them():
    dataset = objects_dataset(["d", "b"], small_tree())
    with pytest.raises(CvkitError) as info:
        remap(dataset, to=["a", "x"])
    assert info.value.message == (
        "1 class(es) are equally near to several targets: d -> a, x (distance 1). "
        "Give explicit mappings with --map (mapping=) for them"
    )
    _, table = remap(dataset, to=["a", "x"], mapping={"d": "x"})
    assert table.mapping() == {"d": "x", "b": "a"}


def test_unmapped_policies():
    hierarchy = small_tree()
    hierarchy.add_edge("y", "r")
    samples = [
        Sample("1.jpg", objects=[Annotation("b", (0, 0, 1, 1)), Annotation("y", (0, 0, 2, 2))]),
        Sample("2.jpg", labels=["y"]),
        Sample("3.jpg"),
    ]
    categories = CategorySet([Category(5, "b"), Category(9, "y", "why")])

    def run(policy: str):
        return remap(Dataset(list(samples), categories, hierarchy), to=["a"], unmapped=policy)

    new, table = run("drop")
    # image 2 held only dropped labels: it goes; image 3 had none to begin with: it stays
    assert [(s.path, [o.label for o in s.objects], s.labels) for s in new] == [("1.jpg", ["a"], []), ("3.jpg", [], [])]
    assert (table.images_dropped, table.objects_in, table.objects_out) == (1, 2, 1)
    assert table.row("y").how == "unmapped: dropped" and table.row("y").new is None
    new, table = run("keep")
    assert [(c.id, c.name, c.display_name) for c in new.categories] == [(1, "a", None), (2, "y", "why")]
    assert [s.labels for s in new] == [[], ["y"], []]
    new, table = run("other")
    assert [c.name for c in new.categories] == ["a", "other"]
    assert [o.label for o in new.samples[0].objects] == ["a", "other"]
    with pytest.raises(CvkitError) as info:
        run("ignore")
    assert info.value.message == "unknown unmapped policy 'ignore'; choose one of drop, keep, other"


def test_explicit_mapping_alone_needs_no_hierarchy():
    samples = [Sample("1.jpg", labels=["cat", "dog"]), Sample("2.jpg", labels=["car"])]
    dataset = Dataset(samples, CategorySet([Category(1, "cat"), Category(2, "dog"), Category(3, "car")]))
    new, table = remap(dataset, mapping={"cat": "pet", "dog": "pet", "car": None, "bus": "vehicle"}, unmapped="keep")
    assert [s.labels for s in new] == [["pet"]]  # two labels merged into one; image 2's only label dropped
    assert [c.name for c in new.categories] == ["pet", "vehicle"]
    assert table.row("car").how == "mapping: dropped"
    assert table.warnings == ["the mapping names 1 class(es) the dataset does not have: bus"]


def test_needs_exactly_one_rule_and_a_hierarchy():
    with pytest.raises(CvkitError) as info:
        remap(objects_dataset(["b"], small_tree()), to=["a"], depth=1)
    assert info.value.message == "give only one of --to, --level or --depth (add --map to override single classes)"
    with pytest.raises(CvkitError) as info:
        remap(objects_dataset(["b"], Hierarchy()), to=["a"])
    assert info.value.message == "the dataset has no hierarchy; pass one (--hierarchy PATH) or attach it at ingest"
    with pytest.raises(CvkitError) as info:
        remap(objects_dataset(["b"], small_tree()), to=["zebra"])
    assert info.value.message == "'zebra' is neither a node id nor a name (lemma) in the hierarchy"
