"""The wire objects of the Ollama API, each declared once.

:mod:`._decl` holds the mechanism (a declaration gives the dataclass, the marshmallow
schema, the validation fast path, ``to_dict``/``from_dict``, builder setters and the
documentation table), :mod:`._schema` the marshmallow side of it (built on first
validation), :mod:`._checks` the strict JSON field types, :mod:`._spec` their names as
declarations write them, and the other modules the declarations by area. :mod:`.doc`
prints the field table (``docs/wire-fields.md``).
"""
