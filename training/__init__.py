"""Operators teach the cameras: reviewed cases become a training set and a better model.

Neither the edge agent nor the aggregator service runs these stages: they are batch
jobs over the aggregator's database and evidence, run where a GPU is (or on a CPU for a
small try), and their product goes back to the edge through the model catalogue.

    reviewed cases ─(dataset.py: which events, which labels, which split)─► samples
      ─(export.py: images, YOLO labels, data.yaml, dataset card)─► a dataset folder
      ─(train.py: ultralytics fine-tune, offline)─► weights + a catalogue entry
      ─(compare.py: `gridwatch eval` for two models)─► the difference per rule

``vocabulary.py`` is the schema of ``configs/training.yaml`` (event boxes and what else
the edge saw → training classes → the rules' words); ``cli.py`` holds the ``gridwatch
dataset`` and ``gridwatch model`` commands.
"""
