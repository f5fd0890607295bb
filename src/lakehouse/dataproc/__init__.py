"""Dataproc submission: packaging (package), Delta jars (jars), requests (plan), Google Cloud calls (gcp).

`lakehouse.submit` is the entry point the CLI calls; docs/dataproc.md explains the whole flow.
"""
