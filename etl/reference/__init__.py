"""Reference tables the pipeline reads from well-kept packages (divisions, pinyin)."""
