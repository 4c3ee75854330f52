"""File names as every engine can compare them (the loader's part files, the folds' file
identity): one module below both, so that neither imports the other for it."""

import os


def file_key(name):
    """A file's name without its scheme and authority: how a task finds its entry in
    :attr:`distreg.loader.Schema.files` whatever its engine calls the file (``file:///a/b``,
    ``/a/b``, ``hdfs://host:9000/a/b`` and ``hdfs:///a/b`` all give ``/a/b``)."""
    if name.startswith('file:') and not name.startswith('file://'):
        name = name[len('file:'):]
    elif '://' in name:
        rest = name.split('://', 1)[1]
        name = '/' + rest.split('/', 1)[1] if '/' in rest else '/'
    return os.path.normpath(name)


def input_sources(path):
    """The files whose rows an input holds, as a record's ``sufficient_stats`` keeps them
    (``sources``): a local file ``{"file": real path, "size", "mtime_ns"}``; an input of a
    directory (its part files, Hive partitions included) or a glob: one per file, skipping
    names that start with ``_`` or ``.`` as Hadoop does; a remote input (``hdfs://``,
    ``s3://``): ``{"uri": ...}``, its files not listed. :func:`shared_sources` compares them:
    an update or a merge that would count the same rows twice is refused."""
    import glob
    if path.startswith('file://'):
        path = path[len('file://'):]
    elif '://' in path:
        return [{'uri': path}]
    names = sorted(glob.glob(path)) if any(ch in path for ch in '*?[') else [path]
    files = []
    for name in names:
        if os.path.isdir(name):
            for root, dirs, found in os.walk(name):
                dirs[:] = sorted(d for d in dirs if not d.startswith(('_', '.')))
                files += [os.path.join(root, f) for f in sorted(found)
                          if not f.startswith(('_', '.'))]
        elif os.path.exists(name):
            files.append(name)
    out = []
    for f in files:
        st = os.stat(f)
        out.append({'file': os.path.realpath(f), 'size': st.st_size,
                    'mtime_ns': st.st_mtime_ns})
    return out


def shared_sources(a, b):
    """The sources in both lists (None: a record kept before sources were: not known)."""
    if a is None or b is None:
        return []
    keys = {tuple(sorted(s.items())) for s in a}
    return [s for s in b if tuple(sorted(s.items())) in keys]


def describe_source(source):
    return source.get('uri') or source['file']
