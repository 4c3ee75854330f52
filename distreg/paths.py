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
