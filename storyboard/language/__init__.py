"""The language: grammar, syntax tree, parser, includes and the canonical formatter."""
