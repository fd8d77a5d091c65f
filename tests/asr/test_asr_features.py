"""Features against kaldi-native-fbank frames, an independent numpy port of Kaldi's
definitions, hand-written delta/CMVN formulas; resampling against an analytic sine."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from speechlang.asr.audio import add_noise, change_speed, load_audio, resample, reverberate
from speechlang.asr.featfile import read_feats
from speechlang.asr.features import (
    FeatureConfig,
    add_deltas,
    augment,
    check_features,
    compute_feats,
    fbank,
    mel_banks,
    mfcc,
    speech_frames,
    vtln_warp_freq,
)
from speechlang.errors import ConfigError, SpeechlangError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "asr"


@pytest.fixture(scope="module")
def ref():
    return np.load(FIX / "knf_ref.npz")


def test_mfcc_matches_kaldi_native_fbank(ref):
    got = mfcc(torch.from_numpy(ref["x"]), FeatureConfig()).numpy()
    assert got.shape == ref["mfcc"].shape == (1 + (4800 - 400) // 160, 13)
    np.testing.assert_allclose(got, ref["mfcc"], atol=2e-3, rtol=1e-4)


def test_fbank_matches_kaldi_native_fbank(ref):
    x = torch.from_numpy(ref["x"])
    got = fbank(x, FeatureConfig(kind="fbank", num_mel_bins=40, use_energy=False)).numpy()
    np.testing.assert_allclose(got, ref["fbank40"], atol=1e-3, rtol=1e-4)
    got = fbank(x, FeatureConfig(kind="fbank", window="hamming", use_energy=True)).numpy()
    np.testing.assert_allclose(got, ref["fbank23_hamming_energy"], atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("warp", [0.85, 1.15])
def test_vtln_mel_banks_match_kaldi_native_fbank(ref, warp):
    got = mel_banks(23, 512, 16000.0, 20.0, 0.0, warp).numpy()[:, :257]
    np.testing.assert_allclose(got, ref[f"mel23_warp{warp}"], atol=5e-5)
    assert not np.allclose(got, mel_banks(23, 512, 16000.0, 20.0, 0.0).numpy()[:, :257], atol=1e-2)


def test_vtln_warp_is_piecewise_linear_with_fixed_ends():
    f = torch.linspace(0, 8000, 8001, dtype=torch.float64)
    for warp in (0.8, 1.0, 1.2):
        g = vtln_warp_freq(f, warp, 20.0, 8000.0, 100.0, 7500.0)
        assert float(g[20]) == pytest.approx(20.0) and float(g[8000]) == pytest.approx(8000.0)
        assert float(g[10]) == 10.0  # below low_freq: unchanged
        assert bool((g[1:] > g[:-1]).all())  # monotone, hence invertible
        if warp == 1.0:
            np.testing.assert_allclose(g, f)
        mid = torch.tensor([1000.0, 3000.0], dtype=torch.float64)
        np.testing.assert_allclose(vtln_warp_freq(mid, warp, 20.0, 8000.0, 100.0, 7500.0), mid / warp)
    with pytest.raises(Exception, match="vtln-warp"):
        FeatureConfig(vtln_warp=3.0)


def _kaldi_mfcc_frame(frame: np.ndarray, rate: int, num_bins: int, num_ceps: int, lifter: float,
                      window: str, raw_energy: bool) -> np.ndarray:
    """Kaldi's MFCC of one frame (16-bit scaled samples), written from the definitions with loops."""
    n = len(frame)
    w = frame.astype(np.float64).copy()
    w -= w.mean()
    energy_raw = math.log(max((w * w).sum(), np.finfo(np.float32).eps))
    for i in range(n - 1, 0, -1):
        w[i] -= 0.97 * w[i - 1]
    w[0] -= 0.97 * w[0]
    for i in range(n):
        c = math.cos(2 * math.pi * i / (n - 1))
        w[i] *= (0.5 - 0.5 * c) ** 0.85 if window == "povey" else 0.54 - 0.46 * c
    energy = energy_raw if raw_energy else math.log(max((w * w).sum(), np.finfo(np.float32).eps))
    padded = 1 << (n - 1).bit_length()
    spec = np.fft.rfft(w, padded)
    power = spec.real ** 2 + spec.imag ** 2

    def mel(f):
        return 1127.0 * math.log(1 + f / 700.0)
    lo, hi = mel(20.0), mel(rate / 2)
    d = (hi - lo) / (num_bins + 1)
    energies = []
    for b in range(num_bins):
        left, center, right = lo + b * d, lo + (b + 1) * d, lo + (b + 2) * d
        e = 0.0
        for k in range(padded // 2):
            m = mel(k * rate / padded)
            if left < m < right:
                e += power[k] * ((m - left) / (center - left) if m <= center else
                                 (right - m) / (right - center))
        energies.append(math.log(max(e, np.finfo(np.float32).eps)))
    ceps = []
    for k in range(num_ceps):
        s = sum(energies[j] * math.cos(math.pi / num_bins * (j + 0.5) * k) for j in range(num_bins))
        s *= math.sqrt((1.0 if k == 0 else 2.0) / num_bins)
        ceps.append(s * (1 + 0.5 * lifter * math.sin(math.pi * k / lifter) if lifter else 1))
    ceps[0] = energy
    return np.array(ceps)


@pytest.mark.parametrize("window,raw,lifter,num_ceps,rate", [
    ("povey", True, 22.0, 13, 16000), ("hamming", False, 0.0, 20, 16000), ("povey", True, 22.0, 13, 8000)])
def test_mfcc_matches_numpy_port_of_kaldi(ref, window, raw, lifter, num_ceps, rate):
    x = ref["x"].astype(np.float64)
    cfg = FeatureConfig(sample_rate=rate, window=window, raw_energy=raw, cepstral_lifter=lifter,
                        num_ceps=num_ceps, num_mel_bins=23)
    got = mfcc(torch.from_numpy(ref["x"]), cfg).numpy()
    n, shift = cfg.frame_length, cfg.frame_shift
    assert got.shape[0] == 1 + (len(x) - n) // shift
    for t in (0, 7, got.shape[0] - 1):
        want = _kaldi_mfcc_frame(x[t * shift:t * shift + n] * 32768, rate, 23, num_ceps, lifter,
                                 window, raw)
        np.testing.assert_allclose(got[t], want, atol=2e-3, rtol=1e-4)


def test_deltas_are_kaldis_regression_window():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, 3)).astype(np.float32)
    got = add_deltas(torch.from_numpy(x), order=2, window=2).numpy()

    def delta(y):
        t = len(y)
        out = np.zeros_like(y, dtype=np.float64)
        for i in range(t):
            for n in (1, 2):
                out[i] += n * (y[min(i + n, t - 1)] - y[max(i - n, 0)])
        return out / 10.0
    np.testing.assert_allclose(got[:, :3], x, atol=1e-6)
    np.testing.assert_allclose(got[:, 3:6], delta(x), atol=1e-5)
    # Kaldi's second order filter is the first convolved with itself: equal away from the edges
    np.testing.assert_allclose(got[4, 6:], delta(delta(x))[4], atol=1e-5)


