"""The feed-ranking pipeline: sources → hydration → filters → scoring → diversity → selection.

One component per file, named by its stage (conventions.md, after x-algorithm's home-mixer).
Components hold business logic only; ``pipeline.RankingPipeline`` owns order, timing and
error isolation.
"""
