"""Models behind one interface, and what is done with them.

`language_models` holds CountModel, NeuralModel and ArpaModel (each scores windows and
walks sampling states); `sampling` draws items with the engine's seeded generator;
`evaluation` reports losses of splits, files and single items; `scoring` scores files
line by line (`score --file`) on several threads.
"""
