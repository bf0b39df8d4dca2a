"""Text: CLIP BPE tokenizer on the bundled vocabulary, prompt weights and chunking,
textual-inversion embeddings, and the encode procedure around an encoder callable."""
