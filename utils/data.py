"""The course's data layer: one registry of every external file, fetched on demand and verified.

Every dataset, pretrained weight file and sample image the notebooks use is listed in
``utils/registry.csv`` with its path inside the course (``datasets/...``, ``images/...``,
``pretrained-model/...``), its sha256 (or, for a file whose publisher gives only an MD5, such
as Keras's VGG19 weights, ``md5:<hex>``), its size in bytes, the assignments that need it and its
canonical download URL.

``fetch(path)`` returns the local file, in this order:

1. the file already in the course folder, if its checksum matches the registry;
2. a copy from the offline mirror named by the environment variable ``CNN_COURSE_MIRROR``
   (a folder with the same relative layout), verified before it is copied;
3. a download from the canonical URL with pooch (cache, progress bar, checksum check).

Anything else raises :class:`DataFileError`, whose message names the file, the assignments that
need it and the command that fetches it. There is no fallback to made-up data. While a notebook
is graded (``NO_DOWNLOAD_ENV`` set), nothing is downloaded: the grader fetches the data before it
grades, and the kernel's read-only course folder only gets a DataFileError for a missing file.

``check_available(entries)`` fetches many files at once, one dataset after the other
(:func:`dataset_of`): once a file of a dataset cannot be downloaded, the rest of that dataset is
only looked for locally and in the mirror, so a machine without a network learns in seconds,
not after a thousand timeouts, which datasets are missing. Downloads give up after
``CONNECT_TIMEOUT`` seconds without a connection.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from utils.i18n import _

MIRROR_ENV = "CNN_COURSE_MIRROR"
HOME_ENV = "CNN_COURSE_HOME"
NO_DOWNLOAD_ENV = "CNN_COURSE_NO_DOWNLOAD"  # set (to 1) in grading kernels: never download
REGISTRY_FILE = Path(__file__).with_name("registry.csv")
FETCH_COMMAND = "python -m utils.fetch"
CONNECT_TIMEOUT = 5  # seconds to reach a download server before giving up
READ_TIMEOUT = 60  # seconds a connected server may stay silent


class DataFileError(RuntimeError):
    """A registered file is missing, unknown or corrupted; the message says how to fix it, and
    ``reason`` says in a few words why it could not be had (the message when not given)."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


@dataclass(frozen=True)
class RegistryEntry:
    """One external file of the course.

    path: where it lands, relative to the course folder (POSIX separators).
    sha256: hex sha256 of the file's bytes, or ``md5:<hex>`` where only an MD5 is published.
    size: size in bytes.
    assignments: ids of the assignments that use it.
    url: canonical download URL; ``archive_url#member`` for a file inside a .tar.gz;
        empty when no public copy is registered.
    """

    path: str
    sha256: str
    size: int
    assignments: tuple[str, ...]
    url: str

    @property
    def algorithm(self) -> str:
        """The hash function of the registered checksum: "sha256" or "md5"."""
        return self.sha256.split(":")[0] if ":" in self.sha256 else "sha256"

    @property
    def digest(self) -> str:
        """The registered hex digest, without the algorithm prefix."""
        return self.sha256.split(":")[-1]


_REPOSITORY = Path(__file__).resolve().parents[1]  # resolved once: fetch asks for it per file


def course_home() -> Path:
    """The course folder that holds datasets/, images/ and pretrained-model/.

    ``CNN_COURSE_HOME`` overrides it; otherwise it is the repository that contains this package.
    """
    return Path(os.environ.get(HOME_ENV) or _REPOSITORY)


def data_folders() -> list[Path]:
    """The folders of the course's data files under ``course_home()`` that exist (a grading
    sandbox shows them read-only)."""
    return [course_home() / name for name in ("datasets", "images", "pretrained-model")
            if (course_home() / name).is_dir()]


