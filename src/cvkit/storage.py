"""Inputs and outputs in object storage (``s3://``, ``gs://``, any fsspec URL): staged through a local folder.

cvkit's readers and writers work on local files. A URL source is downloaded into a fresh staging folder, the normal
local pipeline runs there, and the output is built there too, then uploaded (a URL destination) or moved into place
(a local one) when the run has succeeded:

- **Layout.** A URL is staged at ``<staging>/cvkit-in-*/<protocol>/<bucket>/<key>``; the destination beside the
  source when both are in one bucket (paths an output records relative to itself, such as a manifest's images, are
  then right in the bucket too), else under ``cvkit-out-*``. Text outputs that name a staged path name its URL
  instead (a VOC ``<path>``, COCO's ``info.image_root``); one whose image paths would lead into the staging folder
  or, from a bucket, to this machine's disk is refused (LabelMe's relative ``imagePath``: pass ``--images copy``).
- **Bounded download.** Every key under a source prefix must be a plain relative name (no empty, ``.`` or ``..``
  part, no backslash or control character; :func:`cvkit.core.paths.inside` checks where it lands), a regular object
  (no link), not both a file and a folder; at most :data:`MAX_STAGED_FILES` objects and no more bytes than the
  staging disk holds. A manifest source brings the images it names from its bucket.
- **Upload order.** Data (images, shards) first, annotation files next, manifests and the output file itself last:
  a reader never sees a manifest pointing at objects not there yet. A failed upload deletes what it uploaded.
- **Refusals.** An existing destination key without ``--overwrite``; a destination equal to, inside or holding the
  source prefix; a manifest written away from its images (local source, URL manifest or the reverse).

Credentials and endpoint come from the usual environment (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``, ...) and
from ``storage.KEY=VALUE`` reader/writer options, passed to fsspec. docs/scale.md ("Object storage") describes it.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from cvkit.atomic import atomic_dir, atomic_file
from cvkit.core.paths import UnsafePathError, inside
from cvkit.core.report import Report
from cvkit.errors import CvkitError, DestinationExistsError

#: most objects one source may stage (a prefix with more is refused: name a smaller prefix)
MAX_STAGED_FILES = 1_000_000
#: the option prefix (``-r storage.endpoint_url=...``) of what goes to fsspec rather than a reader or writer
OPTION_PREFIX = "storage."
#: staging folder's parent when set (a disk large enough for the whole source); else the system's temporary folder
STAGING_ENV = "CVKIT_STAGING_DIR"
#: seconds an interrupted upload is given to stop its transfers before its keys are deleted
SETTLE_S = 60
#: suffixes of what is uploaded last: manifests and index files a reader opens first
MANIFEST_SUFFIXES = (".jsonl", ".parquet", ".pq")
#: suffixes of annotation files, uploaded after the data they describe
METADATA_SUFFIXES = (".json", ".xml", ".txt", ".csv", ".tsv", ".yaml", ".yml", ".names", ".labels")
#: outputs scanned for paths into the staging folder
TEXT_SUFFIXES = (*METADATA_SUFFIXES, ".jsonl")

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(location: str | os.PathLike[str] | None) -> bool:
    """Whether ``location`` is a URL (``s3://...``) rather than a local path; ``file://`` counts as local."""
    return isinstance(location, str) and bool(_URL.match(location)) and not location.lower().startswith("file://")


def local_path(location: str | os.PathLike[str]) -> str:
    """A local path as given, or the path of a ``file://`` URL."""
    text = os.fspath(location)
    if text.lower().startswith("file://"):
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise CvkitError(f"a file:// URL names a path on this machine, not on {parts.netloc!r}", file=text)
        return unquote(parts.path)
    return text


def split_options(options: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(storage options for fsspec, the rest)`` of reader or writer options."""
    storage: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in (options or {}).items():
        if key.startswith(OPTION_PREFIX):
            storage[key[len(OPTION_PREFIX) :]] = value
        else:
            rest[key] = value
    return storage, rest


@dataclass
class Location:
    """One URL: its file system (fsspec), the path on it (``bucket/key``), and where it is staged locally."""

    url: str
    fs: Any
    path: str
    local: Path

    @property
    def store(self) -> tuple[str, str]:
        """``(protocol, bucket)``: what two URLs must share for relative paths between them to hold."""
        return _protocol(self.fs), self.path.split("/", 1)[0]

    def url_of(self, key: str) -> str:
        """The URL of a path on this location's file system."""
        return f"{_protocol(self.fs)}://{key}"


def _protocol(fs: Any) -> str:
    protocol = fs.protocol
    return protocol[0] if isinstance(protocol, (tuple, list)) else protocol


def open_location(url: str, options: dict[str, Any], staging: Path) -> Location:
    """Resolve ``url`` through fsspec (a missing backend, such as s3fs, is a one-line error naming the extra)."""
    try:
        from fsspec.core import url_to_fs

        fs, path = url_to_fs(url, **options)
    except ImportError as exc:
        raise CvkitError(
            f"this URL needs a file system package ({exc}); pip install 'cvkit[cloud]' (s3fs), or gcsfs for gs://",
            file=url,
        ) from None
    except (ValueError, TypeError) as exc:
        raise CvkitError(f"cannot open this URL: {exc}", file=url) from None
    path = path.rstrip("/")
    if not path:
        raise CvkitError("the URL names no bucket", file=url)
    parts = _plain_parts(path, url)
    return Location(url=url, fs=fs, path=path, local=inside(staging, _protocol(fs), *parts))


def _plain_parts(key: str, url: str) -> list[str]:
    """The parts of an object key, refused unless each is a plain name (the key could not leave its folder)."""
    parts = key.split("/")
    for part in parts:
        why = None
        if part in ("", ".", ".."):
            why = "an empty part" if not part else f"a {part!r} part"
        elif "\\" in part:
            why = "a backslash"
        elif any(ord(c) < 32 or ord(c) == 127 for c in part):
            why = "a control character"
        if why:
            raise UnsafePathError(f"object key {key!r} holds {why}; cvkit stages only plain relative names", file=url)
    return parts


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _fs_error(exc: Exception, url: str, doing: str) -> CvkitError:
    """An error of the store (credentials, a missing bucket, the network) as one line naming the URL."""
    if isinstance(exc, CvkitError):
        return exc
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, FileNotFoundError):
        return CvkitError(f"not found while {doing}", file=url)
    if isinstance(exc, PermissionError):
        return CvkitError(f"access denied while {doing} ({reason})", file=url)
    return CvkitError(f"object storage error while {doing}: {reason}", file=url)


# --- download ----------------------------------------------------------------------------------
def _listing(loc: Location, max_files: int) -> dict[str, int]:
    """``{key: size}`` of every object under the prefix ``loc`` names (or the one object it names), checked."""
    fs = loc.fs
    fs.invalidate_cache()
    try:
        if fs.isfile(loc.path):
            info = fs.info(loc.path)
            _check_object(loc.path, info, loc.url_of(loc.path))
            return {loc.path: int(info.get("size") or 0)}
        found = fs.find(loc.path, detail=True)
    except Exception as exc:  # any backend's error: one line naming the URL
        raise _fs_error(exc, loc.url, "listing the source") from None
    if not found:
        raise CvkitError("input not found (no object at or under this URL)", file=loc.url)
    sizes: dict[str, int] = {}
    folders: set[str] = set()
    for key, info in found.items():
        key = key.rstrip("/") if info.get("type") == "directory" else key
        if info.get("type") == "directory" or (key.endswith("/") and not info.get("size")):
            continue  # a "folder/" marker object, made by consoles
        if not _under(key, loc.path):
            raise UnsafePathError(f"object key {key!r} lies outside the prefix", file=loc.url)
        rel = key[len(loc.path) + 1 :]
        parts = _plain_parts(rel, loc.url_of(key))
        inside(loc.local, *parts)
        _check_object(key, info, loc.url_of(key))
        sizes[key] = int(info.get("size") or 0)
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        if len(sizes) > max_files:
            raise CvkitError(
                f"more than {max_files} objects under this prefix; name a smaller prefix (or raise the limit with "
                "-r storage.max_files=N)",
                file=loc.url,
            )
    clash = next((key for key in sizes if key[len(loc.path) + 1 :] in folders), None)
    if clash is not None:
        raise UnsafePathError(
            f"object key {clash!r} is both an object and a folder of other objects; a local folder cannot hold both",
            file=loc.url,
        )
    return sizes


def _check_object(key: str, info: dict[str, Any], url: str) -> None:
    if info.get("islink") or info.get("type") not in ("file", None):
        raise UnsafePathError(
            f"{key!r} is not a regular object ({info.get('type')}); cvkit stages only files", file=url
        )


def _check_space(folder: Path, needed: int, url: str) -> None:
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise CvkitError(
            f"the source holds {needed:,} bytes but the staging disk ({folder}) has {free:,} free; set {STAGING_ENV} "
            "to a folder on a larger disk",
            file=url,
        )


def _download(loc: Location, sizes: dict[str, int], staging: Path) -> list[Path]:
    """Fetch ``sizes``' keys to their staged paths; returns those paths."""
    _check_space(staging, sum(sizes.values()), loc.url)
    keys = sorted(sizes)
    local = [loc.local if key == loc.path else inside(loc.local, *key[len(loc.path) + 1 :].split("/")) for key in keys]
    for path in local:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if keys:
            _transfer(loc.fs, "get", keys, [str(p) for p in local])
    except Exception as exc:
        raise _fs_error(exc, loc.url, "downloading the source") from None
    return local


def _manifest_images(loc: Location, manifest: Path, max_files: int, root: Path) -> None:
    """Stage the images a manifest (downloaded to ``manifest``) names relative to itself, from its bucket.

    Absolute image paths are left as they are (files on this machine). An image that is not in the bucket is not
    staged: the reader reports it missing where it would locally."""
    from cvkit.manifest import iter_records

    folder = posixpath.dirname(loc.path)
    bucket = loc.path.split("/", 1)[0]
    wanted: set[str] = set()
    for _, record in iter_records(manifest):
        image = record.get("image")
        if not isinstance(image, str) or os.path.isabs(image) or is_url(image):
            continue
        key = posixpath.normpath(posixpath.join(folder, image))
        if not _under(key, bucket) or key == bucket:
            raise UnsafePathError(f"image {image!r} would lie outside the bucket", file=loc.url)
        _plain_parts(key, loc.url)
        wanted.add(key)
        if len(wanted) > max_files:
            raise CvkitError(f"the manifest names more than {max_files} images", file=loc.url)
    present: dict[str, int] = {}
    fs = loc.fs
    try:
        for parent in sorted({posixpath.dirname(key) for key in wanted}):
            for info in fs.ls(parent, detail=True):
                name = info["name"].rstrip("/")
                if name in wanted and info.get("type") == "file":
                    present[name] = int(info.get("size") or 0)
    except FileNotFoundError:
        pass
    except Exception as exc:
        raise _fs_error(exc, loc.url, "listing the manifest's images") from None
    whole = Location(url=loc.url_of(bucket), fs=fs, path=bucket, local=root / _protocol(fs) / bucket)
    _download(whole, present, root)


# --- upload ------------------------------------------------------------------------------------
def _phase(path: Path, output: Path) -> int:
    """Upload order: 0 data, 1 annotation files, 2 manifests and the output file itself (last)."""
    suffix = path.suffix.lower()
    if path == output or suffix in MANIFEST_SUFFIXES:
        return 2
    return 1 if suffix in METADATA_SUFFIXES else 0


def _outputs(local: Path, url: str, staged_source: set[Path]) -> list[Path]:
    """Files the run wrote for the output staged at ``local``: the output itself and what it puts beside it
    (``<name>.skipped.jsonl``, ``<stem>_images/``), never a staged source file."""
    names = {local.name, local.name + ".skipped.jsonl", posixpath.basename(_images_beside(local.name))}
    found: list[Path] = []
    for entry in sorted(p for p in local.parent.iterdir() if p.name in names):
        walked = [entry] if entry.is_symlink() or not entry.is_dir() else sorted(entry.rglob("*"))
        for path in walked:
            if path.is_symlink():
                raise CvkitError(
                    "the output holds a symbolic link (--images symlink), which cannot leave the staging folder",
                    file=url,
                )
            if path.is_file() and path not in staged_source:
                found.append(path)
    return found


def _unstage(files: list[Path], replacements: dict[str, str], refused: dict[bytes, str], url: str) -> None:
    """Write staged paths in text outputs as what they stand for (a URL source's path in a VOC ``<path>`` or COCO's
    ``info.image_root`` as its URL); then refuse an output still holding a ``refused`` needle (an image path that
    leads into the staging folder, or to this machine's disk from object storage), with its reason."""
    for path in files:
        if path.suffix.lower() not in TEXT_SUFFIXES:
            continue
        data = original = path.read_bytes()
        for staged_path, real in replacements.items():
            data = data.replace(os.fsencode(staged_path), os.fsencode(real))
        for needle, why in refused.items():
            if needle in data:
                raise CvkitError(
                    f"{path.name} would refer to images by a path that {why}; copy the images into the output "
                    "(--images copy) or write it in the source's bucket",
                    file=url,
                )
        if data != original:
            path.write_bytes(data)


def _place(local: Path, target: Path, files: list[Path], overwrite: bool) -> None:
    """Move the output staged at ``local`` (and its side files) to the local ``target``, each atomically."""
    staged_names = {path.relative_to(local.parent).parts[0] for path in files}
    for name in sorted(staged_names):
        entry, destination = local.parent / name, target.parent / name
        if entry.is_dir():
            with atomic_dir(destination, overwrite=overwrite) as tmp:
                for child in entry.iterdir():
                    shutil.move(child, tmp / child.name)
        else:
            with atomic_file(destination, "wb", encoding=None) as out, open(entry, "rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 20)
    stale = target.parent / (target.name + ".skipped.jsonl")
    if stale.name not in staged_names and stale.is_file():
        stale.unlink()  # a report of an earlier run belongs to the output it came with (as api.write_skipped)


def _existing(dst: Location) -> tuple[list[str], list[str]]:
    """Keys of an earlier output at ``dst`` (the object, everything under it as a prefix, its ``.skipped.jsonl``),
    and the keys under ``<stem>_images/`` beside it (where a CIFAR read extracts images; not the output's own)."""
    fs = dst.fs
    fs.invalidate_cache()
    try:
        old = [key for key in (dst.path, dst.path + ".skipped.jsonl") if fs.isfile(key)]
        old.extend(k for k in fs.find(dst.path) if _under(k, dst.path) and k != dst.path)
        beside = _images_beside(dst.path)
        return old, [k for k in fs.find(beside) if _under(k, beside) and k != beside]
    except Exception as exc:
        raise _fs_error(exc, dst.url, "checking the destination") from None


def _images_beside(path: str) -> str:
    """The ``<stem>_images`` prefix beside an output (where a CIFAR read puts its images: api.images_dir_beside)."""
    folder, name = posixpath.split(path)
    stem = posixpath.splitext(name)[0] if posixpath.splitext(name)[1] else name
    return posixpath.join(folder, f"{stem}_images")


def _upload(dst: Location, files: list[Path], existing: tuple[list[str], list[str]], overwrite: bool) -> None:
    """Put ``files`` (staged under ``dst.local``'s folder) at their keys, data first; delete the earlier output's keys
    (``existing[0]``) the run did not write again. On any failure (Ctrl-C included) the keys it put that were not
    there before are deleted. Keys beside the output (``existing[1]``) are replaced only with ``overwrite``."""
    base_local, base_key = dst.local.parent, posixpath.dirname(dst.path)
    keys = {path: posixpath.join(base_key, path.relative_to(base_local).as_posix()) for path in files}
    old, beside = existing
    images = _images_beside(dst.path)
    if beside and not overwrite and any(_under(key, images) for key in keys.values()):
        raise DestinationExistsError(
            "the extracted images' folder exists in object storage; pass --overwrite to replace it",
            file=dst.url_of(images),
        )
    before = set(old) | set(beside)
    fs = dst.fs
    try:
        for phase in (0, 1, 2):
            batch = [path for path in files if _phase(path, dst.local) == phase]
            if batch:
                _transfer(fs, "put", [str(p) for p in batch], [keys[p] for p in batch])
    except BaseException as exc:
        _remove(fs, sorted(key for key in keys.values() if key not in before))
        if isinstance(exc, Exception):
            raise _fs_error(exc, dst.url, "uploading the output") from None
        raise
    stale = sorted(set(old) - set(keys.values()))
    if stale:
        _remove(fs, stale)


def _transfer(fs: Any, method: str, source: list[str], target: list[str]) -> None:
    """``fs.put`` / ``fs.get`` of many files, stopped before it returns when interrupted (Ctrl-C): fsspec's own would
    leave its transfers running on its event loop thread, putting keys after the clean-up deleted them, or writing
    into the staging folder after it was removed."""
    if not getattr(fs, "async_impl", False):
        getattr(fs, method)(source, target)
        return
    started, finished = threading.Event(), threading.Event()

    async def run() -> None:
        started.set()
        try:
            await getattr(fs, f"_{method}")(source, target)
        finally:
            finished.set()

    future = asyncio.run_coroutine_threadsafe(run(), fs.loop)
    try:
        future.result()
    except BaseException:
        future.cancel()  # cancels the transfers; wait until they have stopped
        finished.wait(SETTLE_S if started.is_set() else 1)
        raise


def _remove(fs: Any, keys: list[str]) -> None:
    """Delete ``keys`` (in batches where the store allows), best effort: a clean-up never hides the first error."""
    if not keys:
        return
    try:
        fs.rm(keys)
    except Exception:
        for key in keys:
            try:
                fs.rm_file(key)
            except Exception:
                continue


# --- the staging context -------------------------------------------------------------------------
@dataclass
class Staged:
    """The local stand-ins of a run's source and destination, and the options left for reader and writer."""

    src: str
    dst: str
    read_options: dict[str, Any]
    write_options: dict[str, Any]
    urls: dict[str, str] = field(default_factory=dict)

    def name_urls(self, report: Report) -> None:
        """Point the report's skipped items and warnings at the URLs of the staged files they name."""
        for item in report.skipped:
            item.file = _url_text(item.file, self.urls) if item.file else item.file
            item.reason = _url_text(item.reason, self.urls)
        report.warnings = [_url_text(text, self.urls) for text in report.warnings]


def _check_apart(src: Location, dst: Location) -> None:
    if src.fs is not dst.fs and _protocol(src.fs) != _protocol(dst.fs):
        return
    if _under(dst.path, src.path):
        where = "is" if dst.path == src.path else "lies inside"
        raise UnsafePathError(
            f"the destination {where} the source ({src.url}); cvkit never writes into its input", file=dst.url
        )
    if _under(src.path, dst.path):
        raise UnsafePathError(
            f"the destination holds the source ({src.url}); replacing it would delete the input", file=dst.url
        )


@contextmanager
def staged(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    read_options: dict[str, Any] | None = None,
    write_options: dict[str, Any] | None = None,
    manifest_output: bool = False,
) -> Iterator[Staged]:
    """Run the body on local stand-ins of ``src`` and ``dst``; a URL source is downloaded first, a URL destination
    uploaded after the body succeeds. The staging folder is removed either way. Errors naming a staged file name its
    URL instead. ``manifest_output``: the output is a manifest (image paths relative to itself)."""
    src_storage, read_rest = split_options(read_options)
    dst_storage, write_rest = split_options(write_options)
    dst_storage = {**src_storage, **dst_storage}
    src_text, dst_text = os.fspath(src), os.fspath(dst)
    if not is_url(src_text) and not is_url(dst_text):
        if src_storage or dst_storage:
            raise CvkitError("storage.* options apply to URL sources and destinations (s3://, gs://) only")
        yield Staged(local_path(src_text), local_path(dst_text), read_rest, write_rest)
        return
    max_files = int(src_storage.pop("max_files", MAX_STAGED_FILES))
    dst_storage.pop("max_files", None)
    if manifest_output and is_url(src_text) != is_url(dst_text):
        raise CvkitError(
            "a manifest records where its images are, relative to itself, and they would be in a staging folder "
            "deleted after the run (or on this machine's disk); write it where the images are (in the source's "
            "bucket, or both local)",
            file=dst_text,
        )
    parent = os.environ.get(STAGING_ENV) or None
    if parent:
        Path(parent).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="cvkit-staging-", dir=parent))
    result = Staged(local_path(src_text), local_path(dst_text), read_rest, write_rest)
    try:
        # the source under in/, the destination under out/ unless in the source's bucket: an output path leading
        # from one to the other then holds in/'s unique name, and is refused
        in_root = Path(tempfile.mkdtemp(prefix="cvkit-in-", dir=staging))
        src_loc = open_location(src_text, src_storage, in_root) if is_url(src_text) else None
        dst_loc = open_location(dst_text, dst_storage, in_root) if is_url(dst_text) else None
        same_store = src_loc is not None and dst_loc is not None and src_loc.store == dst_loc.store
        out_root = in_root if same_store else Path(tempfile.mkdtemp(prefix="cvkit-out-", dir=staging))
        if dst_loc is not None and not same_store:
            dst_loc = open_location(dst_text, dst_storage, out_root)
        target = Path(os.path.abspath(result.dst))  # a local destination (unused for a URL one)
        protocols = {_protocol(loc.fs) for loc in (src_loc, dst_loc) if loc is not None}
        replacements = {
            f"{root / protocol}/": f"{protocol}://" for root in {in_root, out_root} for protocol in protocols
        }
        replacements[f"{out_root / 'local'}/"] = f"{target.parent}/"
        result.urls = {staged[:-1]: real[:-1] for staged, real in replacements.items()}  # without the last /
        if src_loc is not None and dst_loc is not None:
            if manifest_output and not same_store:
                raise CvkitError(
                    f"a manifest records where its images are, relative to itself; write it in the source's bucket "
                    f"({src_loc.store[0]}://{src_loc.store[1]})",
                    file=dst_text,
                )
            _check_apart(src_loc, dst_loc)
        existing = _check_destination(dst_loc, target, overwrite)
        staged_dst = dst_loc.local if dst_loc is not None else inside(out_root, "local", target.name)
        staged_dst.parent.mkdir(parents=True, exist_ok=True)
        staged_source: set[Path] = set()
        refused = {in_root.name.encode(): "leads into the staging folder, deleted after the run"}
        if src_loc is not None:
            staged_source = _stage_source(src_loc, in_root, max_files)
            result.src = str(src_loc.local)
        elif climb := _climb_to(result.src, staging):
            refused[climb] = "leads to this machine's disk, not into the bucket"
        result.dst = str(staged_dst)
        yield result
        files = _outputs(staged_dst, dst_text, staged_source)
        _unstage(files, replacements, refused, dst_text)
        if dst_loc is not None:
            _upload(dst_loc, files, existing, overwrite)
        else:
            _place(staged_dst, target, files, overwrite)
    except CvkitError as exc:
        _name_urls(exc, result.urls)
        raise
    except OSError as exc:
        if exc.filename is not None:
            exc.filename = _url_text(str(exc.filename), result.urls)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _climb_to(source: str, staging: Path) -> bytes | None:
    """What a relative path from inside ``staging`` to the local ``source`` folder holds: ``../`` and then the
    source's real path below the two's common folder (a writer records real paths); None when the staging folder
    is inside the source's (nothing tells such a path apart)."""
    real = os.path.realpath(source)
    folder = real if os.path.isdir(real) else os.path.dirname(real)
    common = os.path.commonpath([folder, os.path.realpath(staging)])
    if common == folder:
        return None
    return os.fsencode("../" + os.path.relpath(folder, common).replace(os.sep, "/") + "/")


