import os
import stat

import pytest

from shared.atomic import atomic_path, write_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "list" / "body.jsonl"
    write_atomic(target, b"old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_bytes(b"half of the new")
        raise RuntimeError("the writer failed")
    assert target.read_bytes() == b"old\n"
    assert os.listdir(target.parent) == ["body.jsonl"]


def test_the_new_file_replaces_the_old_and_can_take_another_files_mode(tmp_path):
    source = tmp_path / "source.py"
    source.write_bytes(b"x")
    source.chmod(0o640)
    target = tmp_path / "out" / "source.py"
    write_atomic(target, b"new", mode_from=source)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    write_atomic(target, b"newer")
    assert target.read_bytes() == b"newer"
    assert sorted(os.listdir(target.parent)) == ["source.py"]
