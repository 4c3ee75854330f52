"""hdfs_utils on the MiniCluster: the round trip, and verification that catches bad copies."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hdfs_utils import env, hdfs

pytestmark = pytest.mark.hadoop


def _tree(root):
    """A directory with a subdirectory, a name with a space, an empty file and binary data."""
    rng = np.random.default_rng(3)
    (root / "sub").mkdir(parents=True)
    files = {
        "a.csv": b"y,x1,x2\n1.5,2,3\n-4,5e-3,6\n",
        "sub/b c.bin": rng.integers(0, 256, 70_000, dtype=np.uint8).tobytes(),
        "sub/empty": b"",
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return files


def _read_if_there(path):
    """The bytes of ``path``, or None: DataNodes delete the blocks of removed files
    asynchronously, so a listed block may be gone a moment later."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def test_round_trip_put_ls_cat_get_exists_rm(hdfs_dir, tmp_path):
    files = _tree(tmp_path / "up")
    remote = f"{hdfs_dir}/data"

    assert hdfs.put(tmp_path / "up", remote) == 3
    assert hdfs.exists(remote)
    listed = {e.path: e for e in hdfs.ls(remote, recursive=True)}
    assert {p for p, e in listed.items() if not e.is_dir} == {
        f"{remote}/{name}" for name in files}
    assert listed[f"{remote}/sub"].is_dir
    assert listed[f"{remote}/sub/b c.bin"].size == 70_000
    assert hdfs.cat(f"{remote}/a.csv") == files["a.csv"]

    assert hdfs.get(remote, tmp_path / "down") == 3
    for name, data in files.items():
        assert (tmp_path / "down" / name).read_bytes() == data

    hdfs.rm(f"{remote}/a.csv")
    assert not hdfs.exists(f"{remote}/a.csv")
    with pytest.raises(hdfs.HdfsError, match="Is a directory"):
        hdfs.rm(remote)
    hdfs.rm(remote, recursive=True)
    assert not hdfs.exists(remote)
    with pytest.raises(hdfs.HdfsNotFound):
        hdfs.rm(remote, recursive=True)
    hdfs.rm(remote, recursive=True, missing_ok=True)
    with pytest.raises(hdfs.HdfsNotFound):
        hdfs.ls(remote)


def test_put_a_file_replaces_only_when_asked(hdfs_dir, tmp_path):
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_bytes(b"1,2\n")
    second.write_bytes(b"3,4\n5,6\n")
    remote = f"{hdfs_dir}/deep/er/t.csv"

    assert hdfs.put(first, remote) == 1
    with pytest.raises(hdfs.HdfsError, match="already exists"):
        hdfs.put(second, remote)
    hdfs.put(second, remote, overwrite=True)
    assert hdfs.cat(remote) == second.read_bytes()


def test_checksum_is_hdfs_crc32c_of_the_bytes(hdfs_dir, tmp_path):
    local = tmp_path / "hello.txt"
    local.write_bytes(b"hello\n")
    hdfs.put(local, f"{hdfs_dir}/hello.txt")

    remote = hdfs.checksum(f"{hdfs_dir}/hello.txt")
    # CRC32C("hello\n"), computed independently of both sides' code (and CRC32 below).
    assert remote == hdfs.Checksum("COMPOSITE-CRC32C", "353dd8be")
    assert hdfs.local_checksum(local) == remote

    # A file written with the older CRC32 chunk checksum is verified just as well.
    written = subprocess.run([str(env.hadoop_bin()), "fs", "-D", "dfs.checksum.type=CRC32",
                              "-put", str(local), f"{hdfs_dir}/hello32.txt"])
    assert written.returncode == 0
    remote32 = hdfs.checksum(f"{hdfs_dir}/hello32.txt")
    assert remote32 == hdfs.Checksum("COMPOSITE-CRC32", "363a3020")
    assert hdfs.verify(local, f"{hdfs_dir}/hello32.txt") == 1


