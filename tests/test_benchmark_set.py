"""benchmarks/benchmark_set.py: which trajectory frames it scores."""


def test_frames_are_at_most_n_evenly_spaced_from_the_first(load_script):
    """A 10-frame trajectory gives all 10 with --frames 10 (session 20's first run took every 10th
    frame and scored one); longer ones are spaced evenly from frame 0, shorter ones kept whole."""
    frames_of = load_script("benchmark_set", "benchmarks").frames_of
    assert frames_of(10, 10) == list(range(10))
    assert frames_of(5, 10) == [0, 1, 2, 3, 4]
    assert frames_of(1, 10) == [0]
    assert frames_of(100, 10) == list(range(0, 100, 10))
    assert frames_of(98, 10) == list(range(0, 90, 9))
    assert frames_of(102, 5) == [0, 20, 40, 60, 80]
