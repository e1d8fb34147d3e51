"""How the CLI prints: streamed answers (:mod:`.answer`), progress of pull/push/create
(:mod:`.progress`), tables (:mod:`.table`), human sizes and times (:mod:`.humanize`)."""
