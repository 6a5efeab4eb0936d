"""`storyboard lsp`: the language server (stdio) for `.story` files, on pygls.

`server.py` holds the documents and the analyses and registers the features; each feature is a
small module that reads an `Analysis` (the film, its diagnostics, its plan) through `index.py`
and answers in lsprotocol types (`convert.py` turns spans into ranges)."""
