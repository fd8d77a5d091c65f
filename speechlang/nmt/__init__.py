"""Sequence-to-sequence translation: subwords, seq2seq models, training, beam search, scoring.

    speechlang nmt prepare | train | translate | average | score   (see docs/nmt.md)

Modules, one per step: corpus (parallel text, filters), subword (sentencepiece), words (word
vocabularies), encoded (the prepared-data format), prepare, registry (architectures),
lstm_attention, transformer, output (full, sampled and hierarchical softmax), train,
model_parallel (the Transformer over two processes), search (greedy, beam, ensembles),
translate, average, score.
"""

# Architecture name -> the module whose `@register(name)` class builds it (imported by
# `registry.py` when a model is built); the CLI's help lists the names without importing torch.
ARCH_MODULES = {"lstm-attention": "speechlang.nmt.lstm_attention", "transformer": "speechlang.nmt.transformer"}
