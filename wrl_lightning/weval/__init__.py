"""WEval: importers for group files, ranking metrics against gold, and reports."""