def test_resample_keeps_a_sine():
    t = np.arange(22050) / 22050
    x = torch.from_numpy(np.sin(2 * np.pi * 440 * t).astype(np.float32))
    y = resample(x, 22050, 16000).numpy()
    assert len(y) == 16000
    want = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    np.testing.assert_allclose(y[200:-200], want[200:-200], atol=2e-3)


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_change_speed_scales_tempo_and_pitch(factor):
    """Played `factor` times faster: a 440 Hz tone of 1 s becomes a 440*factor Hz tone of
    1/factor s (sox `speed`)."""
    x = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
    y = change_speed(x, 16000, factor)
    assert len(y) == math.ceil(16000 / factor)
    want = np.sin(2 * np.pi * 440 * factor * np.arange(len(y)) / 16000)
    np.testing.assert_allclose(y[200:-200], want[200:-200], atol=2e-3)
    assert change_speed(x, 16000, 1.0) is x


def test_speed_perturbed_features(tmp_path):
    """--speed F: 1/F as many samples, hence frames, and F recorded in feats.json; a factor out
    of range is refused."""
    rng = np.random.default_rng(2)
    d = _datadir(tmp_path, {"aa-1": (0.1 * rng.standard_normal(16000)).astype(np.float32)})
    compute_feats(d, tmp_path / "f1", FeatureConfig(), device="cpu")
    compute_feats(d, tmp_path / "f2", FeatureConfig(speed=1.25), device="cpu")
    a, b = read_feats(tmp_path / "f1"), read_feats(tmp_path / "f2")
    assert len(a["aa-1"]) == 98 and len(b["aa-1"]) == 1 + (12800 - 400) // 160
    assert b.config["speed"] == 1.25 and a.config["speed"] == 1.0
    with pytest.raises(ConfigError, match="--speed"):
        FeatureConfig(speed=3.0)