def test_verify_catches_a_changed_byte(hdfs_dir, tmp_path):
    good = np.random.default_rng(7).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    bad = bytearray(good)
    bad[123_456] ^= 0x01
    (tmp_path / "good.bin").write_bytes(good)
    (tmp_path / "bad.bin").write_bytes(bytes(bad))
    remote = f"{hdfs_dir}/x.bin"
    # What landed on HDFS is the corrupted copy: same size, one bit off.
    hdfs.put(tmp_path / "bad.bin", remote, verify_upload=False)

    with pytest.raises(hdfs.HdfsVerifyError, match="checksum .* differs"):
        hdfs.verify(tmp_path / "good.bin", remote)
    assert hdfs.verify(tmp_path / "bad.bin", remote) == 1


def test_verify_catches_a_truncated_or_incomplete_directory(hdfs_dir, tmp_path):
    _tree(tmp_path / "full")
    short = tmp_path / "short"
    _tree(short)
    data = (short / "sub" / "b c.bin").read_bytes()
    (short / "sub" / "b c.bin").write_bytes(data[:-1])
    hdfs.put(short, f"{hdfs_dir}/short", verify_upload=False)
    with pytest.raises(hdfs.HdfsVerifyError, match="has 69999 bytes"):
        hdfs.verify(tmp_path / "full", f"{hdfs_dir}/short")

    (short / "sub" / "b c.bin").write_bytes(data)
    (short / "a.csv").unlink()
    hdfs.put(short, f"{hdfs_dir}/partial", verify_upload=False)
    with pytest.raises(hdfs.HdfsVerifyError, match="missing on HDFS, e.g. 'a.csv'"):
        hdfs.verify(tmp_path / "full", f"{hdfs_dir}/partial")


def test_a_block_corrupted_on_the_datanode_fails_the_download(hadoop_cluster, hdfs_dir,
                                                              tmp_path):
    data = b"block to be damaged on disk " + bytes(range(256)) * 8
    (tmp_path / "f.bin").write_bytes(data)
    hdfs.put(tmp_path / "f.bin", f"{hdfs_dir}/f.bin")
    # The DataNode keeps the block as a plain file: find it by its bytes and flip one.
    work = Path(hadoop_cluster.run_dir) / "work"
    blocks = [p for p in work.rglob("blk_*")
              if not p.name.endswith(".meta") and _read_if_there(p) == data]
    assert len(blocks) == 1
    damaged = bytearray(data)
    damaged[100] ^= 0xFF
    blocks[0].write_bytes(bytes(damaged))

    with pytest.raises(hdfs.HdfsError, match="(?i)checksum|could not obtain block|blockmissing"):
        hdfs.get(f"{hdfs_dir}/f.bin", tmp_path / "back.bin")


def test_unreachable_cluster_is_one_line_naming_the_address(dead_conf_dir):
    conf_dir, port = dead_conf_dir
    with pytest.raises(hdfs.HdfsUnavailable, match=f"127.0.0.1:{port} is not reachable"):
        hdfs.ls("/", conf_dir=conf_dir)

    env_run = subprocess.run([sys.executable, "-m", "hdfs_utils", "ls", "/"],
                             env={**os.environ, "HADOOP_CONF_DIR": str(conf_dir)},
                             capture_output=True, text=True)
    assert env_run.returncode == 1
    assert env_run.stdout == ""
    assert len(env_run.stderr.splitlines()) == 1
    assert f"127.0.0.1:{port}" in env_run.stderr
    assert "Exception" not in env_run.stderr


def test_command_line(hdfs_dir, tmp_path):
    local = tmp_path / "rows.csv"
    local.write_text("1,2\n3,4\n")
    remote = f"{hdfs_dir}/rows.csv"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "hdfs_utils", *args],
                              capture_output=True, text=True)

    put = cli("put", str(local), remote)
    assert put.returncode == 0, put.stderr
    assert "verified" in put.stdout
    assert cli("exists", remote).returncode == 0
    assert cli("cat", remote).stdout == "1,2\n3,4\n"
    assert remote in cli("ls", hdfs_dir).stdout
    checksum = cli("checksum", remote, str(local))
    assert checksum.returncode == 0, checksum.stderr
    assert checksum.stdout.count("COMPOSITE-CRC32C") == 2
    assert cli("rm", remote).returncode == 0
    missing = cli("exists", remote)
    assert missing.returncode == 1
    assert "does not exist" in missing.stdout
