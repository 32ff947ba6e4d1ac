"""cvkit.io.BackgroundFiles: every file written once close() returns, errors surface there."""

from __future__ import annotations

import pytest

from cvkit.io import BackgroundFiles


def test_all_files_are_complete_after_close(tmp_path):
    with BackgroundFiles(workers=3, backlog=2, batch=4) as files:
        for i in range(50):
            files.write_bytes(str(tmp_path / f"{i}.txt"), f"line {i}\n".encode())
    assert sorted(p.read_text() for p in tmp_path.iterdir()) == sorted(f"line {i}\n" for i in range(50))


def test_a_failed_write_is_raised_by_close(tmp_path):
    files = BackgroundFiles(batch=1)
    files.write_bytes(str(tmp_path / "missing_folder" / "a.txt"), b"x")
    with pytest.raises(FileNotFoundError):
        files.close()


def test_an_error_in_the_caller_is_not_replaced_by_a_thread_error(tmp_path):
    with pytest.raises(KeyError), BackgroundFiles(batch=1) as files:
        files.write_bytes(str(tmp_path / "missing_folder" / "a.txt"), b"x")
        raise KeyError("the caller's error")