def test_reverberate_builds_the_room_response():
    """An impulse comes out as the response itself: direct path at 0, tail from 1 ms on with
    the asked direct-to-reverberant ratio and a 60 dB fall over RT60; length and RMS kept."""
    x = np.zeros(16000, np.float32)
    x[0] = 1.0
    y = reverberate(x, 16000, 0.4, 6.0, np.random.default_rng(0)).astype(np.float64)
    assert len(y) == 16000 and np.sqrt(np.mean(y * y)) == pytest.approx(np.sqrt(1 / 16000), rel=1e-5)
    assert np.all(np.abs(y[1:16]) < 1e-6 * y[0])  # FFT rounding only
    tail = y[16:]
    assert 10 * np.log10(y[0] ** 2 / np.sum(tail ** 2)) == pytest.approx(6.0, abs=1e-4)
    assert np.all(np.abs(tail[6400:]) < 1e-6 * y[0])  # 0.4 s of response past the direct path
    e = [np.sum(tail[a:a + 1600] ** 2) for a in (0, 3200)]  # 0.2 s apart: 30 dB down
    assert 10 * np.log10(e[0] / e[1]) == pytest.approx(30, abs=2)


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
def test_add_noise_snr_and_color(beta):
    """The added noise is snr_db below the signal's power and its power spectrum falls as
    1/f^beta (log-log slope -beta)."""
    rng = np.random.default_rng(3)
    x = (0.1 * rng.standard_normal(64000)).astype(np.float32)
    n = add_noise(x, 12.0, beta, rng).astype(np.float64) - x
    assert 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean(n * n)) == pytest.approx(12.0, abs=1e-3)
    p = np.abs(np.fft.rfft(n)[1:]) ** 2
    f = np.arange(1, p.size + 1)
    bands = np.logspace(1, np.log10(f[-1]), 12).astype(int)
    lp = [np.log(p[a - 1:b - 1].mean()) for a, b in zip(bands[:-1], bands[1:], strict=True)]
    lf = [np.log(np.sqrt(a * b)) for a, b in zip(bands[:-1], bands[1:], strict=True)]
    assert np.polyfit(lf, lp, 1)[0] == pytest.approx(-beta, abs=0.15)


def test_augment_draws_per_utterance():
    """augment: nothing without --reverb/--noise-snr; otherwise each (seed, utterance) gives one
    copy, whatever utterance was augmented before, and other utterances or seeds give others."""
    x = (0.1 * np.random.default_rng(4).standard_normal(8000)).astype(np.float32)
    assert augment(x, FeatureConfig(), "a") is x
    cfg = FeatureConfig(reverb=0.3, noise_snr=5.0)
    a = augment(x, cfg, "a")
    augment(x, cfg, "b")  # another utterance in between does not move the draws of "a"
    assert np.array_equal(a, augment(x, cfg, "a"))
    assert not np.allclose(a, augment(x, cfg, "b")) and not np.allclose(a, augment(x, cfg, "a", seed=1))
    assert len(a) == len(x) and not np.allclose(a, x)


def test_augmented_features(tmp_path):
    """--reverb / --noise-snr copies have the clean copy's frames (so its alignment serves),
    other values, the settings in feats.json, and pass as views of a clean model's features;
    values out of range are refused."""
    rng = np.random.default_rng(2)
    d = _datadir(tmp_path, {"aa-1": (0.1 * rng.standard_normal(16000)).astype(np.float32)})
    compute_feats(d, tmp_path / "f1", FeatureConfig(), device="cpu")
    compute_feats(d, tmp_path / "f2", FeatureConfig(reverb=0.5, noise_snr=10.0), device="cpu")
    a, b = read_feats(tmp_path / "f1"), read_feats(tmp_path / "f2")
    assert a["aa-1"].shape == b["aa-1"].shape and not np.allclose(a["aa-1"], b["aa-1"])
    assert (b.config["reverb"], b.config["noise_snr"]) == (0.5, 10.0)
    check_features(b.config, a.config, "f2", "model")
    with pytest.raises(SpeechlangError, match="num_mel_bins"):
        check_features({**b.config, "num_mel_bins": 40}, a.config, "f2", "model")
    with pytest.raises(ConfigError, match="--reverb"):
        FeatureConfig(reverb=3.0)
    with pytest.raises(ConfigError, match="--noise-snr"):
        FeatureConfig(noise_snr=100.0)


