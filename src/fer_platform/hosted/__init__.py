"""Train recipes on a host that has only Python, Keras and an accelerator (a lent GPU box), then import here.

Such a host gets the working tree plus an image pack (`fer_platform.data.pack`), and returns a few files.
It has no MLflow, DVC or Prefect, so:

  train   (there) unpacks the images with the normal reader, trains each architecture of params.yaml in its own
          process with the same `train_architecture` code (tracking off, a wall-clock deadline), evaluates the
          selected epoch with the same evaluation code, and bundles results plus weights-only models into OUT.
  import  (here) checks that params.yaml and the dataset are the ones the host trained on (the checkpoint
          fingerprint), then installs returned weights as a finished checkpoint (one already there is moved to
          its superseded/ folder, never overwritten), so `dvc repro train@ARCH` logs the run (with every epoch)
          to MLflow and the pipeline evaluates and promotes it as usual. An architecture whose weights were too
          large to return is logged to MLflow from its results alone.

  python -m fer_platform.hosted train --images-pack PACK --out OUT --arch cnn --arch vgg19 ...
  python -m fer_platform.hosted import RESULTS_DIR
"""
