"""Post ingest (``POST /v1/posts``): store, moderate, score, embed, index and de-duplicate posts
in one transaction, one module per job.

The steps for a batch (``ingest_posts``):
1. validate references: every circle, author, item and order must be stored (one error
   listing all the unknown ids, HTTP 422);
2. idempotency by ``post_id``: a post already stored with the same circle, author and text
   is *replayed* — its stored result is returned and nothing is written; the same id with
   other content is a 409 (posts are immutable here: an edit is a new post id);
3. moderation: the champion moderation model (or, without one, the pattern detectors) plus
   the circle's own blocked / review-only terms, never another circle's — decided by the
   moderation policy (``models/moderation/policy.py``; ``decision.py`` applies it);
4. quality and trust from the champions through ``models.scoring.Scorer`` (``null`` with
   version ``unavailable`` when a champion is missing); a model that reads the encoder's
   vectors (the quality model) gets step 5's, so a post runs the transformer once;
5. embedding with the configured encoder (done first, for steps 4 and 6), stored with
   ``write_embeddings`` (which logs the change, so every worker's index picks the post up
   within the sync bound);
6. near-duplicates (``duplicates.py``): cosine ≥ the policy's ``NEAR_DUPLICATE_COSINE`` to
   a post of the same circle — in the index, in this worker's recent ingests not yet
   indexed, or earlier in the same batch → ``near_duplicate_of``; a near-duplicate that
   moderation passed goes to review (``policy.post_status``);
7. status pass / review / reject, a review-queue item for ``review``, and one
   ``post_scores`` row per model and version (``persistence.py``: the response is rebuilt
   from those rows on a replay, so a replay answers exactly what the first call answered).

``batch.py`` runs the steps for a batch in a caller's session; ``group_commit.py`` runs
them for the requests the ingest batcher gathered (``POST /v1/posts``: one transaction,
answered after its commit); ``backfill.py`` runs them for stored posts still pending (a
loaded world, ``quanzi posts backfill``).
"""