@pytest.mark.parametrize("args", [("--reverb", "-1"), ("--noise-snr", "70"), ("--noise-snr", "x")])
def test_augment_options_refused_by_cli(cli, tmp_path, args):
    """A bad --reverb or --noise-snr is one error line and a non-zero exit; nothing written."""
    d = _datadir(tmp_path, {"aa-1": np.zeros(16000, np.float32)})
    r = cli("asr", "features", d, tmp_path / "out", *args)
    assert r.exit_code != 0 and args[0] in r.stderr and not (tmp_path / "out").exists()


def _datadir(tmp: Path, utts: dict[str, np.ndarray], rate: int = 16000) -> Path:
    d = tmp / "data"
    (tmp / "audio").mkdir(parents=True)
    d.mkdir()
    for u, x in utts.items():
        soundfile.write(tmp / "audio" / f"{u}.wav", x, rate, subtype="FLOAT")
    (d / "wav.scp").write_text("".join(f"{u} audio/{u}.wav\n" for u in sorted(utts)))
    (d / "text").write_text("".join(f"{u} a\n" for u in sorted(utts)))
    (d / "utt2spk").write_text("".join(f"{u} {u[:2]}\n" for u in sorted(utts)))
    spk = {}
    for u in sorted(utts):
        spk.setdefault(u[:2], []).append(u)
    (d / "spk2utt").write_text("".join(f"{s} {' '.join(v)}\n" for s, v in sorted(spk.items())))
    return d


def test_compute_feats_cmvn_per_speaker_and_format(tmp_path):
    rng = np.random.default_rng(1)
    utts = {f"{s}-{i}": (0.1 * rng.standard_normal(4000 + 800 * i)).astype(np.float32)
            for s in ("aa", "bb") for i in range(2)}
    d = _datadir(tmp_path, utts)
    cfg = FeatureConfig(cmvn="speaker", delta_order=1)
    compute_feats(d, tmp_path / "f", cfg, device="cpu")
    fa = read_feats(tmp_path / "f")
    assert fa.dim == 26 and len(fa) == 4
    raw = {u: mfcc(torch.from_numpy(x), cfg).numpy() for u, x in utts.items()}
    for s in ("aa", "bb"):
        us = [u for u in utts if u.startswith(s)]
        mean = np.concatenate([raw[u] for u in us]).mean(0)
        for u in us:
            assert fa[u].shape[0] == 1 + (len(utts[u]) - 400) // 160
            np.testing.assert_allclose(fa[u][:, :13], raw[u] - mean, atol=1e-3)
        np.testing.assert_allclose(np.concatenate([fa[u][:, :13] for u in us]).mean(0), 0, atol=1e-3)


def _tone_in_noise(rng, noise_color: str, gain: float) -> np.ndarray:
    """0.5 s of noise, 1 s of a vowel-like sound (harmonics of 150 Hz over a fixed broadband
    signal: the same in every call), 0.5 s of noise."""
    t = np.arange(16000) / 16000
    tone = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 20))
    tone += 0.3 * np.random.default_rng(0).standard_normal(16000)
    noise = rng.standard_normal(32000)
    if noise_color == "brown":
        noise = np.cumsum(noise)
        noise -= np.convolve(noise, np.ones(401) / 401, mode="same")  # no drift
    noise *= 0.003 / noise.std()
    x = noise.copy()
    x[8000:24000] = 0.1 * tone
    return (gain * x).astype(np.float32)


def test_speech_frames_find_the_loud_segment():
    """The energy VAD keeps the frames of the tone and drops the noise, at any gain."""
    rng = np.random.default_rng(3)
    cfg = FeatureConfig()
    for gain in (0.01, 1.0):
        m = speech_frames(torch.from_numpy(_tone_in_noise(rng, "white", gain)), cfg).numpy()
        starts = np.arange(len(m)) * 160
        inside = (starts >= 8000) & (starts + 400 <= 24000)
        outside = (starts + 400 <= 8000) | (starts >= 24000)
        assert m[inside].all() and not m[outside].any()
    period = np.sin(2 * np.pi * np.arange(16) / 16).astype(np.float32)  # 1 kHz: every frame the same
    steady = torch.from_numpy(np.tile(period, 500))
    assert speech_frames(steady, cfg).all()  # no loud part: every frame counts


