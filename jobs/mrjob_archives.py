"""mrjob's ``dirs`` archives on the local runner, made once per unchanged directory.

One concern of the overrides of mrjob 0.7.4 (docs/mrjob.md): the local runner
(jobs/mrjob_local.py) calls :func:`create_dir_archive` in place of mrjob's own.
"""

import importlib.util
import os
import time


def create_dir_archive(runner, dir_path):
    """Replaces: mrjob's local ``_create_dir_archive`` (a tar gzipped at level 9 of every
    ``dirs`` entry for every job, before any task starts, and again on every pass of an
    iterative fit). Writes the same tar of the same files (every file mrjob's own would hold,
    under the same names) gzipped at level 1, and for a directory unchanged since an earlier
    job of this process (the same files, sizes and mtimes) that job's bytes again. Returns
    False where mrjob's own should run (an archive already made, a URI, not a directory).

    An archive made by an earlier process for the same directory in the same state is
    taken from the disk cache (:func:`_stored_archive`), as a YARN NodeManager localizes
    an unchanged resource once: a ``distreg`` command runs one job or a few, and making the
    archive (compiling every module) was a large part of one job's fixed cost."""
    tar_gz_path = runner._dir_archive_path(dir_path)
    if (tar_gz_path in runner._dir_archives_created or '://' in dir_path
            or not os.path.isdir(dir_path)):
        return False
    signature = _dir_signature(dir_path)
    hit = _DIR_ARCHIVES.get(dir_path)
    if hit is None or hit[0] != signature:
        data = _stored_archive(dir_path, signature)
        if data is None:
            data = _tar_gz(dir_path, signature)
            _store_archive(dir_path, signature, data)
        hit = _DIR_ARCHIVES[dir_path] = (signature, data)
    os.makedirs(os.path.dirname(tar_gz_path), exist_ok=True)
    with open(tar_gz_path, 'wb') as f:
        f.write(hit[1])
    runner._dir_archives_created.add(tar_gz_path)
    stored, _ = _cache_paths(dir_path, signature)
    if os.path.exists(stored):
        _STORED_AS[tar_gz_path] = stored
    return True


#: a job's archive (its path in the job's scratch) -> the disk cache file of the same bytes
_STORED_AS = {}

#: how long an unpacked archive of a directory's earlier state is kept after its last use
_UNPACKED_KEPT_SECONDS = 3600


def localize_dir_archive(archive_path, dest):
    """Replaces, for an archive :func:`create_dir_archive` made from the disk cache: mrjob's
    local ``_create_dist_cache_dir`` unpacking every archive into every job's distributed
    cache. As a YARN NodeManager localizes an archive once and links its containers to it,
    the archive is unpacked once into the disk cache (by mrjob's own ``unarchive``, its
    files made user read and execute as mrjob makes them, renamed into place whole) and
    ``dest`` is a symbolic link to it; the job's cleanup removes the link, not the files.
    Returns False (mrjob's own unpacking should run) for any other archive, or when the
    cache cannot be written."""
    import shutil
    import tempfile
    from mrjob.util import unarchive
    stored = _STORED_AS.pop(archive_path, None)
    if stored is None:
        return False
    unpacked = stored[:-len('.tar.gz')]
    try:
        if not os.path.isdir(unpacked):
            tmp = tempfile.mkdtemp(dir=os.path.dirname(unpacked), prefix='.tmp-')
            try:
                unarchive(archive_path, tmp)
                for root, _, files in os.walk(tmp):
                    for name in files:
                        os.chmod(os.path.join(root, name), 0o500)  # as mrjob's _chmod_u_rx
                os.rename(tmp, unpacked)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
                if not os.path.isdir(unpacked):  # not made by another process either
                    raise
        os.utime(unpacked)  # its last use: an earlier state is removed an hour after it
        os.symlink(unpacked, dest)
    except OSError:
        return False
    return True


def _prune_unpacked(prefix, keep):
    """Remove the unpacked archives of a directory's other states (and unpacking left half
    done) not used for :data:`_UNPACKED_KEPT_SECONDS`: a job still running on an earlier
    state keeps its files."""
    import glob
    import shutil
    now = time.time()
    for old in glob.glob(glob.escape(prefix) + '*') + glob.glob(
            os.path.join(os.path.dirname(prefix), '.tmp-*')):
        if old != keep and os.path.isdir(old) and not os.path.islink(old):
            try:
                if now - os.stat(old).st_mtime > _UNPACKED_KEPT_SECONDS:
                    shutil.rmtree(old)
            except OSError:
                pass


#: ``dirs`` archives made by the local runner in this process: {dir: (signature, bytes)}
_DIR_ARCHIVES = {}

