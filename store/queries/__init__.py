"""The questions gateways ask the read model, one named function each, grouped by what they answer.

Gateways hold no SQL: a query that changes shape changes here, next to the schema in store/readmodel.py.
Functions taking a `ProjectionReader` are one read each; those taking a `sqlite3.Connection` run inside
`projection.read(...)`, so that several of them see one consistent snapshot.
"""
