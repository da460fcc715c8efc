"""The continuation Transformer: cache, training, seeded batched sampling, grammar, checkpoints.

All models here are tiny (a few thousand parameters) so the file runs in seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from generation.ml.sampling import SampleSettings, filter_top_p, sample
from generation.ml.train_transformer import load_checkpoint, save_checkpoint
from generation.ml.transformer import TransformerConfig
from generation.music.notes import Note, Part, Piece
from generation.music.tokenizer import Grammar, Tokenizer

TOK = Tokenizer()


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models run fastest on one thread (a second one only adds synchronisation)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def prompt(style="chorale", mode="major", meter=(4, 4)) -> list[int]:
    return TOK.prefix(style, mode, "moderate", "middle", meter)


def seed_piece() -> Piece:
    soprano = [Note(float(i), 67 + (i % 3), 1.0, 78) for i in range(8)]
    bass = [Note(float(2 * i), 48 + (i % 2) * 5, 2.0, 78) for i in range(4)]
    return Piece(parts=[Part(soprano, program=0), Part(bass, program=32)])


def test_logits_with_and_without_kv_cache_agree(tiny_model):
    model = tiny_model()
    ids = torch.tensor([prompt() + TOK.encode(seed_piece())])
    full, _ = model(ids)
    cache = model.new_cache()
    steps = [model(ids[:, :10], kv_cache=cache)[0]]
    for t in range(10, ids.shape[1]):
        steps.append(model(ids[:, t:t + 1], kv_cache=cache)[0])
    incremental = torch.cat(steps, dim=1)
    assert torch.allclose(full, incremental, atol=1e-5)


def test_left_padding_with_key_mask_matches_unpadded(tiny_model):
    model = tiny_model()
    seq = prompt() + TOK.encode(seed_piece())[:20]
    alone, _ = model(torch.tensor([seq]))
    pad = 7
    idx = torch.tensor([[TOK.pad] * pad + seq])
    key_mask = torch.tensor([[False] * pad + [True] * len(seq)])
    positions = torch.tensor([[0] * pad + list(range(len(seq)))])
    padded, _ = model(idx, positions=positions, key_mask=key_mask)
    assert torch.allclose(alone[0], padded[0, pad:], atol=1e-5)


def test_a_tiny_model_overfits_a_tiny_batch(tiny_model):
    torch.manual_seed(0)
    model = tiny_model()
    model.train()
    seq = torch.tensor([prompt() + TOK.encode(seed_piece())])[:, :49]
    x, y = seq[:, :-1], seq[:, 1:]
    opt = torch.optim.AdamW(model.parameters(), lr=2e-2)
    first = None
    for _ in range(120):
        _, loss = model(x, y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 5.0  # about ln(vocab) at the start
    assert loss.item() < 0.5


def test_the_same_seed_gives_the_same_notes_alone_and_batched(tiny_model):
    model = tiny_model()
    cfg = SampleSettings(bars=2, temperature=1.0, top_p=0.95)
    a = prompt()
    b = prompt("celtic", "minor", (6, 8)) + TOK.encode(seed_piece())[:0]
    long_prompt = prompt() + TOK.encode(seed_piece())
    alone = sample(model, TOK, [a], [11], cfg)[0]
    batched = sample(model, TOK, [b, long_prompt, a, a], [5, 6, 11, 12], cfg)
    assert batched[2] == alone
    assert batched[3] != alone  # another seed, another piece (not a constant sampler)
    again = sample(model, TOK, [long_prompt], [6], cfg)[0]
    assert batched[1] == again  # the padded-to-nothing long row also matches alone


def test_sampling_stops_after_the_requested_number_of_bars(tiny_model):
    model = tiny_model()
    for bars in (1, 3):
        out = sample(model, TOK, [prompt()], [3], SampleSettings(bars=bars))[0]
        assert out.count(TOK.bar) == bars
        assert out[0] == TOK.bar


def test_sampling_slides_past_the_context_and_stays_grammatical(tiny_model):
    model = tiny_model(block_size=32)
    cfg = SampleSettings(bars=4, max_new_tokens=120)
    out = sample(model, TOK, [prompt()], [2], cfg, max_context=40)[0]
    assert len(out) > 40  # well past the context: the window slid at least once
    Grammar(TOK).feed_all(prompt() + out)  # raises on a broken sequence
    again = sample(model, TOK, [prompt()], [2], cfg, max_context=40)[0]
    assert again == out  # sliding is deterministic


def test_top_p_keeps_the_smallest_nucleus():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64)
    kept = filter_top_p(probs, 0.75)
    assert kept.tolist() == [0.5, 0.3, 0.0, 0.0]
    assert filter_top_p(probs, 0.01).tolist() == [0.5, 0.0, 0.0, 0.0]


@settings(max_examples=15, deadline=None)
@given(st.integers(min_value=0, max_value=2**31 - 1), st.floats(0.3, 3.0))
def test_constrained_decoding_never_emits_an_ill_formed_sequence(seed, temperature):
    """Random logits (a model that has learnt nothing) still give decodable sequences."""

    class RandomModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.config = TransformerConfig(vocab_size=TOK.vocab_size, block_size=256)
            self.gen = torch.Generator().manual_seed(seed)

        def new_cache(self):
            return None

        def forward(self, idx, kv_cache=None, positions=None, key_mask=None):
            return torch.randn(idx.shape[0], idx.shape[1], TOK.vocab_size,
                               generator=self.gen) * 4, None

    meter = [(4, 4), (3, 4), (6, 8), (3, 2)][seed % 4]
    p = prompt(meter=meter)
    cfg = SampleSettings(bars=3, temperature=temperature, top_p=1.0, max_new_tokens=300,
                         meter_changes=bool(seed % 2))
    out = sample(RandomModel(), TOK, [p], [seed], cfg)[0]
    Grammar(TOK).feed_all(p + out)
    piece = TOK.decode(p + out)
    bar = piece.bar_beats
    for part in piece.parts:
        for n in part.notes:
            if len(piece.time_signatures) == 1:
                assert 0 <= n.onset < 3 * bar
            assert n.duration > 0 and 21 <= n.pitch <= 108
    from generation.music.notes import piece_from_midi, piece_to_midi_bytes

    again = piece_from_midi(piece_to_midi_bytes(piece))
    assert again.note_count == piece.note_count


def test_a_checkpoint_saves_and_loads_to_identical_outputs(tmp_path, tiny_model):
    model = tiny_model(seed=3)
    save_checkpoint(tmp_path, model, TOK, {"step": 0})
    loaded, tok, meta = load_checkpoint(tmp_path)
    assert tok.config == TOK.config
    assert meta["model"]["n_embd"] == 32
    ids = torch.tensor([prompt() + TOK.encode(seed_piece())])
    assert torch.equal(model(ids)[0], loaded(ids)[0])
    cfg = SampleSettings(bars=2)
    assert sample(model, TOK, [prompt()], [9], cfg) == sample(loaded, tok, [prompt()], [9], cfg)


def test_continuation_keeps_the_seed_notes_exactly(tmp_path, tiny_model):
    from generation.ml.compose import continue_piece, load_model

    model = tiny_model(seed=4)
    save_checkpoint(tmp_path, model, TOK, {"step": 0})
    seed = seed_piece()
    # an off-grid note (a 32nd-note triplet) must survive verbatim, not re-quantized
    seed.parts[0].notes.append(Note(8.0 + 1 / 24, 72, 0.3, 61))
    engine = load_model(tmp_path)
    out = continue_piece(seed, bars=2, seed=5, variants=2, model=engine)
    assert len(out) == 2
    for g in out:
        # every seed part comes back, in order: a dropped part must fail here
        assert len(g.piece.parts) == len(seed.parts)
        for orig, new in zip(seed.parts, g.piece.parts, strict=True):
            kept = [n for n in new.notes if n.onset < g.boundary_beat]
            assert kept == sorted(orig.notes)
        assert g.boundary_beat == pytest.approx(12.0)  # seed reaches into bar 3 of 4/4
        assert g.piece.end_beat <= g.boundary_beat + 2 * 4.0 + 16
        assert g.model_version == engine.version and len(g.model_version) == 12


def test_model_version_is_the_weights_hash(tmp_path, tiny_model):
    import hashlib

    from generation.ml.compose import load_model

    save_checkpoint(tmp_path, tiny_model(seed=1), TOK, {"step": 0})
    digest = hashlib.sha256((tmp_path / "model.safetensors").read_bytes()).hexdigest()
    assert load_model(tmp_path).version == digest[:12]


def test_token_windows_carry_their_own_excerpt_attributes():
    from generation.ml.token_data import modes_of_histograms
    from generation.music.key import estimate_mode

    rng = np.random.default_rng(0)
    for _ in range(20):
        notes = [Note(float(i) * 0.5, int(p), float(d), 78) for i, (p, d) in
                 enumerate(zip(rng.integers(55, 80, 12), rng.choice([0.5, 1.0, 2.0], 12),
                               strict=True))]
        piece = Piece(parts=[Part(notes)])
        hist = np.zeros(12)
        for n in notes:
            hist[n.pitch % 12] += n.duration
        got = ["major", "minor"][int(modes_of_histograms(hist[None])[0])]
        assert got == estimate_mode(piece)


def test_reranking_keeps_the_candidate_that_matches_the_request_best(tmp_path, tiny_model):
    from generation.ml.compose import _candidate_seed, _matches, compose, load_model

    save_checkpoint(tmp_path, tiny_model(seed=6), TOK, {"step": 0})
    engine = load_model(tmp_path)
    attrs = {"mode": "minor", "density_band": "sparse", "register_band": "high"}
    best = compose(attrs, "german_folk", bars=1, seed=21, variants=2, model=engine,
                   candidates=3)
    reranked = 0
    for v, b in enumerate(best):
        assert b.seed == 21 + v
        # each candidate alone: rows sample independently, so candidate c of this variant is
        # what plain sampling gives at the candidate's seed
        alone = [compose(attrs, "german_folk", bars=1, seed=_candidate_seed(b.seed, c),
                         variants=1, model=engine, candidates=1)[0] for c in range(3)]
        scores = [_matches(a.piece, attrs) for a in alone]
        first_best = max(range(3), key=lambda c: (scores[c], -c))
        assert b.tokens == alone[first_best].tokens, (scores, v)
        reranked += first_best != 0
    # at these seeds reranking changes a result, so keeping candidate 0 would fail above
    assert reranked >= 1


def test_the_kneser_ney_baseline_is_a_distribution_and_tuning_helps():
    from generation.ml.ngram import KneserNey

    rng = np.random.default_rng(0)
    vocab = 12
    table = rng.dirichlet(np.full(vocab, 0.3), size=vocab)

    def chain(n):
        s = [1]
        for _ in range(n):
            s.append(int(rng.choice(vocab, p=table[s[-1]])))
        return np.array(s)

    train, valid = [chain(200) for _ in range(30)], [chain(200) for _ in range(4)]
    model = KneserNey(order=5, vocab_size=vocab).fit(train)
    for context in (train[0][:9], np.array([1, 7, 7, 7, 7, 7, 7])):  # seen and unseen
        total = sum(model.token_probs([np.append(context, w)])[-1] for w in range(vocab))
        assert total == pytest.approx(1.0, abs=1e-9)
    before, n = model.nll_bits(valid)
    model.tune(valid)
    after, _ = model.nll_bits(valid)
    assert after <= before
    entropy = -(table * np.log2(table)).sum(axis=1).mean()
    assert after / n < entropy + 0.6  # close to the source's true entropy rate