#: the on-disk format of a cached archive (a change makes every older file a miss)
_CACHE_FORMAT = b'distreg-dir-archive-1'


def archive_cache_dir(environ=os.environ):
    """Where archives are kept between processes: ``DISTREG_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/distreg`` (``~/.cache/distreg``), under ``dir-archives``."""
    base = environ.get('DISTREG_CACHE_DIR') or os.path.join(
        environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache'),
        'distreg')
    return os.path.join(base, 'dir-archives')


def _cache_paths(dir_path, signature):
    """(the cache file of this directory in this state, the prefix of its every state).

    The key is everything the archive's bytes depend on: the directory, every file's path,
    size and mtime (its signature), the bytecode's magic number and the file format."""
    import hashlib
    import json
    where = hashlib.sha256(os.path.realpath(dir_path).encode()).hexdigest()[:16]
    key = hashlib.sha256(json.dumps(
        [dir_path, signature, importlib.util.MAGIC_NUMBER.hex(),
         _CACHE_FORMAT.decode()]).encode()).hexdigest()[:32]
    prefix = os.path.join(archive_cache_dir(), where + '-')
    return prefix + key + '.tar.gz', prefix


def _stored_archive(dir_path, signature):
    """The bytes of this directory's archive kept by an earlier process, or None. Each file
    ends with the SHA-256 of the bytes before it: a file cut short, or changed, is a miss."""
    import hashlib
    path, _ = _cache_paths(dir_path, signature)
    try:
        with open(path, 'rb') as f:
            blob = f.read()
    except OSError:
        return None
    data, digest = blob[:-32], blob[-32:]
    if len(blob) <= 32 or hashlib.sha256(data).digest() != digest:
        return None
    return data


def _store_archive(dir_path, signature, data):
    """Keep the archive for later processes (written whole, then renamed into place), and
    remove the directory's archives of its earlier states. Best effort: a cache that cannot
    be written costs the next process the archive again, nothing else."""
    import glob
    import hashlib
    import tempfile
    path, prefix = _cache_paths(dir_path, signature)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.tmp-')
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(data + hashlib.sha256(data).digest())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        for old in glob.glob(glob.escape(prefix) + '*.tar.gz'):
            if old != path:
                os.unlink(old)
    except OSError:
        pass
    _prune_unpacked(prefix, path[:-len('.tar.gz')])


def _dir_signature(dir_path):
    """What a directory's archive depends on: every file's path, size and mtime (the files
    mrjob's local filesystem lists: symlinked directories followed)."""
    out = []
    for root, dirs, files in os.walk(dir_path, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            st = os.stat(os.path.join(root, name))
            out.append((os.path.join(root, name), st.st_size, st.st_mtime_ns))
    return tuple(out)


def _tar_gz(dir_path, signature):
    """The bytes of a .tar.gz of the files listed in ``signature`` (level 1), named
    relative to ``dir_path``, as mrjob names them.

    Every ``.py`` file goes with its bytecode for this interpreter (the tasks' one), compiled
    here, in place of the directory's own ``__pycache__`` (which may be stale, or missing
    where nothing writes it: a read-only checkout, ``PYTHONDONTWRITEBYTECODE``): each job's
    task server imports distreg and jobs from bytecode instead of compiling them again.
    """
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz', compresslevel=1) as tar:
        for path, size, mtime_ns in signature:
            name = os.path.relpath(path, dir_path)
            if '__pycache__' in name.split(os.sep):
                continue
            tar.add(path, name, recursive=False)
            pyc = _bytecode(path, size, mtime_ns) if path.endswith('.py') else None
            if pyc is not None:
                info = tarfile.TarInfo(os.path.relpath(
                    importlib.util.cache_from_source(path), dir_path))
                info.size, info.mtime, info.mode = len(pyc), int(time.time()), 0o644
                tar.addfile(info, io.BytesIO(pyc))
    return buf.getvalue()


def _bytecode(path, size, mtime_ns):
    """A timestamp-checked .pyc of ``path`` (PEP 552: the import system's own format; it
    checks the source's mtime and size, which the archive keeps: those of the directory's
    signature), or None when the file does not compile (the task then reports that itself)."""
    import marshal
    with open(path, 'rb') as f:
        source = f.read()
    try:
        code = compile(source, path, 'exec', dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    return b''.join((importlib.util.MAGIC_NUMBER, (0).to_bytes(4, 'little'),
                     (mtime_ns // 10 ** 9 & 0xFFFFFFFF).to_bytes(4, 'little'),
                     (size & 0xFFFFFFFF).to_bytes(4, 'little'), marshal.dumps(code)))
