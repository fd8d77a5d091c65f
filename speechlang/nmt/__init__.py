"""Sequence-to-sequence translation: subwords, seq2seq models, training, beam search, scoring.

    speechlang nmt prepare | train | translate | average | score   (see docs/nmt.md)

Modules, one per step: corpus (parallel text, filters), subword (sentencepiece), words (word
vocabularies), encoded (the prepared-data format), prepare, registry (architectures),
lstm_attention, transformer, output (full, sampled and hierarchical softmax), train,
model_parallel (the Transformer over two processes), search (greedy, beam, ensembles),
translate, average, score.
"""
