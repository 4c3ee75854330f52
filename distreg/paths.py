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


def file_sources(files):
    """Local files as a record's ``sufficient_stats`` keeps them (``sources``):
    ``{"file": real path, "size", "mtime_ns"}`` each (a remote input is ``{"uri": ...}``:
    :func:`distreg.parquet.input_sources`). :func:`shared_sources` compares them: an update
    or a merge that would count the same rows twice is refused."""
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
