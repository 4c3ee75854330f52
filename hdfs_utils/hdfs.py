"""HDFS from Python: put, get, ls, cat, rm, exists and checksums on the cluster that
``HADOOP_CONF_DIR`` names (the MiniCluster or a user's own).

Every operation runs Hadoop's own FsShell (``hadoop fs``) of the Hadoop home that
:mod:`hdfs_utils.env` picks, so it reaches whatever that command reaches, with no protocol code
here; a JVM start costs about half a second per call.

Uploads and downloads are verified end to end: the sizes must match, and the file checksum HDFS
computes on the DataNodes (``COMPOSITE-CRC32C``, a CRC32C of the whole file composed from the
per-chunk CRCs the writer sent, independent of block size) must equal the CRC32C computed here
from the local bytes. A file that landed with any byte changed, missing or added fails with
:class:`HdfsVerifyError`. (Data rotting on a DataNode disk afterwards is caught by HDFS itself:
every read checks the chunk CRCs.)

A cluster that is down or unreachable gives :class:`HdfsUnavailable` with a one-line message
naming the NameNode address, before any JVM starts.
"""

import os
import posixpath
import re
import socket
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import google_crc32c

from hdfs_utils.env import conf_value, hadoop_bin, hadoop_conf_dir, hadoop_env

# Ask the DataNodes for the block-size-independent whole-file CRC (HDFS-13056) instead of
# the default MD5-of-MD5s, which depends on block size and chunk layout.
_COMPOSITE = ["-D", "dfs.checksum.combine.mode=COMPOSITE_CRC"]
_CONNECT_TIMEOUT = 3.0
# Paths per `hadoop fs -checksum` call: bounded so a directory of many part files stays well
# inside the command-line limit.
_CHECKSUM_BATCH = 200


class HdfsError(OSError):
    """An HDFS operation failed; ``str()`` is one line saying what and where."""


class HdfsNotFound(HdfsError, FileNotFoundError):
    """The path does not exist."""


class HdfsUnavailable(HdfsError, ConnectionError):
    """No cluster answers at the configured NameNode address."""


class HdfsVerifyError(HdfsError):
    """What landed differs from the source (missing or extra files, size or checksum)."""


@dataclass(frozen=True)
class FileStatus:
    """One entry of :func:`ls`."""

    path: str
    size: int
    is_dir: bool
    owner: str
    group: str
    permission: str
    modified: str


@dataclass(frozen=True)
class Checksum:
    """A whole-file checksum: ``algorithm`` as HDFS names it, ``value`` in lower-case hex."""

    algorithm: str
    value: str

    def __str__(self):
        return f"{self.algorithm}:{self.value}"


# --- running FsShell -----------------------------------------------------------------------

def _namenode_of(path, conf_dir):
    """(host, port) of the NameNode serving ``path``; None for non-HDFS paths and for
    logical (HA) names, which only Hadoop can resolve."""
    url = urlparse(str(path))
    if url.scheme and url.scheme != "hdfs":
        return None
    if url.scheme == "hdfs" and url.netloc:
        authority = url.netloc
    else:
        default_fs = conf_value("fs.defaultFS", conf_dir, "file:///")
        default = urlparse(default_fs)
        if default.scheme != "hdfs":
            raise HdfsUnavailable(
                f"no HDFS configured: fs.defaultFS is {default_fs} in {conf_dir} "
                "(start the MiniCluster with `make hadoop-up` or set HADOOP_CONF_DIR)")
        authority = default.netloc
    host, _, port = authority.rpartition(":")
    if not host or not port.isdigit():
        return None
    return host, int(port)


def _check_reachable(paths, conf_dir):
    """Fail fast, in one line, when the NameNode does not accept connections (FsShell would
    retry for many seconds and then print a Java exception)."""
    for address in {_namenode_of(p, conf_dir) for p in paths} - {None}:
        try:
            socket.create_connection(address, timeout=_CONNECT_TIMEOUT).close()
        except OSError as error:
            reason = error.strerror or str(error) or type(error).__name__
            raise HdfsUnavailable(
                f"HDFS NameNode at {address[0]}:{address[1]} is not reachable ({reason}); "
                f"is the cluster up? (`make hadoop-up`; HADOOP_CONF_DIR={conf_dir})") from None


_CONNECTION_TROUBLE = re.compile(
    r"ConnectException|Connection refused|UnknownHostException|NoRouteToHostException|"
    r"SocketTimeoutException|EOFException|Connection reset")


