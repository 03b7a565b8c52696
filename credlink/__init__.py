"""credlink: agency records resolved to unified social credit codes, memoranda published as tables.

This package holds the command line (`credlink`) and the project's settings. The generator of the
synthetic agency world lives in `world`, the pipeline stages in `etl` and `linkage`.
"""
