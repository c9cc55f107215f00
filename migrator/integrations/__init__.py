"""The engine where users run it: a KRM function (krm), a PR comment (preview), a Helm
post-renderer (helm) and the Python codemod (codemod)."""