def _error_line(stderr):
    """The one line of FsShell's stderr that says what went wrong."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines()
             if line.strip() and not line.lstrip().startswith("at ")]
    if not lines:
        return "no error message"
    line = lines[-1]
    for candidate in lines:
        if candidate.startswith("Exception in thread"):
            line = candidate
            break
    # Hadoop appends a wiki link to connection errors: not useful in one line.
    return re.sub(r";?\s*For more details see:\s*\S+", "", line)[:400]


def _fs(args, paths=(), conf_dir=None, ok_returncodes=(0,)):
    """Run ``hadoop fs ARGS`` and return the CompletedProcess (bytes).

    ``paths`` are the HDFS paths involved, checked for a reachable NameNode first.
    """
    conf_dir = Path(conf_dir) if conf_dir else hadoop_conf_dir()
    _check_reachable(paths, conf_dir)
    env = dict(os.environ)
    env.update(hadoop_env(conf_dir=conf_dir))
    command = [str(hadoop_bin()), "fs"] + [str(a) for a in args]
    result = subprocess.run(command, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if result.returncode not in ok_returncodes:
        message = _error_line(result.stderr)
        if _CONNECTION_TROUBLE.search(message):
            raise HdfsUnavailable(f"HDFS unreachable: {message}")
        if "No such file or directory" in message:
            raise HdfsNotFound(message)
        raise HdfsError(message)
    return result


# --- queries ------------------------------------------------------------------------------

def exists(path, conf_dir=None):
    """True if ``path`` exists on HDFS (file or directory)."""
    result = _fs(["-test", "-e", path], [path], conf_dir, ok_returncodes=(0, 1))
    if result.returncode == 1 and result.stderr.strip():
        raise HdfsError(_error_line(result.stderr))
    return result.returncode == 0


def ls(path, recursive=False, conf_dir=None):
    """Entries of ``path``: its children for a directory (all descendants when
    ``recursive``), the file itself for a file.

    Returns
    -------
    list of FileStatus
        Paths as FsShell prints them: absolute, or full URIs when ``path`` was one.
    """
    result = _fs(["-ls"] + (["-R"] if recursive else []) + [path], [path], conf_dir)
    entries = []
    for line in result.stdout.decode().splitlines():
        if not line or line.startswith("Found "):
            continue
        # permission, replication ('-' for directories), owner, group, size, date, time, path;
        # the path may hold spaces.
        fields = line.split(None, 7)
        if len(fields) != 8:
            raise HdfsError(f"unexpected `hadoop fs -ls` line: {line!r}")
        permission, _, owner, group, size, date, time_, name = fields
        entries.append(FileStatus(path=name, size=int(size), is_dir=permission.startswith("d"),
                                  owner=owner, group=group, permission=permission,
                                  modified=f"{date} {time_}"))
    return entries


def cat(path, conf_dir=None):
    """Contents of the file ``path`` (read whole: meant for small files)."""
    return _fs(["-cat", path], [path], conf_dir).stdout


class HdfsStream:
    """A file on HDFS read as a stream (``hadoop fs -cat``), without holding it in memory.

    ``read(n)`` as a binary file; ``close()`` (or leaving the ``with`` block) stops the
    transfer, however much is left.
    """

    def __init__(self, path, conf_dir=None):
        conf_dir = Path(conf_dir) if conf_dir else hadoop_conf_dir()
        _check_reachable([path], conf_dir)
        env = dict(os.environ)
        env.update(hadoop_env(conf_dir=conf_dir))
        self.path = path
        self._process = subprocess.Popen([str(hadoop_bin()), "fs", "-cat", str(path)], env=env,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL)

    def read(self, n=-1):
        return self._process.stdout.read(n)

    def close(self):
        if self._process.poll() is None:
            self._process.kill()
        self._process.stdout.close()
        self._process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_stream(path, conf_dir=None):
    """:class:`HdfsStream` of the file ``path`` (read as far as needed, then closed)."""
    return HdfsStream(path, conf_dir)


def checksums(paths, conf_dir=None):
    """HDFS's composite CRC of each file in ``paths``, as ``{path: Checksum}``.

    Keys are the paths as given. An empty file has no blocks and so no CRC: HDFS reports an
    MD5 of nothing for it, returned as it is.
    """
    paths = [str(p) for p in paths]
    found = {}
    for start in range(0, len(paths), _CHECKSUM_BATCH):
        batch = paths[start:start + _CHECKSUM_BATCH]
        result = _fs(_COMPOSITE + ["-checksum"] + batch, batch, conf_dir)
        lines = [line for line in result.stdout.decode().splitlines() if line]
        # One line per path, in order: "path<TAB>algorithm<TAB>hex".
        if len(lines) != len(batch):
            raise HdfsError(f"`hadoop fs -checksum` gave {len(lines)} lines for "
                            f"{len(batch)} paths")
        for path, line in zip(batch, lines):
            fields = line.split("\t")
            if len(fields) < 3:
                raise HdfsError(f"unexpected `hadoop fs -checksum` line: {line!r}")
            found[path] = Checksum(fields[1], fields[2].lower())
    return found


def checksum(path, conf_dir=None):
    """HDFS's composite CRC of the file ``path`` (see :func:`checksums`)."""
    return checksums([path], conf_dir)[str(path)]


