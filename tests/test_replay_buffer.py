"""The replay contract's sizes: hyperparameters count transitions, the table counts items
(`sac_system/replay_buffer.py`). The item format itself is checked end to end against a
real Reverb server in test_in_process.py."""

import pytest

from sac_system import replay_buffer
from sac_system.train_params_base import TrainParamsBase


class _Params(TrainParamsBase):

  def env_ctor(self, *args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("envs", [1, 3, 32])
def test_rate_limiter_error_buffer_is_accepted_by_reverb_rules(envs):
  for spi, slack in ((256.0, 1000), (0.5, 1), (1.0, 1), (4096.0, 1)):
    params = _Params({
        "hyperparameters": {
            "samples_per_insert": spi,
            "steps_per_item": envs,
            "rate_limiter_slack_items": slack}})
    buffer = replay_buffer.rate_limiter_error_buffer(params)
    # Reverb requires max_diff - min_diff = 2 * error_buffer >= 2 * max(1, samples_per_insert)
    assert buffer >= max(1.0, spi)
    # the slack is counted in transitions, the buffer in item samples
    assert buffer == max(-(-slack // envs) * spi, 1.0, spi)


@pytest.mark.parametrize("envs, steps", [(1, 1), (2, 1), (3, 1), (1, 7), (4, 8), (32, 1), (1000, 1),
                                         (10, 100)])
def test_replay_sizes_in_transitions_become_whole_items(envs, steps):
  params = _Params({
      "hyperparameters": {
          "envs_per_worker": envs,
          "steps_per_item": steps,
          "replay_capacity": 1000,
          "min_size_to_sample": 100}})
  per_item = envs * steps
  # capacity: the whole items that fit; never more transitions than replay_capacity
  capacity = replay_buffer.replay_capacity_items(params)
  assert capacity == max(1, 1000 // per_item)
  if per_item <= 1000:
    assert capacity * per_item <= 1000 < (capacity + 1) * per_item
  # warm-up and minibatches: the fewest items holding at least that many transitions
  for transitions in (1, 99, 100, 101, 999, 1000):
    items = replay_buffer.items_of(params, transitions)
    assert items * per_item >= transitions and (items - 1) * per_item < transitions
  assert replay_buffer.items_of(params, 0) == 1


def test_the_replay_table_is_built_from_the_params():
  """The table Reverb gets: capacity, warm-up and rate limiter in items, the packed column."""
  params = _Params({
      "hyperparameters": {
          "envs_per_worker": 2,
          "steps_per_item": 16,
          "replay_capacity": 10_000,
          "min_size_to_sample": 100,
          "samples_per_insert": 64.0}})
  import tensorflow as tf
  signature = {replay_buffer.COLUMN: tf.TensorSpec([None, 32, 9], tf.float32)}
  table = replay_buffer.make_replay_table(params, signature)
  info = table.info
  assert info.name == "uniform_table" and info.max_size == 10_000 // 32
  limiter = info.rate_limiter_info
  assert limiter.samples_per_insert == 64.0 and limiter.min_size_to_sample == 4  # 100 / 32
  assert info.signature == signature


def test_a_run_from_before_the_rename_keeps_its_replay_checkpoints(tmp_path):
  """EXP/reverb (the folder's old name) is moved to EXP/replay_buffer with what it holds; an
  existing EXP/replay_buffer is never overwritten."""
  old = tmp_path / "reverb" / "2026-01-01T00:00:00"
  old.mkdir(parents=True)
  (old / "DONE").write_text("")
  path = replay_buffer.checkpoint_dir(str(tmp_path))
  assert path == str(tmp_path / "replay_buffer")
  assert (tmp_path / "replay_buffer" / "2026-01-01T00:00:00" / "DONE").exists()
  assert not (tmp_path / "reverb").exists()
  (tmp_path / "reverb").mkdir()
  assert replay_buffer.checkpoint_dir(str(tmp_path)) == path
  assert (tmp_path / "reverb").exists() and (tmp_path / "replay_buffer"
                                             / "2026-01-01T00:00:00").exists()
