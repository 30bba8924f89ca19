"""Classroom features that are not pages: the store of a class's predictions (`classroom.store`).

Nothing in this package imports streamlit, so it can be tested, benchmarked and reused without a running
app; the pages call it, never the other way round.
"""
