"""Speech recognition: Kaldi data dirs, features, GMM-HMM training, alignment, decoding, WER.

    speechlang asr features data/train exp/feats/train && speechlang asr train-mono ...

Modules after the steps of the recipe: datadir (Kaldi data dirs), audio (reading, resampling),
features (MFCC/fbank, deltas, CMVN) and featfile (feature dirs), lexicon, tree (state tying),
gmm, hmm (topology, training graphs, Viterbi, forward-backward), model (model dirs), train
(mono, tri), align and alignfile (alignments, CTM), decoder (graph and beam search), score
(WER); numba kernels in _kernels.
"""
