"""Text: from files, globs and standard input to items and tokens.

`sources` reads text in blocks (UTF-8 checked, line by line, stdin spooled when it must be
read twice); `vocabulary` maps characters or words to ids (`<unk>` at id 1); `words`
splits lines into words as KenLM does and gives them ids by hash; `splits` draws
makemore's train/dev/test split. Imports nothing above it but the engine.
"""
