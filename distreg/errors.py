"""Errors that distreg shows to its users: each says what failed, the value, and what was expected.

The home of the bad-row record: a bad row is a :class:`BadInputError` (``file``, ``line``
or byte ``offset``, ``text``, ``reason``); its JSON form, as it travels between tasks,
is :meth:`BadInputError.to_dict` (and, for any distreg error, :func:`to_json_dict`);
:func:`format_bad_row` is its one-line message. Placing a row exactly (its line number
from a byte offset) is :func:`distreg.loader.fill_line_numbers`.
"""


class DistregError(Exception):
    """Base class: a problem the user can act on (the command line prints the message, no traceback)."""


class BadInputError(DistregError):
    """A row (or the whole input) that cannot be used.

    Carries where the problem is, so every engine reports it the same way:
    ``file``, 1-based ``line`` (None when an engine only knows the byte offset),
    ``offset`` (byte offset of the line in the file), ``text`` (the line) and ``reason``.
    """

    def __init__(self, reason, file=None, line=None, offset=None, text=None, split_start=None,
                 row_group=None, row=None, file_row=None):
        self.reason = reason
        #: Parquet: the row group, the row in it and the row in the file (0-based)
        self.row_group = row_group
        self.row = row
        self.file_row = file_row
        self.file = file
        self.line = line
        self.offset = offset
        self.text = text
        #: a Hadoop split's start byte when ``offset`` counts from it (see
        #: :func:`distreg.loader.fill_line_numbers`), else None
        self.split_start = split_start
        super().__init__(self._message())

    def _message(self):
        return format_bad_row(self.to_dict())

    def to_dict(self):
        d = dict(file=self.file, line=self.line, offset=self.offset,
                 text=self.text, reason=self.reason)
        if self.split_start:
            d['split_start'] = self.split_start
        for k in ('row_group', 'row', 'file_row'):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        return d

    @classmethod
    def from_dict(cls, d):
        return cls(d['reason'], file=d.get('file'), line=d.get('line'),
                   offset=d.get('offset'), text=d.get('text'), split_start=d.get('split_start'),
                   row_group=d.get('row_group'), row=d.get('row'), file_row=d.get('file_row'))


class EmptyInputError(BadInputError):
    """The input has no data rows at all."""


class SingularMatrixError(DistregError):
    """The normal equations or the R factor are singular: no unique solution exists."""


class RankDeficientError(SingularMatrixError):
    """Columns of the model matrix whose coefficients the data do not determine.

    ``columns`` are their indices in theta (the intercept, when there is one, is 0),
    ``reasons`` say why for each, and ``names`` (when known) name every coefficient:
    the message then names the columns (see :meth:`named`).
    """

    def __init__(self, columns, reasons, names=None, lead='the model matrix is rank deficient'):
        self.columns = list(columns)
        self.reasons = list(reasons)
        self.names = names
        #: what the message says first (the normal equations say they are singular)
        self.lead = lead
        super().__init__(self._message())

    def named(self, names):
        """The same error naming the columns by ``names`` (one per coefficient)."""
        return RankDeficientError(self.columns, self.reasons, names, self.lead)

    def _name(self, j):
        if self.names is not None and j < len(self.names):
            return repr(self.names[j])
        return 'number %d' % j

    def _message(self):
        parts = ['column %s %s' % (self._name(j), why) for j, why in zip(self.columns, self.reasons)]
        return ('%s: %s; %s not determined by the data: drop '
                '%s or use --ridge L' % (self.lead, '; '.join(parts),
                                         'its coefficient is' if len(parts) == 1
                                         else 'their coefficients are',
                                         'the column' if len(parts) == 1 else 'the columns'))


class ColumnOverflowError(DistregError):
    """A column's values (or its coefficient) do not fit the float64 arithmetic of a method.

    ``column`` is the index of the model column (intercept first); the message has a
    ``{column}`` field that :meth:`name` fills with the column's name.
    """

    def __init__(self, template, column, label=None):
        self.template = template
        self.column = column
        super().__init__(template.replace('{column}', label or 'model column %d' % column))

    def name(self, names):
        """The same error with the column called by its name (``names``: model columns)."""
        if 0 <= self.column < len(names):
            return ColumnOverflowError(self.template, self.column,
                                       'column %r' % (names[self.column],))
        return self


class NotConvergedError(DistregError):
    """An iterative method failed in a way that leaves no usable answer (e.g. non-finite loss)."""


def format_bad_row(d):
    """One-line description of a bad row: ``file, line N: reason; the line was: '...'``."""
    where = d.get('file') or ''
    if d.get('row_group') is not None:
        where += ', row group %d' % d['row_group']
        if d.get('row') is not None:
            where += ', row index %d' % d['row']
            if d.get('file_row') is not None and d['file_row'] != d['row']:
                where += ' (row index %d in the file)' % d['file_row']
    elif d.get('line') is not None:
        where += ', line %d' % d['line']
    elif d.get('split_start'):
        # the driver could not read the file to place the line exactly
        where += (', the line %d bytes after the first line of the split from byte %d'
                  % (d['offset'] - d['split_start'], d['split_start']))
    elif d.get('offset') is not None:
        where += ', byte offset %d' % d['offset']
    msg = '%s: %s' % (where.lstrip(', '), d['reason']) if where else d['reason']
    text = d.get('text')
    if text is not None:
        if len(text) > 200:
            text = text[:200] + '...'
        msg += '; the %s was: %r' % ('row' if d.get('row_group') is not None else 'line', text)
    return msg


def to_json_dict(e):
    """JSON form of a distreg error (a bad row's fields, or its reason), with its ``kind``."""
    d = e.to_dict() if isinstance(e, BadInputError) else {'reason': str(e)}
    d['kind'] = type(e).__name__
    return d


def raise_from_json_dict(d):
    """Raise the distreg error described by a dict from :func:`to_json_dict`."""
    cls = globals().get(d.get('kind') or 'BadInputError')
    if not (isinstance(cls, type) and issubclass(cls, DistregError)):
        cls = BadInputError
    if issubclass(cls, BadInputError):
        raise cls.from_dict(d)
    raise cls(d['reason'])
