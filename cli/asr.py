"""`speechlang asr`: GMM-HMM and hybrid DNN-HMM speech recognition on Kaldi-style data dirs."""

from __future__ import annotations

from speechlang.cli._util import make_app

app = make_app("GMM-HMM and hybrid DNN-HMM speech recognition on Kaldi-style data dirs.")