def local_checksum(path, algorithm="COMPOSITE-CRC32C"):
    """The checksum of a local file as HDFS computes ``algorithm`` for a file of the same
    bytes: ``COMPOSITE-CRC32C`` (HDFS's default chunk checksum) or ``COMPOSITE-CRC32`` (files
    written with ``dfs.checksum.type=CRC32``)."""
    def chunks():
        with open(path, "rb") as stream:
            yield from iter(lambda: stream.read(1 << 20), b"")

    if algorithm == "COMPOSITE-CRC32C":
        crc = google_crc32c.Checksum()
        for chunk in chunks():
            crc.update(chunk)
        return Checksum(algorithm, crc.digest().hex())
    if algorithm == "COMPOSITE-CRC32":
        crc = 0
        for chunk in chunks():
            crc = zlib.crc32(chunk, crc)
        return Checksum(algorithm, f"{crc:08x}")
    raise HdfsError(f"cannot compute {algorithm} locally: expected COMPOSITE-CRC32C or "
                    "COMPOSITE-CRC32")


# --- changes ------------------------------------------------------------------------------

def mkdir(path, conf_dir=None):
    """Create directory ``path`` and its parents (no error if it exists)."""
    _fs(["-mkdir", "-p", path], [path], conf_dir)


def rm(path, recursive=False, missing_ok=False, conf_dir=None):
    """Delete ``path`` (a directory only with ``recursive``), bypassing the trash.

    Raises
    ------
    HdfsNotFound
        When ``path`` does not exist and not ``missing_ok``.
    """
    args = ["-rm"] + (["-r"] if recursive else []) + (["-f"] if missing_ok else [])
    _fs(args + ["-skipTrash", path], [path], conf_dir)


def mv(src, dst, conf_dir=None):
    """Rename ``src`` to ``dst`` on HDFS (atomic: readers see the old name or the new one)."""
    _fs(["-mv", src, dst], [src, dst], conf_dir)


def _local_files(local):
    """{relative posix path: absolute Path} of the files under ``local`` (a file: {'': it})."""
    local = Path(local)
    if local.is_file():
        return {"": local}
    return {p.relative_to(local).as_posix(): p for p in sorted(local.rglob("*")) if p.is_file()}


def _remote_files(remote, as_dir, conf_dir):
    """{relative path: (listed path, size)} of the files under ``remote``; for a file
    (``as_dir`` false), {'': (remote, size)}."""
    if not as_dir:
        result = _fs(["-stat", "%F|%b", remote], [remote], conf_dir)
        kind, _, size = result.stdout.decode().strip().rpartition("|")
        if kind == "directory":
            raise HdfsVerifyError(f"{remote} is a directory on HDFS, not a file")
        return {"": (str(remote), int(size))}
    root = str(remote).rstrip("/")
    files = {}
    # ls prints the children under the path exactly as given: absolute, relative or a URI.
    for entry in ls(remote, recursive=True, conf_dir=conf_dir):
        if entry.is_dir:
            continue
        if not entry.path.startswith(root + "/"):
            raise HdfsError(f"`hadoop fs -ls -R {remote}` listed {entry.path}, outside it")
        files[entry.path[len(root) + 1:]] = (entry.path, entry.size)
    return files


