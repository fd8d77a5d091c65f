"""The `speechlang` command line (installed as `speechlang.cli`): one Typer app per group."""

from typing import NamedTuple


class Group(NamedTuple):
    module: str  # the module holding the group's `app` (a typer.Typer)
    help: str  # one sentence: the group's help, and its line in `speechlang --help`


# In the order `speechlang --help` lists them. The root's help reads this table, so it imports
# no group module (nor torch); each group module takes its help from here.
GROUPS = {
    "ngram": Group("speechlang.cli.ngram", "Smoothed and backoff n-gram language models (ARPA in and out)."),
    "w2v": Group("speechlang.cli.w2v", "Skip-gram word vectors with negative sampling or hierarchical softmax."),
    "asr": Group("speechlang.cli.asr", "GMM-HMM and hybrid DNN-HMM speech recognition on Kaldi-style data dirs."),
    "nmt": Group("speechlang.cli.nmt", "Sequence-to-sequence translation with attention, beam search and BLEU."),
    "vision": Group("speechlang.cli.vision",
                    "CNN image classification with preprocessing, augmentation and compression."),
    "accel": Group("speechlang.cli.accel",
                   "The shared CPU/GPU layer: devices, threads, speed figures, training-loop check."),
    "report": Group("speechlang.cli.report",
                    "The metric records of an experiment folder as a markdown table, training curves as a PNG."),
}