def _check_destination(dst: Location | None, local: Path, overwrite: bool) -> tuple[list[str], list[str]]:
    """Refuse an occupied destination before anything is downloaded; returns what :func:`_existing` finds at a URL
    destination (the earlier output's keys are deleted after the upload when it does not write them again)."""
    if dst is None:
        occupied = local.is_file() or (local.is_dir() and any(local.iterdir()))
        if occupied and not overwrite:
            raise DestinationExistsError(
                "destination exists and is not empty; pass --overwrite to replace it", file=local
            )
        return [], []
    existing = _existing(dst)
    if existing[0] and not overwrite:
        raise DestinationExistsError(
            "destination exists in object storage; pass --overwrite to replace it", file=dst.url
        )
    return existing


def _stage_source(src: Location, root: Path, max_files: int) -> set[Path]:
    """Download the source (and, for a manifest, the images it names); returns the staged files."""
    staged_source = set(_download(src, _listing(src, max_files), root))
    if src.local.is_file() and src.local.suffix.lower() in MANIFEST_SUFFIXES:
        before = set(root.rglob("*"))
        _manifest_images(src, src.local, max_files, root)
        staged_source |= set(root.rglob("*")) - before
    return staged_source


def _url_text(text: str, urls: dict[str, str]) -> str:
    """``text`` with staged paths written as the URLs they stand for."""
    for local, url in sorted(urls.items(), key=lambda item: -len(item[0])):
        text = text.replace(local, url)
    return text


def _name_urls(exc: CvkitError, urls: dict[str, str]) -> None:
    """Point an error at the URL of the staged file it names (the user never saw the staging folder)."""
    if exc.file:
        exc.file = _url_text(exc.file, urls)
    exc.message = _url_text(exc.message, urls)
    exc.args = (exc.describe(),)
