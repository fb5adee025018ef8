"""The data layer: registry, offline mirror, download with checksum, and clear errors.

Synthetic cases use a small registry written by the test, with files whose bytes the test
writes itself (they are not course data and no notebook reads them).
"""

import csv
import errno
import functools
import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest

from utils import data

MIRROR = os.environ.get(data.MIRROR_ENV)
needs_mirror = pytest.mark.skipif(not MIRROR, reason=f"{data.MIRROR_ENV} is not set")
PAYLOAD = b"bytes written by the data-layer test\n"


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """A course home, a mirror folder, and a registry with one entry per case."""
    home, mirror = tmp_path / "home", tmp_path / "mirror"
    home.mkdir()
    mirror.mkdir()
    monkeypatch.setenv(data.HOME_ENV, str(home))
    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    rows = {"datasets/good.bin": (digest, ""),
            "datasets/nowhere.bin": (digest, ""),
            "datasets/served.bin": (digest, "SERVER/good.bin"),
            "datasets/served_bad.bin": (digest, "SERVER/bad.bin"),
            "datasets/md5.bin": ("md5:" + hashlib.md5(PAYLOAD).hexdigest(), "")}
    registry_file = tmp_path / "registry.csv"

    def write(server_url=""):
        with open(registry_file, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "sha256", "size", "assignments", "url"])
            for path, (sha, url) in rows.items():
                writer.writerow([path, sha, len(PAYLOAD), "C4W1A2_signs_cnn",
                                 url.replace("SERVER", server_url)])
    write()
    monkeypatch.setattr(data, "REGISTRY_FILE", registry_file)
    return {"home": home, "mirror": mirror, "write": write}


def test_copies_a_verified_file_from_the_mirror(registry, monkeypatch):
    (registry["mirror"] / "datasets").mkdir()
    (registry["mirror"] / "datasets" / "good.bin").write_bytes(PAYLOAD)
    monkeypatch.setenv(data.MIRROR_ENV, str(registry["mirror"]))
    path = data.fetch("datasets/good.bin")
    assert path == registry["home"] / "datasets" / "good.bin"
    assert path.read_bytes() == PAYLOAD


def test_corrupted_mirror_copy_is_refused(registry, monkeypatch):
    (registry["mirror"] / "datasets").mkdir()
    (registry["mirror"] / "datasets" / "good.bin").write_bytes(PAYLOAD[:-1] + b"?")
    monkeypatch.setenv(data.MIRROR_ENV, str(registry["mirror"]))
    with pytest.raises(data.DataFileError, match="does not match the registry's sha256"):
        data.fetch("datasets/good.bin")
    assert not (registry["home"] / "datasets" / "good.bin").exists()


def test_md5_checksums_are_verified_too(registry, monkeypatch):
    """Files whose publisher gives only an MD5 (Keras's VGG19 weights) are registered as
    md5:<hex>."""
    (registry["mirror"] / "datasets").mkdir()
    monkeypatch.setenv(data.MIRROR_ENV, str(registry["mirror"]))
    (registry["mirror"] / "datasets" / "md5.bin").write_bytes(PAYLOAD[:-1] + b"?")
    with pytest.raises(data.DataFileError, match="does not match the registry's md5"):
        data.fetch("datasets/md5.bin")
    (registry["mirror"] / "datasets" / "md5.bin").write_bytes(PAYLOAD)
    assert data.fetch("datasets/md5.bin").read_bytes() == PAYLOAD


def test_missing_file_error_names_file_assignment_and_command(registry):
    with pytest.raises(data.DataFileError) as error:
        data.fetch("datasets/nowhere.bin")
    message = str(error.value)
    assert "datasets/nowhere.bin" in message and "C4W1A2_signs_cnn" in message
    assert "python -m utils.fetch C4W1A2_signs_cnn" in message