def test_cmvn_over_speech_frames_ignores_the_noise_between_words(tmp_path):
    """--cmvn-frames speech: the mean of the VAD's frames is removed, so the same speech
    between white or brown noise gets the same normalized features, which CMVN over all
    frames does not give (its mean mixes in the noise spectrum)."""
    rng = np.random.default_rng(4)
    utts = {"aa-1": _tone_in_noise(rng, "white", 1.0), "bb-1": _tone_in_noise(rng, "brown", 1.0)}
    d = _datadir(tmp_path, utts)
    speech, whole = {}, {}
    for frames, out in (("speech", speech), ("all", whole)):
        compute_feats(d, tmp_path / frames, FeatureConfig(cmvn_frames=frames, delta_order=0),
                      device="cpu")
        f = read_feats(tmp_path / frames)
        assert f.config["cmvn_frames"] == frames
        out.update({u: f[u][60:140] for u in utts})  # frames inside the tone
    for u, x in utts.items():
        m = speech_frames(torch.from_numpy(x), FeatureConfig()).numpy()
        np.testing.assert_allclose(read_feats(tmp_path / "speech")[u][m].mean(0), 0, atol=1e-3)
    gap = lambda f: np.abs(f["aa-1"] - f["bb-1"]).mean()  # noqa: E731
    assert gap(speech) < 0.05 and gap(whole) > 4 * gap(speech)
    with pytest.raises(ConfigError, match="--cmvn-frames"):
        FeatureConfig(cmvn_frames="voiced")


def test_transcribe_features_equal_the_feature_dirs(tmp_path):
    """transcribe normalizes each file on its own: the same as a feature dir with per-utterance
    CMVN, over all frames or the VAD's frames."""
    from speechlang.asr.transcribe import file_features

    rng = np.random.default_rng(5)
    d = _datadir(tmp_path, {"aa-1": _tone_in_noise(rng, "brown", 0.5)})
    for frames in ("all", "speech"):
        cfg = FeatureConfig(cmvn="utterance", cmvn_frames=frames)
        compute_feats(d, tmp_path / frames, cfg, device="cpu")
        got, seconds = file_features(tmp_path / "audio" / "aa-1.wav", cfg)
        np.testing.assert_allclose(got, read_feats(tmp_path / frames)["aa-1"], atol=1e-4)
        assert seconds == 2.0


def test_audio_at_another_rate_is_resampled(tmp_path):
    x = (0.1 * np.sin(2 * np.pi * 300 * np.arange(8000) / 8000)).astype(np.float32)
    soundfile.write(tmp_path / "a.flac", x, 8000)
    y = load_audio(tmp_path / "a.flac", 16000)
    assert len(y) == 16000
    np.testing.assert_allclose(y[400:-400], 0.1 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000)[400:-400],
                               atol=2e-3)


def test_segments_and_ogg_input(tmp_path):
    """Two utterances cut from one OGG recording by `segments`; frames as for the cut audio."""
    rng = np.random.default_rng(2)
    x = (0.2 * np.sin(2 * np.pi * 500 * np.arange(32000) / 16000)
         + 0.01 * rng.standard_normal(32000)).astype(np.float32)
    (tmp_path / "audio").mkdir()
    soundfile.write(tmp_path / "audio" / "rec.ogg", x, 16000, format="OGG", subtype="VORBIS")
    d = tmp_path / "data"
    d.mkdir()
    (d / "wav.scp").write_text("rec audio/rec.ogg\n")
    (d / "segments").write_text("sp-1 rec 0.0 0.5\nsp-2 rec 0.75 1.9\n")
    (d / "text").write_text("sp-1 a\nsp-2 b\n")
    (d / "utt2spk").write_text("sp-1 sp\nsp-2 sp\n")
    (d / "spk2utt").write_text("sp sp-1 sp-2\n")
    compute_feats(d, tmp_path / "f", FeatureConfig(cmvn="none", delta_order=0), device="cpu")
    fa = read_feats(tmp_path / "f")
    assert fa["sp-1"].shape == (1 + (8000 - 400) // 160, 13)
    assert fa["sp-2"].shape == (1 + (18400 - 400) // 160, 13)
    whole = load_audio(tmp_path / "audio" / "rec.ogg", 16000)
    want = mfcc(torch.from_numpy(whole[12000:30400]), FeatureConfig()).numpy()
    np.testing.assert_allclose(fa["sp-2"], want, atol=1e-3)


def test_zero_sample_audio_is_an_error(tmp_path):
    soundfile.write(tmp_path / "z.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(Exception, match="empty"):
        load_audio(tmp_path / "z.wav", 16000, name="u1")
