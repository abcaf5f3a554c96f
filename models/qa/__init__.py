"""SKU Q&A models: similar questions, non-answers, answer ranking, ask-the-buyer."""