def load_registry(registry_file: Path | None = None) -> dict[str, RegistryEntry]:
    """Read the registry CSV (default: utils/registry.csv) into ``{path: RegistryEntry}``."""
    path = Path(registry_file or REGISTRY_FILE)
    stat = path.stat()
    return _read_registry(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _read_registry(path: Path, mtime_ns: int, size: int) -> dict[str, RegistryEntry]:
    """Parse the registry once per version of the file (the key holds its mtime and size)."""
    with open(path, newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {
            row["path"]: RegistryEntry(
                path=row["path"],
                sha256=row["sha256"],
                size=int(row["size"]),
                assignments=tuple(row["assignments"].split()),
                url=row["url"],
            )
            for row in rows
        }


def digest_of(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file (sha256 unless another hashlib ``algorithm`` is named), 1 MiB blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def entries_for(assignment: str | None = None) -> list[RegistryEntry]:
    """Registry entries of one assignment (all entries when ``assignment`` is None)."""
    entries = load_registry().values()
    return [e for e in entries if assignment is None or assignment in e.assignments]


def _how_to_fetch(entry: RegistryEntry) -> str:
    needed_by = ", ".join(entry.assignments)
    command = f"{FETCH_COMMAND} {entry.assignments[0]}" if entry.assignments else FETCH_COMMAND
    source = (_("It is downloaded from {url}.").format(url=entry.url.split("#")[0]) if entry.url
              else _("No public download URL is registered for it; copy it from the course's "
                     "data mirror."))
    return _("'{path}' (needed by {assignments}) is not available. Run `{command}` to fetch it, "
             "or set {variable} to a folder that mirrors the course data. {source}").format(
        path=entry.path, assignments=needed_by, command=command, variable=MIRROR_ENV,
        source=source)


def _verified(path: Path, entry: RegistryEntry) -> bool:
    return (path.is_file() and path.stat().st_size == entry.size
            and digest_of(path, entry.algorithm) == entry.digest)


def _copy_from_mirror(entry: RegistryEntry, target: Path) -> bool:
    mirror = os.environ.get(MIRROR_ENV)
    if not mirror:
        return False
    source = Path(mirror) / entry.path
    if not source.is_file():
        return False
    if not _verified(source, entry):
        raise DataFileError(_(
            "The mirror copy {source} does not match the registry's {algorithm} {digest} for "
            "'{path}': the mirror is corrupted or out of date.").format(
            source=source, algorithm=entry.algorithm, digest=entry.digest, path=entry.path))
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return True


def _download(entry: RegistryEntry, target: Path) -> None:
    import pooch

    target.parent.mkdir(parents=True, exist_ok=True)
    url, _sharp, member = entry.url.partition("#")
    downloader = pooch.HTTPDownloader(progressbar=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
    if not member:
        pooch.retrieve(url, known_hash=f"{entry.algorithm}:{entry.digest}", fname=target.name,
                       path=target.parent, downloader=downloader)
        return
    # A file shipped inside a source archive: download the archive, then take out the member.
    with tempfile.TemporaryDirectory() as scratch:
        archive = pooch.retrieve(url, known_hash=None, path=scratch, downloader=downloader)
        with tarfile.open(archive) as tar, open(target, "wb") as out:
            shutil.copyfileobj(tar.extractfile(member), out)


def _discard(target: Path) -> None:
    """Remove a failed download, if there is one and the folder can be written."""
    try:
        target.unlink(missing_ok=True)
    except OSError:  # a read-only course folder (a grading kernel's) holds no partial file
        pass


def fetch(path: str, download: bool = True) -> Path:
    """Return the local copy of the registered file ``path``, fetching and verifying it if needed.

    Raises DataFileError when the path is not registered, cannot be fetched, or does not
    match its checksum after fetching (the bad copy is removed, nothing else is touched).
    With ``download=False`` only the local copy and the mirror are tried.
    """
    registry = load_registry()
    if path not in registry:
        raise DataFileError(_("'{path}' is not in the course's data registry ({registry}).").format(
            path=path, registry=REGISTRY_FILE))
    entry = registry[path]
    target = course_home() / entry.path
    if _verified(target, entry):
        return target
    if target.exists():
        raise DataFileError(_(
            "{target} exists but does not match the registry's {algorithm} for '{path}' "
            "(corrupted or partial download). Delete it, then: {how}").format(
            target=target, algorithm=entry.algorithm, path=entry.path, how=_how_to_fetch(entry)))
    if _copy_from_mirror(entry, target):
        return target
    if not entry.url:
        raise DataFileError(_how_to_fetch(entry), "no public download URL is registered: only "
                                                  "a mirror of the course data has it")
    if os.environ.get(NO_DOWNLOAD_ENV):
        raise DataFileError(_("{how} (Not downloaded: nothing is downloaded while a notebook is "
                              "graded.)").format(how=_how_to_fetch(entry)),
                            "not downloaded while grading")
    if not download:
        raise DataFileError(_("{how} (Not downloaded: another file of its dataset {dataset} "
                              "could not be downloaded.)").format(
                                  how=_how_to_fetch(entry), dataset=dataset_of(entry.path)),
                            "not downloaded after another file of its dataset failed")
    try:
        _download(entry, target)
    except Exception as error:  # network errors, HTTP errors, pooch's hash mismatch
        _discard(target)
        detail = str(error) if len(str(error)) <= 100 else type(error).__name__
        raise DataFileError(_("{how} The download failed: {error}").format(
                                how=_how_to_fetch(entry), error=error),
                            f"the download from {urlsplit(entry.url).netloc} failed: {detail}"
                            ) from error
    if not _verified(target, entry):
        _discard(target)
        raise DataFileError(_("The downloaded '{path}' does not match its {algorithm}; removed "
                              "it.").format(path=entry.path, algorithm=entry.algorithm))
    return target


def fetch_many(entries: list[RegistryEntry]) -> tuple[list[Path], list[str]]:
    """Fetch several entries; return (fetched paths, error messages of those that failed)."""
    fetched, errors = [], []
    for entry in entries:
        try:
            fetched.append(fetch(entry.path))
        except DataFileError as error:
            errors.append(str(error))
    return fetched, errors


def fetch_all(entries: list[RegistryEntry]) -> list[Path]:
    """Fetch several entries, in order; raise one DataFileError naming every one that failed."""
    fetched, errors = fetch_many(entries)
    if errors:
        raise DataFileError("\n".join(errors))
    return fetched


_SPLIT_OR_SIZE = re.compile(r"^(train|test)_|^\d+x\d+_")


def dataset_of(path: str) -> str:
    """The dataset a registered file belongs to, for grouping and messages.

    It is the folder or file name just below datasets/, images/ or pretrained-model/, without
    extensions, a split prefix (``train_``, ``test_``) or an image-size prefix (``64x64_``).
    Names that differ only in case are one dataset, spelled in its most capitalised form:
    ``datasets/64x64_SIGNS/...`` and ``datasets/train_signs.h5`` are both ``SIGNS``.
    """
    key = _dataset_key(path)
    stat = Path(REGISTRY_FILE).stat()
    return _dataset_names(Path(REGISTRY_FILE), stat.st_mtime_ns, stat.st_size).get(key.lower(),
                                                                                   key)


def _dataset_key(path: str) -> str:
    parts = path.split("/")
    name = parts[1] if len(parts) > 1 else parts[0]
    return _SPLIT_OR_SIZE.sub("", name.split(".")[0])


@functools.lru_cache(maxsize=4)
def _dataset_names(registry_file: Path, mtime_ns: int, size: int) -> dict[str, str]:
    """{lower-case dataset key: its most capitalised spelling in the registry}, once per
    version of the file."""
    spellings: dict[str, set[str]] = {}
    for path in load_registry(registry_file):
        key = _dataset_key(path)
        spellings.setdefault(key.lower(), set()).add(key)
    return {key: max(names, key=lambda name: (sum(c.isupper() for c in name), name))
            for key, names in spellings.items()}


def missing_files_named_in(message: str) -> list[str]:
    """The registered files that ``message`` names in quotes, as a DataFileError does
    (``'datasets/train_signs.h5' (needed by ...) is not available``), and that are indeed not in
    the course folder with their registered size (a quick look, without reading them)."""
    registry = load_registry()
    named = dict.fromkeys(p for p in re.findall(r"'([^'\s]+)'", message) if p in registry)
    missing = []
    for path in named:
        target = course_home() / path
        if not (target.is_file() and target.stat().st_size == registry[path].size):
            missing.append(path)
    return missing


@dataclass
class MissingData:
    """The files of one dataset that could not be had, and why (the first file's reason)."""

    dataset: str
    paths: list[str]
    assignments: list[str]
    reason: str


def check_available(entries: list[RegistryEntry], progress: bool = True) -> list[MissingData]:
    """Fetch ``entries`` dataset by dataset (progress bar); return what is missing, per dataset.

    Within a dataset, files are fetched in order until one cannot be had; the rest of that
    dataset is then only looked for locally and in the mirror (``fetch(download=False)``).
    """
    from tqdm import tqdm

    groups: dict[str, list[RegistryEntry]] = {}
    for entry in entries:
        groups.setdefault(dataset_of(entry.path), []).append(entry)
    missing = []
    with tqdm(total=len(entries), unit="file", disable=not progress) as bar:
        for name, group in groups.items():
            failed: list[tuple[RegistryEntry, str]] = []
            bar.set_description(name, refresh=False)
            for entry in group:
                try:
                    fetch(entry.path, download=not failed)
                except DataFileError as error:
                    failed.append((entry, error.reason))
                bar.update()
            if failed:
                assignments = sorted({a for entry, _ in failed for a in entry.assignments})
                missing.append(MissingData(name, [e.path for e, _ in failed], assignments,
                                           failed[0][1]))
    return missing