def verify(local, remote, conf_dir=None):
    """Check that ``remote`` on HDFS holds exactly the bytes of ``local`` (a file, or a
    directory compared file by file).

    Returns
    -------
    int
        The number of files verified.

    Raises
    ------
    HdfsVerifyError
        Naming the first difference: a file missing on either side, a size, or a checksum.
    """
    local_files = _local_files(local)
    remote_files = _remote_files(remote, Path(local).is_dir(), conf_dir)
    missing = sorted(set(local_files) - set(remote_files))
    extra = sorted(set(remote_files) - set(local_files))
    if missing or extra:
        what = (f"{len(missing)} file(s) missing on HDFS, e.g. {missing[0]!r}" if missing
                else f"{len(extra)} file(s) on HDFS not in {local}, e.g. {extra[0]!r}")
        raise HdfsVerifyError(f"{remote} differs from {local}: {what}")
    for name, local_path in local_files.items():
        remote_path, remote_size = remote_files[name]
        local_size = local_path.stat().st_size
        if local_size != remote_size:
            raise HdfsVerifyError(f"{remote_path} has {remote_size} bytes, "
                                  f"{local_path} has {local_size}")
    # Empty files have no blocks, hence no CRC: their size said all.
    to_sum = {remote_files[name][0]: local_files[name]
              for name in local_files if remote_files[name][1] > 0}
    for remote_path, remote_sum in checksums(list(to_sum), conf_dir).items():
        local_sum = local_checksum(to_sum[remote_path], remote_sum.algorithm)
        if local_sum != remote_sum:
            raise HdfsVerifyError(f"{remote_path} checksum {remote_sum} differs from "
                                  f"{to_sum[remote_path]} {local_sum.value}: corrupted copy")
    return len(local_files)


def put(local, remote, overwrite=False, verify_upload=True, conf_dir=None, new_parent=False):
    """Upload the local file or directory ``local`` to exactly ``remote`` and verify it.

    Parameters
    ----------
    local : path
        A file or a directory (uploaded whole, sub-directories included).
    remote : str
        The destination itself (not a directory to put it into); parents are created.
    overwrite : bool
        Replace an existing ``remote``. Default False: an existing one is an error.
    verify_upload : bool
        Compare sizes and checksums after the upload (see :func:`verify`). Default True.
    new_parent : bool
        The caller made ``remote``'s parent name unique (a new random directory): skip the
        probe of whether ``remote`` and its parent exist (one client JVM) and create the
        parent. ``-put`` still refuses an existing ``remote``.

    Returns
    -------
    int
        Number of files uploaded.
    """
    local = Path(local)
    if not local.exists():
        raise HdfsNotFound(f"no local file or directory {local}")
    remote_exists, parent_exists = ((False, False) if new_parent
                                    else _probe_destination(remote, conf_dir))
    if remote_exists:
        if not overwrite:
            raise HdfsError(f"{remote} already exists on HDFS (pass overwrite to replace it)")
        rm(remote, recursive=True, conf_dir=conf_dir)
    if not parent_exists:
        mkdir(_parent(remote), conf_dir)
    # FsShell writes each file as NAME._COPYING_ and renames it when complete, so a failed
    # upload never leaves a truncated file under the final name.
    _fs(["-put", local, remote], [remote], conf_dir)
    if verify_upload:
        return verify(local, remote, conf_dir)
    return len(_local_files(local))


def get(remote, local, overwrite=False, verify_download=True, conf_dir=None):
    """Download the HDFS file or directory ``remote`` to exactly ``local`` and verify it.

    Returns
    -------
    int
        Number of files downloaded.
    """
    local = Path(local)
    if local.exists() and not overwrite:
        raise HdfsError(f"{local} already exists (pass overwrite to replace it)")
    args = ["-get"] + (["-f"] if overwrite else []) + [remote, local]
    _fs(args, [remote], conf_dir)
    if verify_download:
        return verify(local, remote, conf_dir)
    return len(_local_files(local))


def _parent(remote):
    """The parent directory of ``remote``, keeping the scheme and authority of a URI."""
    url = urlparse(str(remote))
    parent = posixpath.dirname(url.path.rstrip("/")) or "."
    return url._replace(path=parent).geturl() if url.scheme else parent


def _probe_destination(remote, conf_dir):
    """(remote exists, its parent exists), asked in one JVM: an existing path implies an
    existing parent, so the number of paths `-stat` finds tells both."""
    parent = _parent(remote)
    probe = [remote] if urlparse(parent).path in ("/", ".") else [remote, parent]
    result = _fs(["-stat", "%F"] + probe, [remote], conf_dir, ok_returncodes=(0, 1))
    trouble = [line for line in result.stderr.decode(errors="replace").splitlines()
               if line.strip() and "No such file or directory" not in line]
    if result.returncode and trouble:
        raise HdfsError(_error_line(result.stderr))
    found = len(result.stdout.decode().splitlines())
    return found == len(probe), found >= len(probe) - 1
