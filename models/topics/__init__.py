"""Topics (话题): ``#tag#`` parsing, assignment by the shared encoder, discovery by
clustering with c-TF-IDF names, and trending by smoothed burst."""
