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
    False where mrjob's own should run (an archive already made, a URI, not a directory)."""
    tar_gz_path = runner._dir_archive_path(dir_path)
    if (tar_gz_path in runner._dir_archives_created or '://' in dir_path
            or not os.path.isdir(dir_path)):
        return False
    signature = _dir_signature(dir_path)
    hit = _DIR_ARCHIVES.get(dir_path)
    if hit is None or hit[0] != signature:
        hit = _DIR_ARCHIVES[dir_path] = (signature, _tar_gz(dir_path, signature))
    os.makedirs(os.path.dirname(tar_gz_path), exist_ok=True)
    with open(tar_gz_path, 'wb') as f:
        f.write(hit[1])
    runner._dir_archives_created.add(tar_gz_path)
    return True


#: ``dirs`` archives made by the local runner in this process: {dir: (signature, bytes)}
_DIR_ARCHIVES = {}


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
