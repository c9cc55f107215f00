"""Text in and out: bounded reads and atomic writes (sources), libyaml composition with line
positions and guards (documents, shape), byte-preserving splices (edit), the re-parse that
checks an edit means what was intended (verify) and line diffs (linediff)."""
