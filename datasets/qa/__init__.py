"""SKU Q&A (问大家) data: the hand-written evaluation set (``eval/``) and its loader."""