def test_a_chinese_notebook_gets_the_missing_file_error_in_chinese(registry):
    """In a Chinese notebook the error says the same in Chinese: the file (in quotes, which
    the grader reads back: ``missing_files_named_in``), who needs it and the command."""
    from utils.i18n import speaking

    with speaking("zh_CN"), pytest.raises(data.DataFileError) as error:
        data.fetch("datasets/nowhere.bin")
    message = str(error.value)
    assert "不可用" in message and "镜像" in message, message
    assert "'datasets/nowhere.bin'" in message
    assert "python -m utils.fetch C4W1A2_signs_cnn" in message
    assert data.missing_files_named_in(message) == ["datasets/nowhere.bin"]


def test_corrupted_local_file_is_reported_not_used(registry):
    target = registry["home"] / "datasets" / "good.bin"
    target.parent.mkdir()
    target.write_bytes(b"truncated")
    with pytest.raises(data.DataFileError, match="corrupted or partial download"):
        data.fetch("datasets/good.bin")
    assert target.read_bytes() == b"truncated", "the user's file must not be deleted silently"


def test_unknown_path_is_an_error(registry):
    with pytest.raises(data.DataFileError, match="not in the course's data registry"):
        data.fetch("datasets/unregistered.h5")


@pytest.fixture
def server(tmp_path):
    """A static HTTP server on the loopback interface serving good.bin and bad.bin."""
    root = tmp_path / "served"
    root.mkdir()
    (root / "good.bin").write_bytes(PAYLOAD)
    (root / "bad.bin").write_bytes(b"not the registered bytes\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_downloads_and_verifies(registry, server):
    registry["write"](server)
    assert data.fetch("datasets/served.bin").read_bytes() == PAYLOAD


def test_download_with_wrong_checksum_leaves_nothing(registry, server):
    registry["write"](server)
    with pytest.raises(data.DataFileError, match="datasets/served_bad.bin"):
        data.fetch("datasets/served_bad.bin")
    assert not (registry["home"] / "datasets" / "served_bad.bin").exists()


@needs_mirror
def test_registry_carries_the_mirror_checksums():
    registry = data.load_registry()
    for line in (Path(MIRROR) / "SHA256SUMS").read_text().splitlines():
        sha, path = line.split("  ", 1)
        path = path.removeprefix("./")
        if path.endswith(".DS_Store"):
            continue
        assert path in registry, f"{path} of the mirror is not registered"
        assert registry[path].sha256 == sha, f"{path}: registry and mirror disagree"


@needs_mirror
def test_fetches_real_signs_test_set_from_the_mirror(tmp_path, monkeypatch):
    monkeypatch.setenv(data.HOME_ENV, str(tmp_path))
    path = data.fetch("datasets/test_signs.h5")
    import h5py
    with h5py.File(path) as signs:
        assert signs["test_set_x"].shape == (120, 64, 64, 3)


def test_nothing_is_downloaded_while_grading(registry, server, monkeypatch):
    registry["write"](server)
    monkeypatch.setenv(data.NO_DOWNLOAD_ENV, "1")
    with pytest.raises(data.DataFileError, match="nothing is downloaded while a notebook is graded"
                       ) as error:
        data.fetch("datasets/served.bin")
    assert "python -m utils.fetch C4W1A2_signs_cnn" in str(error.value)
    assert not (registry["home"] / "datasets" / "served.bin").exists()


def test_a_failed_download_into_a_read_only_folder_is_a_data_error(registry, monkeypatch):
    """As in a grading kernel's read-only course folder, where writing and removing both fail
    with EROFS: a DataFileError, never an OSError."""
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    registry["write"]("http://127.0.0.1:9")  # never reached: the download is replaced
    monkeypatch.setattr(data, "_download", read_only)
    monkeypatch.setattr(Path, "unlink", read_only)
    with pytest.raises(data.DataFileError, match="datasets/served.bin.*Read-only file system"):
        data.fetch("datasets/served.bin")
